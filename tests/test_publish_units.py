"""Outbox, receipts, audit chain, session store, commands and keys: the parts without a broker."""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path

import pytest

from mqtt_helpers import Pki, device_toml, fill_disk, free_port, redacted_session, tiny_disk  # noqa: F401
from roomnote.audit import AuditLog, verify_log
from roomnote.config import CommandsConfig, config_from_dict, load_config
from roomnote.errors import AuditError, ConfigError, PublishError
from roomnote.notes import Item
from roomnote.publish.commands import CommandParser, CommandRejected, signed_bytes
from roomnote.publish.keys import (init_device_keys, load_outbox_key, load_public_key, load_signing_key,
                                   new_ed25519_pair, seal, sign)
from roomnote.publish.messages import RedactedNote, make_receipt, verify_receipt
from roomnote.publish.outbox import Outbox, OutboxCorruptError
from roomnote.publish.service import PublishingService
from roomnote.publish.sessions import SessionStore
from roomnote.redact.egress import EgressError


@pytest.fixture
def keys(tmp_path):
    init_device_keys(tmp_path / "keys" / "outbox.key", tmp_path / "keys" / "signing.key")
    return load_outbox_key(tmp_path / "keys" / "outbox.key"), load_signing_key(tmp_path / "keys" / "signing.key")


def test_outbox_is_encrypted_ordered_and_deduplicated(tmp_path, keys):
    box = Outbox(tmp_path / "outbox", keys[0])
    notes = [RedactedNote.from_note(redacted_session(f"ob{i}")[1]) for i in range(3)]
    entries = [box.put(n) for n in notes]
    assert box.put(notes[1]) == entries[1]  # queued once
    assert [e.message_id for e in box.entries()] == [n.message_id for n in notes]
    for e in entries:
        raw = (tmp_path / "outbox" / e.name).read_bytes()
        assert b"anxious" not in raw and b"note_id" not in raw
        assert oct((tmp_path / "outbox" / e.name).stat().st_mode & 0o777) == "0o600"
    assert box.read(entries[0]).payload == notes[0].payload
    box.remove(entries[0])
    reopened = Outbox(tmp_path / "outbox", keys[0])  # as after a restart
    assert [e.message_id for e in reopened.entries()] == [n.message_id for n in notes[1:]]
    assert reopened.put(RedactedNote.from_note(redacted_session("ob9")[1])).seq == 4


def test_outbox_takes_only_redacted_notes_and_receipts(tmp_path, keys):
    box = Outbox(tmp_path / "outbox", keys[0])
    rt, note = redacted_session("only")
    for thing in (note, {"note_id": note.note_id}, b"{}", rt):
        with pytest.raises(TypeError):
            box.put(thing)
    assert not box.entries()


def test_a_note_with_an_identifier_never_becomes_a_redacted_note(tmp_path, keys):
    rt, note = redacted_session("phi")
    note.sections[0].items.append(Item("call me at five five five two one nine four three eight seven", [], "quote"))
    with pytest.raises(EgressError) as err:
        RedactedNote.from_note(note)
    assert "five" not in str(err.value)
    # an entry that holds an identifier anyway (e.g. queued by an older version) is never sent
    box = Outbox(tmp_path / "outbox", keys[0])
    clean = RedactedNote.from_note(redacted_session("phi2")[1])
    name = f"000000000001.{clean.message_id}.msg"
    dirty = clean.payload.decode().replace("homework", "homework at eighty one maple drive")
    (tmp_path / "outbox" / name).write_bytes(seal(keys[0], json.dumps({"kind": "notes", "payload": dirty}).encode(),
                                                  name.encode()))
    with pytest.raises(OutboxCorruptError, match="ADDRESS"):
        box.read(box.entries()[0])
    assert not box.entries() and (tmp_path / "outbox" / "quarantine" / name).exists()


def test_a_damaged_or_swapped_outbox_file_is_quarantined(tmp_path, keys):
    box = Outbox(tmp_path / "outbox", keys[0])
    a, b = (box.put(RedactedNote.from_note(redacted_session(f"q{i}")[1])) for i in range(2))
    pa, pb = tmp_path / "outbox" / a.name, tmp_path / "outbox" / b.name
    blob = bytearray(pa.read_bytes())
    blob[40] ^= 1
    pa.write_bytes(bytes(blob))
    with pytest.raises(OutboxCorruptError, match="quarantine"):
        box.read(a)
    assert (tmp_path / "outbox" / "quarantine" / a.name).exists() and not pa.exists()
    os.replace(pb, tmp_path / "outbox" / ("000000000009." + b.message_id + ".msg"))  # renamed: the name is bound in
    with pytest.raises(OutboxCorruptError):
        box.read(box.entries()[0])
    (tmp_path / "outbox" / ".000000000010.x.msg.k3j2h1").write_bytes(b"half")  # a put() cut short by kill -9
    Outbox(tmp_path / "outbox", keys[0])
    assert not list((tmp_path / "outbox").glob(".*"))


def test_key_files_must_be_private_and_present(tmp_path, keys):
    key = tmp_path / "keys" / "outbox.key"
    key.chmod(0o644)
    with pytest.raises(PublishError, match="readable by other users; run `chmod 600"):
        load_outbox_key(key)
    with pytest.raises(PublishError, match="roomnote keys init"):
        load_outbox_key(tmp_path / "nope.key")
    assert "kept existing" in init_device_keys(tmp_path / "k2" / "o.key", tmp_path / "keys" / "signing.key")[1]


def test_receipt_signature_and_tampering(tmp_path, keys):
    signing = keys[1]
    r = make_receipt(signing, office="o", device="d", note_id="ab" * 16, note_version=2, note_sha256="cd" * 32,
                     session_id="s1", action="finalized", destroyed=["redacted_transcript", "session_key"])
    pub = load_public_key(tmp_path / "keys" / "signing.key.pub.pem")
    assert verify_receipt(r.payload, pub)["note_version"] == 2
    for old, new in ((b'"note_version": 2', b'"note_version": 3'), (b"finalized", b"discarded"),
                     (b'"session_key"', b'"nothing"')):
        with pytest.raises(PublishError, match="altered"):
            verify_receipt(r.payload.replace(old, new), pub)
    other = tmp_path / "other.key"
    with pytest.raises(PublishError, match="not by the given key"):
        verify_receipt(r.payload, load_public_key(new_ed25519_pair(other)))
    with pytest.raises(PublishError, match="not valid JSON"):
        verify_receipt(r.payload[:-5], pub)


def test_audit_chain_holds_across_threads_and_detects_changes(tmp_path):
    path = tmp_path / "audit.log"
    logs = [AuditLog(path) for _ in range(4)]  # as several roomnote processes would

    def write(log, k):
        for i in range(40):
            log.append("note_delivered", note_id=f"{k:02d}{i:030d}", version=1)

    threads = [threading.Thread(target=write, args=(lg, k)) for k, lg in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n, head = verify_log(path)
    assert n == 160 and head == json.loads(path.read_text().splitlines()[-1])["hash"]
    with pytest.raises(ValueError):
        logs[0].append("note_revised", instruction="rewrite it for sarah")  # words never enter the log
    lines = path.read_text().splitlines()
    swapped = lines[:10] + [lines[11], lines[10]] + lines[12:]
    path.write_text("\n".join(swapped) + "\n")
    with pytest.raises(AuditError, match="line 11"):
        verify_log(path)


def test_session_store_encrypts_and_destroys(tmp_path):
    store = SessionStore(tmp_path / "sessions", ttl_s=60)
    rt, note = redacted_session("held")
    held = store.hold(note, rt, "ab" * 32, now=1000.0)
    raw = (tmp_path / "sessions" / f"{note.note_id}.rt").read_bytes()
    assert b"anxious" not in raw and b"homework" not in raw
    assert store.transcript(note.note_id) == rt
    assert store.expired(now=1059.0) == [] and store.expired(now=1060.0) == [note.note_id]
    key = held.key
    store.destroy(note.note_id)
    assert key == bytearray(32) and not list((tmp_path / "sessions").iterdir())
    # a process that dies leaves an unreadable file; the next one deletes it and reports it
    store.hold(note, rt, "ab" * 32)
    fresh = SessionStore(tmp_path / "sessions", ttl_s=60)
    orphans = fresh.orphans()
    assert [o["note_id"] for o in orphans] == [note.note_id] and orphans[0]["note_sha256"] == "ab" * 32
    assert not list((tmp_path / "sessions").iterdir())


def _parser(tmp_path, require=True, nonce_file=None):
    priv = tmp_path / "practice.key"
    if not priv.exists():
        new_ed25519_pair(priv)
    cfg = CommandsConfig(require_signature=require, practice_public_key=str(priv) + ".pub.pem")
    return CommandParser(cfg, load_public_key(cfg.practice_public_key), nonce_file), load_signing_key(priv)


def _signed(key, name, fields, **over):
    body = {"id": "c1", **fields, "ts": int(time.time()), "nonce": secrets.token_urlsafe(18), **over}
    body["sig"] = sign(key, signed_bytes(name, body))
    return body


def test_signed_commands_are_bound_to_their_name_and_never_replayed(tmp_path):
    nonces = tmp_path / "nonces"
    parser, key = _parser(tmp_path, nonce_file=nonces)
    body = _signed(key, "finalize", {"note_id": "a" * 32})
    cmd = parser.parse("finalize", json.dumps(body).encode())
    assert cmd.signed and cmd.args == {"note_id": "a" * 32}
    with pytest.raises(CommandRejected) as e:
        parser.parse("discard", json.dumps(body).encode())  # same signature, other command
    assert e.value.reason == "bad_signature"
    restarted, _ = _parser(tmp_path, nonce_file=nonces)  # replay protection survives a restart
    with pytest.raises(CommandRejected) as e:
        restarted.parse("finalize", json.dumps(body).encode())
    assert e.value.reason == "replayed"
    unsigned_ok, _ = _parser(tmp_path, require=False)
    assert not unsigned_ok.parse("ping", b'{"id": "p1"}').signed


@pytest.mark.parametrize("raw, reason", [
    ({"commands": {"max_bytes": 10}}, "commands.max_bytes: expected a value from 256"),
    ({"mqtt": {"tls_version": "1.0"}}, "mqtt.tls_version: expected one of 1.2, 1.3"),
    ({"mqtt": {"verify_server": "no"}}, "mqtt.verify_server: expected bool"),
    ({"retention": {"transcript_ttl_s": 0}}, "retention.transcript_ttl_s: expected a value from 1"),
    ({"outbox": {"directory": "/x"}}, "outbox.directory: unknown key"),
])
def test_publishing_config_errors_are_one_line(raw, reason):
    with pytest.raises(ConfigError) as e:
        config_from_dict(raw)
    assert reason in str(e.value) and "\n" not in str(e.value)


def test_signatures_required_without_a_key_is_a_clear_error(tmp_path):
    cfg = config_from_dict({"commands": {"require_signature": True},
                            "keys": {"outbox_key": str(tmp_path / "o.key"), "signing_key": str(tmp_path / "s.key")}})
    init_device_keys(cfg.keys.outbox_key, cfg.keys.signing_key)
    with pytest.raises(PublishError, match="commands.practice_public_key is empty"):
        PublishingService(cfg)


@pytest.fixture
def offline_box(tmp_path):
    """A box whose broker is not there: everything below happens without a network."""
    pki = Pki(tmp_path / "pki")

    def make(**extra):
        cfg = load_config(device_toml(tmp_path / "box", pki, free_port(), "room-a", pki.issue("room-a"), **extra))
        init_device_keys(cfg.keys.outbox_key, cfg.keys.signing_key)
        return cfg
    return make


def test_time_to_live_destroys_the_transcript_and_queues_a_signed_receipt(offline_box):
    cfg = offline_box(retention={"transcript_ttl_s": 1})
    svc = PublishingService(cfg)
    svc.start()
    try:
        rt, note = redacted_session("ttl")
        svc.put(note, rt)
        assert note.note_id in svc.sessions
        deadline = time.monotonic() + 5
        while len(svc.outbox) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert note.note_id not in svc.sessions
        assert not list(Path(cfg.retention.dir).glob(f"{note.note_id}*"))
        kinds = [e.message_id.split(".")[0] for e in svc.outbox.entries()]
        assert kinds == [note.note_id, "receipt"]  # the note still waits for the broker; so does the receipt
        receipt = svc.outbox.read(svc.outbox.entries()[1])
        d = verify_receipt(receipt.payload, load_signing_key(cfg.keys.signing_key).public_key())
        assert d["action"] == "ttl_expired" and d["note_id"] == note.note_id
    finally:
        svc.stop(timeout=0.2)


def test_a_restart_after_kill_reports_the_transcripts_it_could_not_keep(offline_box):
    cfg = offline_box()
    svc = PublishingService(cfg)
    rt, note = redacted_session("orphan")
    svc.put(note, rt)  # never started, never stopped: as if killed
    svc2 = PublishingService(cfg)
    svc2.start()
    svc2.stop(timeout=0.2)
    receipts = [svc2.outbox.read(e) for e in svc2.outbox.entries() if e.message_id.startswith("receipt.")]
    assert [json.loads(r.payload)["action"] for r in receipts] == ["restart"]
    assert [p.name for p in Path(cfg.retention.dir).iterdir()] in ([], ["command-nonces"])


def test_full_disk_keeps_the_note_in_memory_until_it_can_be_written(offline_box, tiny_disk, caplog):
    # outbox, transcripts and audit log all on the full disk, as on a box with one SD card
    cfg = offline_box(outbox={"dir": str(tiny_disk / "outbox")}, retention={"dir": str(tiny_disk / "sessions")},
                      audit={"file": str(tiny_disk / "audit.log")})
    (tiny_disk / "outbox").mkdir(mode=0o700)
    filler = fill_disk(tiny_disk)
    svc = PublishingService(cfg)
    svc.start()
    try:
        rt, note = redacted_session("full")
        with caplog.at_level(logging.ERROR):
            svc.put(note, rt)
        line = next(r.getMessage() for r in caplog.records if "disk is full" in r.getMessage())
        assert note.note_id in line and "kept in memory" in line and "free disk space" in line
        assert len(svc.outbox) == 0 and svc.wait_delivered(0) is False  # held, not lost
        filler.unlink()
        deadline = time.monotonic() + 5
        while not svc.outbox.entries() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e.message_id for e in svc.outbox.entries()] == [f"{note.note_id}.v1"]
        assert not [p for p in (tiny_disk / "sessions").iterdir() if note.note_id in p.name]  # nothing half-kept
        assert any("cannot be revised" in r.getMessage() for r in caplog.records)
    finally:
        svc.stop(timeout=0.2)


def _phi(note):
    """The note with an identifier in it, as a faulty composer or reviser might leave one."""
    note = dataclasses.replace(note, sections=copy.deepcopy(note.sections))
    note.sections[0].items.append(Item("call me at five five five two one nine four three eight seven", [], "quote"))
    return note


def _session_files(cfg, note_id: str) -> list[str]:
    return sorted(p.name for p in Path(cfg.retention.dir).iterdir() if note_id in p.name)


def test_the_service_refuses_a_note_with_an_identifier_and_keeps_nothing_of_it(offline_box):
    """P2: put() sends only what passes the egress check; a refused note is neither queued nor held."""
    cfg = offline_box()
    svc = PublishingService(cfg)
    rt, note = redacted_session("phi-put")
    with pytest.raises(EgressError):
        svc.put(_phi(note), rt)
    assert not svc.outbox.entries() and not svc.sessions.note_ids() and not _session_files(cfg, note.note_id)
    assert not Path(cfg.audit.file).exists() or "note_queued" not in Path(cfg.audit.file).read_text()


def test_a_revision_with_an_identifier_is_refused_and_the_held_note_stays(offline_box):
    """P2 on the revise path: the reviser's output is egress-checked before it is queued."""
    cfg = offline_box()
    svc = PublishingService(cfg, reviser=lambda rt, note, instruction: _phi(dataclasses.replace(note, version=2)))
    rt, note = redacted_session("phi-revise")
    svc.put(note, rt)
    svc._handle("revise", json.dumps({"id": "r1", "note_id": note.note_id, "instruction": "rewrite as dap"}).encode())
    rejected = [e for e in svc._events if e["event"] == "command_rejected"]
    assert [(e["id"], e["reason"]) for e in rejected] == [("r1", "failed")] and "egress" in rejected[0]["detail"]
    assert "five" not in json.dumps(list(svc._events))
    assert [e.message_id for e in svc.outbox.entries()] == [f"{note.note_id}.v1"]
    assert svc.sessions.get(note.note_id).note.version == 1


def test_discarding_an_unsent_note_destroys_it_all_with_a_signed_receipt(offline_box):
    """P5 on discard: the queued note, the transcript and its key go; the receipt says so, signed."""
    cfg = offline_box()
    svc = PublishingService(cfg)
    rt, note = redacted_session("discard-unsent")
    svc.put(note, rt)
    key = svc.sessions.get(note.note_id).key
    assert _session_files(cfg, note.note_id) == [f"{note.note_id}.meta.json", f"{note.note_id}.rt"]
    svc._handle("discard", json.dumps({"id": "d1", "note_id": note.note_id}).encode())
    assert key == bytearray(32) and not svc.sessions.note_ids() and not _session_files(cfg, note.note_id)
    entries = svc.outbox.entries()
    assert [e.message_id.split(".")[0] for e in entries] == ["receipt"]  # the unsent note never leaves
    d = verify_receipt(svc.outbox.read(entries[0]).payload, load_signing_key(cfg.keys.signing_key).public_key())
    assert d["action"] == "discarded" and d["note_id"] == note.note_id
    assert set(d["destroyed"]) == {"redacted_transcript", "session_key", "unsent_note_versions"}
    assert any(e["event"] == "discarded" and e["unsent_dropped"] == 1 for e in svc._events)


def test_stopping_destroys_every_held_transcript_with_a_signed_receipt(offline_box):
    """P5 on shutdown: nothing held survives stop(); each transcript gets its receipt."""
    cfg = offline_box()
    svc = PublishingService(cfg)
    held = [redacted_session(f"stop{i}") for i in range(2)]
    for rt, note in held:
        svc.put(note, rt)
    svc.stop(timeout=0.2)
    assert not svc.sessions.note_ids() and [p.name for p in Path(cfg.retention.dir).iterdir()] in ([], ["command-nonces"])
    pub = load_signing_key(cfg.keys.signing_key).public_key()
    receipts = [verify_receipt(svc.outbox.read(e).payload, pub) for e in svc.outbox.entries()
                if e.message_id.startswith("receipt.")]
    assert sorted((r["note_id"], r["action"]) for r in receipts) == sorted((n.note_id, "shutdown") for _, n in held)


def test_an_event_carrying_session_words_is_not_sent(offline_box):
    """P2 for /events: fields must be content-free tokens; the one free-text detail is egress-checked."""
    cfg = offline_box()
    svc = PublishingService(cfg)
    svc.emit({"event": "error", "reason": "asr_failed", "note": "sarah said she is anxious", "count": 3})
    svc.emit({"event": "error", "reason": "x", "detail": "call me at five five five two one nine four three eight seven"})
    sent = list(svc._events)
    assert [(e["event"], e["reason"], e["count"]) for e in sent] == [("error", "asr_failed", 3)]
    assert "sarah" not in json.dumps(sent) and "five" not in json.dumps(sent)
    audit = Path(cfg.audit.file).read_text()
    assert "asr_failed" in audit and "sarah" not in audit and "five" not in audit
