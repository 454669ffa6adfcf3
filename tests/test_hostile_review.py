"""Issue 19 (part A) on the workstation's side: the review page and its store against hostile
input (items 5, 7, 8 and the id/version bits of 16), straight into the real ASGI app and the real
Store with real Ed25519 keys; plus ids ending in a newline at every parser that takes one."""
from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from pathlib import Path

import pytest

from mqtt_helpers import redacted_session

pytest.importorskip("starlette")
PASSWORD = "correct horse battery"


def review_config(root: Path, **review) -> Path:
    from review_rig import free_port, toml_section

    cfg = root / "ws.toml"
    cfg.write_text(toml_section("device", {"id": "ws", "office": "office1"})
                   + toml_section("mqtt", {"host": "127.0.0.1", "port": free_port(), "ca_file": str(root / "none.pem")})
                   + toml_section("review", {"inbox": str(root / "inbox"), **review}))
    return cfg


def make_app(root: Path, device_keys: Path | None = None, **review):
    from roomnote.config import load_config
    from roomnote.review.app import ReviewApp
    from roomnote.review.store import Store

    cfg = load_config(review_config(root, **review))
    return ReviewApp(cfg, Store(Path(cfg.review.inbox), device_keys), send=None)


async def call(app, method: str, path: str, *, query: str = "", body: bytes = b"", client: str = "127.0.0.1",
               headers: list | None = None) -> tuple[int, dict, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8765"), *(headers or [])], "client": (client, 50123),
             "server": ("127.0.0.1", 8765)}
    out: dict = {"body": b""}
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["headers"], out["body"]


def get(app, path: str, query: str = "") -> tuple[int, dict, bytes]:
    return asyncio.run(call(app, "GET", path, query=query))


def write_note(inbox: Path, note, **override) -> None:
    from roomnote.notes import to_dict
    inbox.mkdir(parents=True, exist_ok=True, mode=0o700)
    (inbox / f"{note.note_id}.v{note.version}.json").write_text(json.dumps({**to_dict(note), **override}))


# ---- 16: versions and ids -------------------------------------------------------------------

def test_a_huge_or_odd_version_number_is_not_found_never_an_internal_error(tmp_path):
    _, note = redacted_session("huge-version")
    write_note(tmp_path / "inbox", note)
    app = make_app(tmp_path)
    nid = note.note_id
    for v in ("9" * 5000, "\u00b2", "\u0661", "-1", "1e3", "99"):  # digits int() cannot read, negatives
        for path in (f"/notes/{nid}", f"/notes/{nid}/body", f"/notes/{nid}/note.md", f"/notes/{nid}/note.fhir.json"):
            status, _, _ = get(app, path, "v=" + urllib.parse.quote(v))
            assert status == 404, (path, v[:10], status)
    assert get(app, f"/notes/{nid}", "v=1")[0] == 200
    assert get(app, f"/notes/{nid}\n")[0] == 404  # an id ending in a newline is no id
    assert get(app, f"/notes/{nid}%0A")[0] == 404


def test_ids_and_refs_ending_in_a_newline_are_refused_everywhere():
    from roomnote.audit import content_free
    from roomnote.config import CommandsConfig
    from roomnote.publish.commands import CommandParser, CommandRejected

    parser = CommandParser(CommandsConfig(), None, to="office1/room-a")
    nid = "ab" * 16
    for name, body, reason in [
        ("ping", {"id": "p1\n"}, "malformed"),
        ("consent", {"id": "c1", "session_ref": "ref-1\n"}, "invalid_args"),
        ("finalize", {"id": "f1", "note_id": nid + "\n"}, "invalid_args"),
        ("discard", {"id": "d1", "note_id": nid + "\n"}, "invalid_args"),
        ("ping", {"id": "p2", "to": "office1/room-a\n"}, "malformed"),
    ]:
        with pytest.raises(CommandRejected) as e:
            parser.parse(name, json.dumps(body).encode())
        assert e.value.reason == reason, (name, body)
        assert e.value.cmd_id is None or "\n" not in e.value.cmd_id  # never echoed
    assert parser.parse("consent", json.dumps({"id": "c2", "session_ref": "ref-1"}).encode()).args
    assert content_free({"note_id": nid + "\n"})[1] == ["note_id"]  # not written to the audit log either
    from roomnote.appliance import SESSION_REF
    assert not SESSION_REF.match("ref-1\n") and SESSION_REF.match("ref-1")


def test_deeply_nested_json_is_a_malformed_command_not_an_internal_error():
    from roomnote.config import CommandsConfig
    from roomnote.publish.commands import CommandParser, CommandRejected

    parser = CommandParser(CommandsConfig(max_bytes=262144), None)
    for payload in (b"[" * 100000, b'{"id": "x", "a": ' + b"[" * 50000 + b"]" * 50000 + b"}"):
        with pytest.raises(CommandRejected) as e:
            parser.parse("ping", payload)
        assert e.value.reason in ("malformed", "too_large")
    # brackets inside strings are text, not nesting
    assert parser.parse("revise", json.dumps({"id": "r", "note_id": "ab" * 16,
                                              "instruction": "remove [NAME] " + "[" * 20}).encode())


# ---- 8: the download's file name ------------------------------------------------------------

def test_the_download_name_never_carries_the_boxs_format_field_raw(tmp_path):
    _, note = redacted_session("hostile-format")
    write_note(tmp_path / "inbox", note, format='soap"; filename="evil.html"\r\nSet-Cookie: x=1')
    app = make_app(tmp_path)
    for suffix in ("note.md", "note.txt", "note.fhir.json"):
        status, headers, _ = get(app, f"/notes/{note.note_id}/{suffix}")
        assert status == 200
        cd = headers["content-disposition"]
        assert re.fullmatch(r'attachment; filename="roomnote-[A-Za-z0-9._-]+"', cd), cd
        assert "evil" not in cd and "Set-Cookie" not in cd
    _, good = redacted_session("good-format")
    write_note(tmp_path / "inbox", good)
    status, headers, _ = get(app, f"/notes/{good.note_id}/note.md")
    assert headers["content-disposition"].startswith(f'attachment; filename="roomnote-{good.format}-')


# ---- 7: the login lockout under concurrent guesses ------------------------------------------

def test_a_hundred_concurrent_wrong_passwords_get_five_checks(tmp_path):
    from roomnote.review import security
    from roomnote.review.security import MAX_FAILED_LOGINS, hash_password

    app = make_app(tmp_path, password_hash=hash_password(PASSWORD))
    checks = []
    real_check = security.check_password

    token = app.csrf.token("login")

    async def flood():
        form = lambda pw: urllib.parse.urlencode({"csrf_token": token, "password": pw}).encode()  # noqa: E731
        hdr = [(b"content-type", b"application/x-www-form-urlencoded")]
        return await asyncio.gather(*(call(app, "POST", "/login", body=form(f"guess {i}"), client="192.0.2.9",
                                           headers=hdr) for i in range(100)))

    import roomnote.review.app as app_module
    app_module.check_password = lambda pw, stored: checks.append(1) or real_check(pw, stored)
    try:
        results = asyncio.run(flood())
    finally:
        app_module.check_password = real_check
    codes = sorted(r[0] for r in results)
    assert len(checks) == MAX_FAILED_LOGINS  # the slow check ran five times, not a hundred
    assert codes.count(401) == MAX_FAILED_LOGINS and codes.count(429) == 100 - MAX_FAILED_LOGINS
    # another client is not locked out by these, and the right password still works for it
    status, headers, _ = asyncio.run(call(app, "POST", "/login", client="192.0.2.10",
                                          body=urllib.parse.urlencode({"csrf_token": token,
                                                                       "password": PASSWORD}).encode(),
                                          headers=[(b"content-type", b"application/x-www-form-urlencoded")]))
    assert status == 303 and "roomnote_review=" in headers["set-cookie"]


def test_a_right_password_does_not_use_up_an_attempt(tmp_path):
    from roomnote.review.security import MAX_FAILED_LOGINS, Sessions

    s = Sessions(1.0)
    for _ in range(MAX_FAILED_LOGINS * 2):
        token = s.attempt("192.0.2.1")
        assert token is not None
        s.succeeded("192.0.2.1", token)
    assert all(s.attempt("192.0.2.1") is not None for _ in range(MAX_FAILED_LOGINS))
    assert s.attempt("192.0.2.1") is None


# ---- 5: a receipt binds to the box that owns the note ---------------------------------------

def test_a_receipt_signed_by_another_box_does_not_finalise_a_note(tmp_path):
    from roomnote.publish.keys import load_signing_key, new_ed25519_pair
    from roomnote.publish.messages import make_receipt

    keys = tmp_path / "keys"
    keys.mkdir()
    for dev in ("room-a", "room-b"):
        (keys / f"{dev}.pub.pem").write_bytes(new_ed25519_pair(tmp_path / f"{dev}.key").read_bytes())
    _, note = redacted_session("bound-receipt")
    inbox = tmp_path / "inbox"
    write_note(inbox, note)
    (inbox / "devices.json").write_text(json.dumps({note.note_id: "room-a"}))
    app = make_app(tmp_path, device_keys=keys)
    store = app.store

    def receipt(dev: str):
        r = make_receipt(load_signing_key(tmp_path / f"{dev}.key"), office="office1", device=dev,
                         note_id=note.note_id, note_version=1, note_sha256="", session_id="",
                         action="finalized", destroyed=["redacted_transcript", "session_key"])
        (inbox / "receipts" / f"{r.receipt_id}.json").write_bytes(r.payload)
        return r.receipt_id

    foreign = store.check_receipt(receipt("room-b"))  # a valid signature, by the wrong box
    assert foreign.state == "failed" and "room-a" in foreign.message
    assert store.status(note.note_id, 1) != "finalised"
    _, _, body = get(app, f"/notes/{note.note_id}/note.fhir.json")
    assert json.loads(body).get("docStatus") != "final"
    _, _, page = get(app, f"/notes/{note.note_id}")
    assert b"signed receipt verified" not in page.lower() and b"Signature verified" not in page
    # the box that owns the note: verified, finalised
    for p in (inbox / "receipts").iterdir():
        p.unlink()
    store._cache.clear()
    assert store.check_receipt(receipt("room-a")).state == "verified"
    assert store.status(note.note_id, 1) == "finalised"
    _, _, body = get(app, f"/notes/{note.note_id}/note.fhir.json")
    assert json.loads(body)["docStatus"] == "final"


def test_a_deeply_nested_request_body_is_a_bad_request_not_an_internal_error(tmp_path):
    _, note = redacted_session("deep-body")
    write_note(tmp_path / "inbox", note)
    app = make_app(tmp_path)
    token = app.csrf.token(None).encode()
    for action in ("revise", "format", "edit"):
        status, _, body = asyncio.run(call(app, "POST", f"/notes/{note.note_id}/{action}", body=b"[" * 100000,
                                           headers=[(b"x-csrf-token", token)]))
        assert status == 400 and b"not JSON" in body, (action, status)
