"""The review page's guards, against the real `roomnote review` (and its ASGI app where a test
needs a client address that only another machine could have): CSRF on every POST, a strict
Content-Security-Policy, no network address without TLS and a login, no non-loopback client or
foreign Host without a login, the login itself; plus the word diff and receipt checks."""
from __future__ import annotations

import asyncio
import http.client
import json
import re
import ssl
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from mqtt_helpers import Pki, redacted_session
from review_rig import ReviewServer, free_port, sandbox_env, toml_section

pytest.importorskip("starlette")
PASSWORD = "correct horse battery"


def write_note(inbox: Path, note) -> None:
    from roomnote.notes import to_dict
    inbox.mkdir(parents=True, exist_ok=True, mode=0o700)
    (inbox / f"{note.note_id}.v{note.version}.json").write_text(json.dumps(to_dict(note)))


def review_config(root: Path, **review) -> Path:
    """A workstation config whose broker is not there: the page serves what the inbox holds."""
    cfg = root / "ws.toml"
    cfg.write_text(toml_section("device", {"id": "ws", "office": "office1"})
                   + toml_section("mqtt", {"host": "127.0.0.1", "port": free_port(), "ca_file": str(root / "none.pem")})
                   + toml_section("review", {"inbox": str(root / "inbox"), **review}))
    return cfg


def request(url: str, method: str = "GET", path: str = "/", *, body: bytes | None = None, headers=None,
            context: ssl.SSLContext | None = None):
    u = urllib.parse.urlsplit(url)
    conn = (http.client.HTTPSConnection(u.hostname, u.port, context=context, timeout=10) if u.scheme == "https"
            else http.client.HTTPConnection(u.hostname, u.port, timeout=10))
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r, data


def csrf_of(html: bytes) -> str:
    return re.search(rb'name="csrf-token" content="([0-9a-f]+)"', html).group(1).decode()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The page as a therapist runs it: 127.0.0.1, no login, one note in the inbox."""
    root = tmp_path_factory.mktemp("review-local")
    rt, note = redacted_session("sess-security-1")
    write_note(root / "inbox", note)
    server = ReviewServer(review_config(root), sandbox_env(root), root / "review.log", free_port())
    yield {"server": server, "note": note, "root": root}
    server.stop()


def test_every_response_carries_a_strict_content_security_policy(local):
    for path in ("/", f"/notes/{local['note'].note_id}", "/static/review.js", "/nope"):
        r, _ = request(local["server"].url, path=path)
        csp = r.getheader("content-security-policy")
        assert csp and "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert r.getheader("x-content-type-options") == "nosniff" and r.getheader("x-frame-options") == "DENY"
    r, html = request(local["server"].url, path=f"/notes/{local['note'].note_id}")
    assert r.status == 200 and r.getheader("cache-control") == "no-store"
    assert b"<script>" not in html and b" style=" not in html and b"onclick" not in html.lower()


def test_a_post_without_the_csrf_token_is_refused(local):
    url, nid = local["server"].url, local["note"].note_id
    edits = local["root"] / "inbox" / "edits"
    body = json.dumps({"text": "my version", "based_on_version": 1}).encode()
    for headers in ({"content-type": "application/json"},
                    {"content-type": "application/json", "x-csrf-token": "0" * 64}):
        r, data = request(url, "POST", f"/notes/{nid}/edit", body=body, headers=headers)
        assert r.status == 403 and b"CSRF" in data
        assert not (edits / f"{nid}.json").exists()
    for path in (f"/notes/{nid}/finalize", f"/notes/{nid}/revise", f"/notes/{nid}/format", "/logout"):
        r, _ = request(url, "POST", path, body=b"{}", headers={"content-type": "application/json"})
        assert r.status == 403, path
    _, html = request(url)
    token = csrf_of(html)
    r, _ = request(url, "POST", f"/notes/{nid}/edit", body=body,
                   headers={"content-type": "application/json", "x-csrf-token": token,
                            "origin": "http://evil.example"})
    assert r.status == 403  # right token, but sent from another site
    r, data = request(url, "POST", f"/notes/{nid}/edit", body=body,
                      headers={"content-type": "application/json", "x-csrf-token": token})
    assert r.status == 200 and json.loads(data)["state"] == "saved"
    assert json.loads((edits / f"{nid}.json").read_text())["text"] == "my version"
    assert stat.S_IMODE((edits / f"{nid}.json").stat().st_mode) == 0o600


def test_an_action_on_a_note_that_is_not_there_is_not_found(local):
    url = local["server"].url
    _, html = request(url)
    headers = {"content-type": "application/json", "x-csrf-token": csrf_of(html)}
    bodies = {"finalize": {}, "revise": {"instruction": "shorter"}, "format": {"format": "dap"}}
    for note_id in ("0" * 32, "not-a-note-id"):
        for action, body in bodies.items():
            r, data = request(url, "POST", f"/notes/{note_id}/{action}", body=json.dumps(body).encode(),
                              headers=headers)
            assert (r.status, json.loads(data)["message"]) == (404, "no such note"), (note_id, action, data)

def test_a_foreign_host_name_is_refused_without_a_login(local):
    # a DNS-rebinding page reaches 127.0.0.1 under its own name: the Host header gives it away
    r, _ = request(local["server"].url, headers={"host": f"evil.example:{local['server'].port}"})
    assert r.status == 403
    r, _ = request(local["server"].url, headers={"host": f"localhost:{local['server'].port}"})
    assert r.status == 200


def asgi_get(app, path: str, client: str, host: str = "127.0.0.1:8765") -> tuple[int, dict]:
    """One request straight into the ASGI app, from a client address a test machine cannot have."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", host.encode())], "client": (client, 50123), "server": ("127.0.0.1", 8765)}
    out: dict = {}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    asyncio.run(app(scope, receive, send))
    return out["status"], out["headers"]


def make_app(root: Path, **review):
    from roomnote.config import load_config
    from roomnote.review.app import ReviewApp
    from roomnote.review.store import Store

    cfg = load_config(review_config(root, **review))
    return ReviewApp(cfg, Store(Path(cfg.review.inbox)), send=None)


def test_a_client_from_the_network_is_refused_when_there_is_no_login(tmp_path):
    app = make_app(tmp_path)
    for path in ("/", "/notes.json", "/static/review.js"):
        status, headers = asgi_get(app, path, "192.0.2.7")
        assert status == 403 and "script-src 'self'" in headers["content-security-policy"]
    assert asgi_get(app, "/notes.json", "127.0.0.1")[0] == 200
    assert asgi_get(app, "/notes.json", "::1", host="[::1]:8765")[0] == 200
    # with a login configured, a network client gets the login page instead
    from roomnote.review.security import hash_password
    app = make_app(tmp_path, password_hash=hash_password(PASSWORD))
    status, headers = asgi_get(app, "/", "192.0.2.7", host="review.practice.lan")
    assert status == 303 and headers["location"] == "/login"


def run_review(args: list[str], env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "roomnote", "review", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_a_network_address_without_tls_and_a_login_is_refused_in_one_line(tmp_path):
    env = sandbox_env(tmp_path)
    pki = Pki(tmp_path / "pki")
    cert = pki.issue("review", server=True)
    hashed = run_review(["--hash-password"], env, stdin=PASSWORD + "\n")
    assert hashed.returncode == 0 and hashed.stdout.startswith('password_hash = "scrypt$')
    password_hash = hashed.stdout.split('"')[1]
    cases = [({}, ("TLS", "login")), ({"tls_cert": str(cert.cert), "tls_key": str(cert.key)}, ("login",)),
             ({"password_hash": password_hash}, ("TLS",))]
    for review, missing in cases:
        cfg = review_config(tmp_path, **review)
        for host in ("0.0.0.0", "192.0.2.7", "::"):
            r = run_review(["--config", str(cfg), "--host", host, "--port", str(free_port())], env)
            assert r.returncode == 2, (review, host, r.stderr)
            line = r.stderr.strip()
            assert len(line.splitlines()) == 1 and f"refusing to serve notes on {host}" in line
            assert all(m in line for m in missing) and ("TLS (" in line) == ("TLS" in missing)
    for review, text in (({"tls_cert": str(tmp_path / "missing.pem"), "tls_key": str(cert.key)}, "not found"),
                         ({"tls_cert": str(cert.cert)}, "go together"),
                         ({"password_hash": "plain-text"}, "not an scrypt hash")):
        r = run_review(["--config", str(review_config(tmp_path, **review)), "--port", str(free_port())], env)
        assert r.returncode == 2 and text in r.stderr and len(r.stderr.strip().splitlines()) == 1
    short = run_review(["--hash-password"], env, stdin="short\n")
    assert short.returncode == 2 and "shorter than 10" in short.stderr


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """The page as IT runs it on the practice network: TLS and a login (bound to loopback here:
    tests send traffic to this machine only)."""
    from roomnote.review.security import hash_password

    root = tmp_path_factory.mktemp("review-tls")
    pki = Pki(root / "pki")
    cert = pki.issue("review", server=True)
    rt, note = redacted_session("sess-security-2")
    write_note(root / "inbox", note)
    cfg = review_config(root, tls_cert=str(cert.cert), tls_key=str(cert.key), password_hash=hash_password(PASSWORD))
    server = ReviewServer(cfg, sandbox_env(root), root / "review.log", free_port(), scheme="https")
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    yield {"server": server, "ctx": ctx, "note": note, "root": root}
    server.stop()


def login(s, password: str, token: str | None = None):
    url, ctx = s["server"].url, s["ctx"]
    if token is None:
        _, page = request(url, path="/login", context=ctx)
        token = re.search(rb'name="csrf_token" value="([0-9a-f]+)"', page).group(1).decode()
    body = urllib.parse.urlencode({"csrf_token": token, "password": password}).encode()
    return request(url, "POST", "/login", body=body, context=ctx,
                   headers={"content-type": "application/x-www-form-urlencoded"})


def test_with_tls_and_a_login_every_page_needs_the_password(secured):
    s = secured
    url, ctx, nid = s["server"].url, s["ctx"], s["note"].note_id
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        request(url.replace("https", "http"))  # no plain http on the TLS port
    for path in ("/", f"/notes/{nid}", f"/notes/{nid}/note.md"):
        r, _ = request(url, path=path, context=ctx)
        assert r.status == 303 and r.getheader("location") == "/login", path
    r, _ = request(url, "POST", f"/notes/{nid}/finalize", body=b"{}", context=ctx)
    assert r.status == 401
    r, _ = login(s, "wrong password!", token="0" * 64)
    assert r.status == 403  # the login form has its own CSRF token
    r, data = login(s, "wrong password!")
    assert r.status == 401 and b"Wrong password" in data
    r, _ = login(s, PASSWORD)
    assert r.status == 303
    cookie = r.getheader("set-cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    session = {"cookie": cookie.split(";")[0]}
    r, html = request(url, path=f"/notes/{nid}", context=ctx, headers=session)
    assert r.status == 200 and r.getheader("strict-transport-security")
    body = json.dumps({"text": "mine", "based_on_version": 1}).encode()
    r, _ = request(url, "POST", f"/notes/{nid}/edit", body=body, context=ctx, headers=session)
    assert r.status == 403  # logged in, but no CSRF token
    r, _ = request(url, "POST", f"/notes/{nid}/edit", body=body, context=ctx,
                   headers={**session, "x-csrf-token": csrf_of(html)})
    assert r.status == 200
    r, _ = request(url, "POST", "/logout", body=b"{}", context=ctx, headers={**session, "x-csrf-token": csrf_of(html)})
    assert r.status == 200
    r, _ = request(url, path="/", context=ctx, headers=session)
    assert r.status == 303  # the session ended on the server


def test_repeated_wrong_passwords_lock_the_client_out(secured):
    codes = [login(secured, f"guess number {i}")[0].status for i in range(6)]
    assert codes[:4] == [401] * 4 and codes[-1] == 429
    assert login(secured, PASSWORD)[0].status == 429  # even the right one, for a while


def test_the_log_holds_requests_and_ids_but_no_password(secured):
    log = secured["server"].log.read_text()
    assert "POST /login 401" in log and "failed login from 127.0.0.1" in log
    assert PASSWORD not in log and "guess number" not in log


# ---- the pieces, on real notes and real receipts ----------------------------------------------

def test_word_diff_marks_inserted_and_deleted_words():
    from roomnote.review.diff import word_diff

    parts = word_diff("i have been feeling anxious most mornings", "i have been feeling calm most evenings lately")
    assert ("del", "anxious") in parts and ("ins", "calm") in parts and ("ins", "evenings lately") in parts
    assert " ".join(t for op, t in parts if op != "del") == "i have been feeling calm most evenings lately"


def test_note_changes_follow_the_revisions_of_the_real_composer():
    from roomnote.notes.revise import revise_note
    from roomnote.review.diff import note_changes

    rt, v1 = redacted_session("sess-diff-1")
    v2 = revise_note(rt, v1, "rewrite as dap", encoder=None)
    c = note_changes(v1, v2)
    assert c.format_from == "soap" and c.counts == {"new": 0, "changed": 0, "removed": 0}
    v3 = revise_note(rt, v2, "remove the part about homework", encoder=None)
    c = note_changes(v2, v3)
    assert c.counts["removed"] >= 1 and all("homework" in r.lower() for r in c.removed)
    v4 = revise_note(rt, v3, "include more details about feeling anxious", encoder=None)
    c = note_changes(v3, v4)
    assert c.counts["new"] >= 1
    new = [p for ch in c.items.values() if ch.kind == "new" for p in ch.parts]
    assert new and all(op == "ins" for op, _ in new)


def test_receipts_are_verified_with_the_devices_key(tmp_path):
    from roomnote.publish.keys import load_signing_key, new_ed25519_pair
    from roomnote.publish.messages import make_receipt
    from roomnote.review.store import Store

    keys = tmp_path / "keys"
    keys.mkdir()
    pub = new_ed25519_pair(tmp_path / "room-a.key")
    (keys / "room-a.pub.pem").write_bytes(pub.read_bytes())
    new_ed25519_pair(tmp_path / "other.key")
    store = Store(tmp_path / "inbox", keys)
    for d in (store.dir, store.dir / "receipts", store.dir / "edits"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700

    def receipt(key_file, device="room-a", tamper=False):
        r = make_receipt(load_signing_key(key_file), office="office1", device=device, note_id="ab" * 16,
                         note_version=2, note_sha256="cd" * 32, session_id="s1", action="finalized",
                         destroyed=["redacted_transcript", "session_key"])
        data = r.payload.replace(b'"note_version": 2', b'"note_version": 1') if tamper else r.payload
        (store.dir / "receipts" / f"{r.receipt_id}.json").write_bytes(data)
        return r.receipt_id

    good = store.check_receipt(receipt(tmp_path / "room-a.key"))
    assert good.state == "verified" and "Signature verified" in good.message
    forged = store.check_receipt(receipt(tmp_path / "other.key"))
    assert forged.state == "failed" and "NOT verify" in forged.message
    altered = store.check_receipt(receipt(tmp_path / "room-a.key", tamper=True))
    assert altered.state == "failed" and "altered" in altered.message
    unknown = store.check_receipt(receipt(tmp_path / "room-a.key", device="room-b"))
    assert unknown.state == "no_key" and "not checked" in unknown.message
    assert store.check_receipt("0" * 32) is None and store.check_receipt("../../etc/passwd") is None


def test_the_list_trusts_only_receipts_whose_signature_verifies(tmp_path):
    """Each note's status on the list comes from its closing receipt only when the box's key
    verifies it (P5): a forged receipt, or one from a box whose key the workstation lacks, is
    'Receipt not verified', never 'Finalised'."""
    from roomnote.notes import to_dict
    from roomnote.publish.keys import load_signing_key, new_ed25519_pair
    from roomnote.publish.messages import make_receipt
    from roomnote.review.store import Store

    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "room-a.pub.pem").write_bytes(new_ed25519_pair(tmp_path / "room-a.key").read_bytes())
    new_ed25519_pair(tmp_path / "other.key")
    store = Store(tmp_path / "inbox", keys)
    _, note = redacted_session("sess-list-1")
    d = to_dict(note)
    ids = {name: f"{i:032x}" for i, name in enumerate(["finalised", "forged", "no key", "revised", "damaged"], 1)}
    for name, note_id in ids.items():
        for v in (1, 2) if name == "revised" else (1,):
            (store.dir / f"{note_id}.v{v}.json").write_text(json.dumps({**d, "note_id": note_id, "version": v}))
    (store.dir / f"{ids['damaged']}.v1.json").write_text("{not json")
    (store.dir / "receipts" / "ffffffff.json").write_text('{"note_id": ["not", "an", "id"]}')

    def receipt(name, key_file, device="room-a"):
        r = make_receipt(load_signing_key(key_file), office="office1", device=device, note_id=ids[name],
                         note_version=1, note_sha256="cd" * 32, session_id="s1", action="finalized",
                         destroyed=["redacted_transcript", "session_key"])
        (store.dir / "receipts" / f"{r.receipt_id}.json").write_bytes(r.payload)

    receipt("finalised", tmp_path / "room-a.key")
    receipt("forged", tmp_path / "other.key")
    receipt("no key", tmp_path / "room-a.key", device="room-b")
    rows = {r["note_id"]: r for r in store.rows("office1")}
    assert {name: rows[i]["status"] for name, i in ids.items() if i in rows} == {
        "finalised": "finalised", "forged": "unverified", "no key": "unverified", "revised": "revised"}
    assert rows[ids["forged"]]["status_text"] == "Receipt not verified"
    for note_id, row in rows.items():  # one row (a note arriving on the live list) is the same as in the list
        assert store.row(note_id, "office1") == row
