"""Promise P7 and the command channel against a real mosquitto broker (TLS, client certs, ACL)."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO
from mqtt_helpers import OFFICE, Broker, Capture, Pki, device_toml, fill_disk, free_port, redacted_session, tiny_disk  # noqa: F401
from roomnote.audit import verify_log
from roomnote.config import load_config
from roomnote.publish.commands import signed_bytes
from roomnote.publish.inbox import Inbox
from roomnote.publish.keys import init_device_keys, load_outbox_key, load_signing_key, new_ed25519_pair, sign
from roomnote.publish.messages import RedactedNote
from roomnote.publish.outbox import Outbox
from roomnote.publish.service import PublishingService


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    root = tmp_path_factory.mktemp("mqtt")
    pki = Pki(root / "pki")
    broker = Broker(root / "broker", pki).start()
    certs = {cn: pki.issue(cn) for cn in ("room-a", "room-c", "room-d", "room-e", "inbox-office1", "monitor")}

    class Net:
        pass

    n = Net()
    n.root, n.pki, n.broker, n.certs = root, pki, broker, certs
    yield n
    broker.stop()


def box(net, name: str, device: str | None = None, cert: str | None = None, **extra) -> Path:
    """A box's configuration with its keys provisioned."""
    cfg_path = device_toml(net.root / name, net.pki, net.broker.port, device or name,
                           net.certs[cert or device or name], **extra)
    cfg = load_config(cfg_path)
    init_device_keys(cfg.keys.outbox_key, cfg.keys.signing_key)
    return cfg_path


def wait_for(pred, timeout: float, what: str, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


class InboxRunner:
    """The real inbox in this process, reading the office's notes into a folder."""

    def __init__(self, net, out: Path, client_id: str):
        cfg = load_config(device_toml(net.root / f"ws-{client_id}", net.pki, net.broker.port, "ws",
                                      net.certs["inbox-office1"]))
        self.inbox = Inbox(cfg, out, client_id=client_id)
        self.out = out
        self.stop_event = threading.Event()
        self.inbox.connect()
        self.thread = threading.Thread(target=self.inbox.loop_forever, args=(self.stop_event,), daemon=True)
        self.thread.start()
        wait_for(self.inbox._connected.is_set, 10, "the inbox to connect")
        time.sleep(0.2)  # subscription acknowledged

    def notes(self) -> list[str]:
        return sorted(p.name[:-5] for p in self.out.glob("*.json") if p.name != "devices.json")

    def close(self):
        self.stop_event.set()
        self.thread.join(5)


def roomnote_child(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon")}
    return subprocess.Popen([sys.executable, "-m", "roomnote", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_notes_arrive_exactly_once_across_a_broker_outage(net, caplog):
    caplog.set_level(logging.INFO)
    cfg = load_config(box(net, "room-a"))
    inbox = InboxRunner(net, net.root / "inbox-outage", "inbox-outage")
    svc = PublishingService(cfg)
    svc.start()
    try:
        wait_for(lambda: svc.connected, 10, "the box to connect")
        sent = []
        for i in range(3):
            rt, note = redacted_session(f"outage-a{i}")
            svc.put(note, rt)
            sent.append(f"{note.note_id}.v1")
        assert svc.wait_delivered(10)
        net.broker.stop()  # the practice broker goes down in the middle of the day
        for i in range(3):
            rt, note = redacted_session(f"outage-b{i}")
            svc.put(note, rt)
            sent.append(f"{note.note_id}.v1")
        wait_for(lambda: svc.last_error, 10, "the outage to be reported")
        assert "cannot reach the broker" in svc.last_error
        entries = Outbox(cfg.outbox.dir, load_outbox_key(cfg.keys.outbox_key)).entries()
        assert len(entries) == 3
        for e in entries:  # encrypted at rest: no note text in the files
            raw = (Path(cfg.outbox.dir) / e.name).read_bytes()
            assert b"anxious" not in raw and b"homework" not in raw and b"roomnote.note" not in raw
        time.sleep(1.0)
        net.broker.start()
        assert svc.wait_delivered(15)
        wait_for(lambda: len(inbox.notes()) >= 6, 15, "six notes at the inbox")
        time.sleep(0.5)
        assert inbox.notes() == sorted(sent)  # every note, each exactly once
        assert inbox.inbox.duplicates == 0 or len(inbox.notes()) == 6
    finally:
        svc.stop()
        inbox.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum("cannot reach the broker" in m for m in errors) == 1  # one line per outage, not per retry
    assert verify_log(cfg.audit.file)[0] > 10


N_KILL = 500


def test_sigkill_with_notes_in_the_outbox_loses_none(net):
    cfg_path = box(net, "room-c")
    cfg = load_config(cfg_path)
    outbox = Outbox(cfg.outbox.dir, load_outbox_key(cfg.keys.outbox_key))
    ids = []
    rt, note = redacted_session("kill")
    for i in range(N_KILL):  # what a box that lost power with a backlog would hold
        copy = dataclasses.replace(note, note_id=uuid.uuid5(uuid.NAMESPACE_OID, f"kill-{i}").hex)
        ids.append(outbox.put(RedactedNote.from_note(copy)).message_id)
    inbox = InboxRunner(net, net.root / "inbox-kill", "inbox-kill")
    try:
        child = roomnote_child("publisher", "--config", str(cfg_path))
        wait_for(lambda: inbox.notes(), 20, "the first note at the inbox", poll=0.005)
        child.send_signal(signal.SIGKILL)  # kill -9 in the middle of delivering
        child.wait(10)
        # killed mid-delivery: some notes reached the inbox, and some of those (at least the
        # ones whose PUBACK was not yet processed) are still in the outbox, to be sent again
        assert inbox.notes() and outbox.entries()
        status = subprocess.run(  # the broker published the box's last will, retained
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(net.broker.port), "--cafile", str(net.pki.ca_file),
             "--cert", str(net.certs["monitor"].cert), "--key", str(net.certs["monitor"].key), "-V", "mqttv5",
             "-t", f"roomnote/v1/{OFFICE}/room-c/status", "-C", "1", "-W", "5"], capture_output=True, text=True)
        assert json.loads(status.stdout)["state"] == "offline"
        child = roomnote_child("publisher", "--config", str(cfg_path))
        wait_for(lambda: len(inbox.notes()) >= N_KILL, 40, "every note at the inbox")
        wait_for(lambda: not outbox.entries(), 10, "an empty outbox")
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=15)
        assert child.returncode == 0, err
        assert inbox.notes() == sorted(ids)  # none lost, none twice
    finally:
        inbox.close()


def test_a_publish_to_another_devices_topic_is_refused_and_reported(net, caplog):
    # configured as room-b but holding room-a's certificate: the ACL allows only room-a's topics
    cfg = load_config(box(net, "misconfigured", device="room-b", cert="room-a"))
    cap = Capture(net.broker, net.pki, net.certs["monitor"], net.root / "foreign.cap", f"roomnote/v1/{OFFICE}/room-b/#")
    svc = PublishingService(cfg)
    svc.start()
    try:
        wait_for(lambda: svc.connected, 10, "the box to connect")
        rt, note = redacted_session("foreign-1")
        with caplog.at_level(logging.ERROR):
            svc.put(note, rt)
            wait_for(lambda: any("refused" in r.getMessage() for r in caplog.records), 10, "the refusal")
        line = next(r.getMessage() for r in caplog.records if "refused" in r.getMessage())
        assert "Not authorized" in line and "ACL" in line
        assert len(svc.outbox) == 1  # kept: nothing is lost because of a broker refusal
    finally:
        svc.stop(timeout=0.5)
        cap.stop()
    assert not [t for t, _ in cap.messages() if t.endswith("/notes")]
    assert any(json.loads(line)["event"] == "publish_refused" for line in open(cfg.audit.file))


def test_a_note_that_finds_the_disk_full_is_sent_from_memory(net, tiny_disk, caplog):
    cfg = load_config(box(net, "full-disk", device="room-a", outbox={"dir": str(tiny_disk / "outbox")}))
    (tiny_disk / "outbox").mkdir(mode=0o700)
    fill_disk(tiny_disk)
    inbox = InboxRunner(net, net.root / "inbox-full", "inbox-full")
    svc = PublishingService(cfg)
    svc.start()
    try:
        wait_for(lambda: svc.connected, 10, "the box to connect")
        rt, note = redacted_session("full-disk-1")
        with caplog.at_level(logging.ERROR):
            svc.put(note, rt)
        assert any("disk is full" in r.getMessage() for r in caplog.records)
        assert svc.wait_delivered(10)
        wait_for(lambda: inbox.notes() == [f"{note.note_id}.v1"], 10, "the note at the inbox")
        assert not svc.outbox.entries()
    finally:
        svc.stop(timeout=0.2)
        inbox.close()


def test_a_note_leaves_the_outbox_only_on_its_own_puback_after_message_ids_wrap(net):
    """P7: events and heartbeats are acknowledged too; after paho's message ids wrap (65535 on
    one connection, a few weeks of heartbeats) such an old acknowledgement must not count as
    the PUBACK of a note that reuses its id. The broker is frozen, so no real PUBACK can come."""
    cfg = load_config(box(net, "wrap", device="room-a", mqtt={"heartbeat_s": 600}))
    svc = PublishingService(cfg)
    svc.start()
    frozen = False
    try:
        wait_for(lambda: svc.connected, 10, "the box to connect")
        first = svc._client._last_mid
        for i in range(3):
            svc.emit({"event": "pong", "id": f"wrap{i}"})
        time.sleep(1.0)  # sent and acknowledged
        assert svc._client._last_mid > first
        svc._client._last_mid = first  # as after 65535 more messages: the next ids are used again
        os.kill(net.broker.proc.pid, signal.SIGSTOP)
        frozen = True
        rt, note = redacted_session("wrap-1")
        svc.put(note, rt)
        time.sleep(1.0)
        assert [e.message_id for e in svc.outbox.entries()] == [f"{note.note_id}.v1"] and svc.delivered == 0
        os.kill(net.broker.proc.pid, signal.SIGCONT)
        frozen = False
        assert svc.wait_delivered(15)
        wait_for(lambda: svc.delivered == 1, 5, "the note's own PUBACK")
    finally:
        if frozen:
            os.kill(net.broker.proc.pid, signal.SIGCONT)
        svc.stop(timeout=0.5)


class CommandSender:
    """The practice side: publishes raw command payloads and collects the box's events."""

    def __init__(self, net, device: str):
        from roomnote.publish.client import new_client

        cfg = load_config(device_toml(net.root / "sender", net.pki, net.broker.port, "ws", net.certs["inbox-office1"]))
        self.base = f"roomnote/v1/{OFFICE}/{device}"
        self.events: list[dict] = []
        self.c = new_client(cfg.mqtt, "cmd-sender")
        self.c.on_message = lambda c, u, m: self.events.append(json.loads(m.payload))
        self.c.connect(cfg.mqtt.host, cfg.mqtt.port)
        self.c.loop_start()
        self.c.subscribe(f"{self.base}/events", qos=1)
        time.sleep(0.3)

    def send(self, name: str, payload: bytes) -> None:
        self.c.publish(f"{self.base}/commands/{name}", payload, qos=1).wait_for_publish(5)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def signed(key, name: str, fields: dict, ts: int | None = None, device: str = "room-d") -> bytes:
    """A command as the practice system signs it: for one box ("to"), with a time and a nonce."""
    body = {"id": secrets.token_hex(8), "to": f"{OFFICE}/{device}", **fields,
            "ts": ts if ts is not None else int(time.time()), "nonce": secrets.token_urlsafe(18)}
    body["sig"] = sign(key, signed_bytes(name, body))
    return json.dumps(body).encode()


def test_bad_commands_change_nothing_and_each_hears_why(net):
    practice = net.root / "practice" / "practice.key"
    pub = new_ed25519_pair(practice)
    other = net.root / "practice" / "intruder.key"
    new_ed25519_pair(other)
    key, bad_key = load_signing_key(practice), load_signing_key(other)
    cfg = load_config(box(net, "room-d", commands={"require_signature": True, "practice_public_key": str(pub)}))
    svc = PublishingService(cfg)
    svc.start()
    sender = CommandSender(net, "room-d")
    try:
        wait_for(lambda: svc.connected, 10, "the box to connect")
        rt, note = redacted_session("commands-1")
        svc.put(note, rt)
        assert svc.wait_delivered(10)
        nid = note.note_id
        before = (sorted(e.name for e in svc.outbox.entries()), svc.sessions.note_ids(), svc.sessions.get(nid).note.version)
        ping = signed(key, "ping", {})
        sender.send("ping", ping)
        wait_for(lambda: any(e["event"] == "pong" for e in sender.events), 10, "the pong")
        sender.events.clear()

        bad: list[tuple[str, bytes, str]] = []
        for i in range(4):  # under the rate limit (the flood test below goes over it)
            bad += [
                ("ping", b"{not json", "malformed"),
                ("ping", b"\xff\xfe\x00", "malformed"),
                ("finalize", b"[1, 2, 3]", "malformed"),
                ("finalize", json.dumps({"note_id": nid}).encode(), "malformed"),  # no id
                ("revise", b'{"id": "x", "note_id": "' + nid.encode() + b'", "instruction": "' + b"a" * 9000 + b'"}',
                 "too_large"),
                (f"reboot{i % 3}", json.dumps({"id": f"c{i}"}).encode(), "unknown_command"),
                ("finalize", json.dumps({"id": f"u{i}", "note_id": nid}).encode(), "unsigned"),
                ("finalize", signed(bad_key, "finalize", {"note_id": nid}), "bad_signature"),
                ("finalize", signed(key, "finalize", {"note_id": nid}, ts=int(time.time()) - 3600), "stale"),
                ("ping", ping, "replayed"),
                ("revise", signed(key, "revise", {"note_id": "0" * 31 + "g", "instruction": "rewrite as dap"}),
                 "invalid_args"),
                ("finalize", signed(key, "finalize", {"note_id": "f" * 32}), "out_of_order"),
            ]
        # a signature made for one command does not authorise another
        bad.append(("finalize", ping.replace(b"}", b', "note_id": "' + nid.encode() + b'"}', 1), "bad_signature"))
        assert len(bad) >= 40
        for name, payload, _ in bad:
            sender.send(name, payload)
        wait_for(lambda: len(sender.events) >= len(bad), 60, "an error event for every bad command")
        time.sleep(0.3)
        rejected = [e for e in sender.events if e["event"] == "command_rejected"]
        assert len(rejected) == len(sender.events) == len(bad)
        from collections import Counter
        assert Counter(e["reason"] for e in rejected) == Counter(r for _, _, r in bad)
        for e in rejected:  # nothing of the payload comes back (a random hex id may hold "aaaa")
            assert "a" * 32 not in json.dumps(e) and "rewrite" not in json.dumps(e)
        after = (sorted(e.name for e in svc.outbox.entries()), svc.sessions.note_ids(), svc.sessions.get(nid).note.version)
        assert after == before  # no state changed
        assert all(t.is_alive() for t in svc._threads)
        # ... and a good command still works
        sender.send("finalize", signed(key, "finalize", {"note_id": nid}))
        wait_for(lambda: any(e["event"] == "finalized" for e in sender.events), 10, "the finalize")
        assert nid not in svc.sessions
    finally:
        sender.close()
        svc.stop()
    verify_log(cfg.audit.file)
    # refusals are audited coalesced: a few entries that count them all, not one fsynced line each
    coalesced = [json.loads(line) for line in Path(cfg.audit.file).read_text().splitlines()
                 if '"commands_refused"' in line]
    assert 1 <= len(coalesced) <= 3
    assert sum(v for e in coalesced for k, v in e.items() if k.startswith("refused_")) == len(bad)


def test_consent_and_discard_reach_the_appliance_and_the_inbox_signs(net):
    from roomnote.errors import RoomnoteError

    practice = net.root / "practice-e" / "practice.key"
    pub = new_ed25519_pair(practice)
    key = load_signing_key(practice)
    cfg = load_config(box(net, "room-e", commands={"require_signature": True, "practice_public_key": str(pub)}))
    consents: list[str] = []

    def give_consent(ref: str) -> None:  # the appliance's side: a second consent while armed is refused
        if consents:
            raise RoomnoteError("already armed")
        consents.append(ref)

    svc = PublishingService(cfg, on_consent=give_consent, state=lambda: "armed" if consents else "idle")
    svc.start()
    sender = CommandSender(net, "room-e")
    try:
        wait_for(lambda: svc.connected, 10, "the box to connect")
        sender.send("consent", signed(key, "consent", {"session_ref": "consent-2026-0042"}, device="room-e"))
        sender.send("consent", signed(key, "consent", {"session_ref": "consent-2026-0043"}, device="room-e"))
        wait_for(lambda: len(sender.events) >= 2, 10, "two answers")
        assert consents == ["consent-2026-0042"]
        assert [e["event"] for e in sender.events[:2]] == ["consent_recorded", "command_rejected"]
        assert sender.events[1]["reason"] == "out_of_order"
        rt, note = redacted_session("discard-1")
        svc.put(note, rt)
        assert svc.wait_delivered(10)
        sender.send("discard", signed(key, "discard", {"note_id": note.note_id}, device="room-e"))
        wait_for(lambda: any(e["event"] == "discarded" for e in sender.events), 10, "the discard")
        assert note.note_id not in svc.sessions and svc.wait_delivered(10)  # its receipt went out too
        assert not list(Path(cfg.retention.dir).glob(f"{note.note_id}*"))
        ws = device_toml(net.root / "ws-e", net.pki, net.broker.port, "ws", net.certs["inbox-office1"])
        env = {**os.environ, "PYTHONPATH": str(REPO / "daemon")}
        base = [sys.executable, "-m", "roomnote", "inbox", "ping", "--device", "room-e", "--config", str(ws)]
        ok = subprocess.run(base + ["--sign-key", str(practice)], capture_output=True, text=True, env=env, timeout=60)
        assert ok.returncode == 0 and "room-e: pong" in ok.stdout, ok.stderr
        bad = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
        assert bad.returncode == 2 and "rejected ping: unsigned" in bad.stderr
        # a caller that sends many commands (the review page) passes the key it loaded once
        from roomnote.publish.inbox import send_command
        assert send_command(load_config(ws), "room-e", "ping", {}, sign_key=key, wait_s=10)["event"] == "pong"
    finally:
        sender.close()
        svc.stop()


@pytest.fixture(scope="module")
def other_pki(net):
    return Pki(net.root / "pki-other", name="some-other-ca")


def _first_error(cfg_path: Path) -> str:
    cfg = load_config(cfg_path)
    svc = PublishingService(cfg)
    svc.start()
    try:
        return wait_for(lambda: svc.last_error, 15, "a connection error")
    finally:
        svc.stop(timeout=0.2)


def test_unreachable_broker_is_one_clear_line(net):
    port = free_port()
    assert "cannot reach the broker at 127.0.0.1:%d" % port in _first_error(box(net, "unreach", device="room-a",
                                                                                    mqtt={"port": port}))


def test_broker_certificate_from_another_ca_is_rejected(net, other_pki):
    err = _first_error(box(net, "wrongca", device="room-a", mqtt={"ca_file": str(other_pki.ca_file)}))
    assert "broker's certificate" in err and "mqtt.ca_file" in err


def test_device_certificate_the_broker_does_not_trust_is_rejected(net, other_pki):
    net.certs["stranger"] = other_pki.issue("room-a")
    err = _first_error(box(net, "stranger", device="room-a", cert="stranger"))
    assert "rejected this device's certificate" in err


def test_expired_device_certificate_is_named(net):
    net.certs["expired"] = net.pki.issue("room-a", expired=True)
    err = _first_error(box(net, "expired", device="room-a", cert="expired"))
    assert "this device's certificate expired on" in err


def test_expired_broker_certificate_is_named(net):
    b = Broker(net.root / "broker-expired", net.pki, net.pki.issue("broker", server=True, expired=True)).start()
    try:
        err = _first_error(box(net, "srvexp", device="room-a", mqtt={"port": b.port}))
    finally:
        b.stop()
    assert "presented an expired certificate" in err


def test_refused_connection_names_the_reason(net):
    b = Broker(net.root / "broker-noid", net.pki, identity=False).start()  # no user for any certificate
    try:
        err = _first_error(box(net, "refused", device="room-a", mqtt={"port": b.port}))
    finally:
        b.stop()
    assert "refused the connection (Not authorized)" in err


def test_cli_reports_an_unreachable_broker_in_one_line(net):
    cfg_path = box(net, "cli-unreach", device="room-a", mqtt={"port": free_port()})
    cfg = load_config(cfg_path)
    rt, note = redacted_session("cli-unreach")
    Outbox(cfg.outbox.dir, load_outbox_key(cfg.keys.outbox_key)).put(RedactedNote.from_note(note))
    r = subprocess.run([sys.executable, "-m", "roomnote", "-q", "outbox", "send", "--config", str(cfg_path),
                        "--wait", "1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2, r.stderr  # the connection problem, then what is left in the outbox
    assert "cannot reach the broker" in lines[0] and "1 message(s) still in the outbox" in lines[1]
    assert len(Outbox(cfg.outbox.dir, load_outbox_key(cfg.keys.outbox_key))) == 1
