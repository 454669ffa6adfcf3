"""A whole session over the network: synthesised speech with made-up identifiers through the real
pipeline, `process --publish --serve`, the inbox, revise, finalize, and the receipt (P1, P2, P5, P7)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import wave

import numpy as np
import pytest

from conftest import REPO
from mqtt_helpers import OFFICE, Broker, Capture, Pki, device_toml

CANARY_TURNS = [
    ("rms", "Hello, welcome back. How have you been this week?"),
    ("slt", "My name is Sarah Johnson and I have been feeling anxious most mornings."),
    ("slt", "My address is eighty one maple drive. Call me at five five five, two one nine, four three eight seven."),
    ("rms", "For homework this week, try writing down the worried thought. We will meet again next week."),
]
CANARY_WORDS = ["sarah", "johnson", "maple"]
# The number as words or digits, standing alone: "555" inside a hex id or "12.555 s" is not it.
PHONE = re.compile(r"five five five|two one nine|(?<![\w.:])(?:555|2194387)(?![\w.:])")


def roomnote(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "roomnote", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def session(tmp_path_factory, make_speech):
    """Run the whole session once; the tests below check what it left behind."""
    root = tmp_path_factory.mktemp("session")
    wav = make_speech(CANARY_TURNS, "publish-canary")
    pki = Pki(root / "pki")
    broker = Broker(root / "broker", pki).start()
    box_root, ws_root = root / "box", root / "ws"
    box_cfg = device_toml(box_root, pki, broker.port, "room-a", pki.issue("room-a"))
    ws_cfg = device_toml(ws_root, pki, broker.port, "ws", pki.issue("inbox-office1"))
    sandbox = {name: root / name for name in ("home", "tmp", "cwd")}
    for d in sandbox.values():
        d.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon"), "HOME": str(sandbox["home"]),
           "TMPDIR": str(sandbox["tmp"]), "XDG_CACHE_HOME": str(sandbox["home"])}
    assert roomnote("keys", "init", "--config", str(box_cfg), env=env).returncode == 0
    device_key = box_root / "keys" / "signing.key.pub.pem"
    inbox_dir = ws_root / "inbox"
    capture = Capture(broker, pki, pki.issue("monitor"), root / "all.cap")
    inbox = subprocess.Popen([sys.executable, "-m", "roomnote", "inbox", "listen", "--config", str(ws_cfg),
                              "--out", str(inbox_dir), "--device-key", str(device_key)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    box = subprocess.Popen([sys.executable, "-m", "roomnote", "process", str(wav), "--publish", "--serve",
                            "--config", str(box_cfg)], env=env, cwd=sandbox["cwd"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = {"broker": broker, "root": root, "box_root": box_root, "inbox_dir": inbox_dir, "device_key": device_key, "env": env,
              "sandbox": sandbox, "wav": wav, "box_cfg": box_cfg}
    try:
        v1 = wait_for(lambda: sorted(inbox_dir.glob("*.v1.json")), 120, "the note at the inbox")[0]
        note_id = v1.name.split(".")[0]
        result["note_id"] = note_id
        result["held_during"] = sorted(p.name for p in (box_root / "sessions").iterdir())
        r = roomnote("inbox", "revise", note_id, "rewrite as dap", "--config", str(ws_cfg), "--out", str(inbox_dir),
                     env=env)
        result["revise"] = r
        wait_for(lambda: (inbox_dir / f"{note_id}.v2.json").exists(), 30, "the revised note")
        result["bad_revise"] = roomnote("inbox", "revise", note_id, "make it sound nicer", "--config", str(ws_cfg),
                                        "--out", str(inbox_dir), env=env)
        result["finalize"] = roomnote("inbox", "finalize", note_id, "--config", str(ws_cfg), "--out", str(inbox_dir),
                                      env=env)
        out, err = box.communicate(timeout=30)  # --serve ends once the note is finalised
        result["box"] = (box.returncode, out, err)
        wait_for(lambda: list((inbox_dir / "receipts").glob("*.json")), 15, "the receipt")
        # the box's publisher (as after a restart) knows nothing of the finalised session any more
        audit = box_root / "audit.log"
        connects = audit.read_text().count('"broker_connected"')
        publisher = subprocess.Popen([sys.executable, "-m", "roomnote", "publisher", "--config", str(box_cfg)],
                                     env=env, cwd=sandbox["cwd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: audit.read_text().count('"broker_connected"') > connects, 15, "the publisher")
            result["again"] = roomnote("inbox", "finalize", note_id, "--config", str(ws_cfg), "--out",
                                       str(inbox_dir), env=env)
        finally:
            publisher.terminate()
            publisher.wait(15)
        time.sleep(0.5)
    finally:
        for p in (box, inbox):
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        capture.stop()
        broker.stop()
    result["inbox_out"] = inbox.stdout.read()
    result["messages"] = capture.messages()
    return result


def test_note_revision_and_receipt_reach_the_workstation(session):
    s = session
    code, out, err = s["box"]
    assert code == 0, err
    assert s["revise"].returncode == 0 and "revised" in s["revise"].stdout, s["revise"].stderr
    assert s["finalize"].returncode == 0 and "finalized" in s["finalize"].stdout, s["finalize"].stderr
    nid = s["note_id"]
    v1 = json.loads((s["inbox_dir"] / f"{nid}.v1.json").read_text())
    v2 = json.loads((s["inbox_dir"] / f"{nid}.v2.json").read_text())
    assert v1["format"] == "soap" and v2["format"] == "dap" and v2["version"] == 2
    for stem in (f"{nid}.v1", f"{nid}.v2"):
        assert (s["inbox_dir"] / f"{stem}.md").read_text().startswith("# ")
        assert (s["inbox_dir"] / f"{stem}.txt").exists()
    # the session's note held for revision while it was open, under its id only
    assert f"{nid}.rt" in s["held_during"] and f"{nid}.meta.json" in s["held_during"]
    assert "signature ok" in s["inbox_out"]


def test_out_of_order_and_ungrounded_commands_are_refused_in_one_line(session):
    bad, again = session["bad_revise"], session["again"]
    assert bad.returncode == 2 and "rejected revise: failed" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert again.returncode == 2 and "rejected finalize: out_of_order" in again.stderr


def test_receipt_verifies_and_a_tampered_one_fails(session, tmp_path):
    s = session
    receipt_file = next((s["inbox_dir"] / "receipts").glob("*.json"))
    receipt = json.loads(receipt_file.read_text())
    assert receipt["action"] == "finalized" and receipt["note_id"] == s["note_id"] and receipt["note_version"] == 2
    assert set(receipt["destroyed"]) >= {"redacted_transcript", "session_key"}
    v2 = (s["inbox_dir"] / f"{s['note_id']}.v2.json").read_bytes()
    assert receipt["note_sha256"] == hashlib.sha256(v2).hexdigest()  # the version the therapist holds
    ok = roomnote("verify-receipt", str(receipt_file), "--key", str(s["device_key"]), env=s["env"])
    assert ok.returncode == 0 and "receipt ok: finalized" in ok.stdout
    tampered = tmp_path / "tampered.json"
    tampered.write_text(receipt_file.read_text().replace('"finalized"', '"ttl_expired"'))
    bad = roomnote("verify-receipt", str(tampered), "--key", str(tampered.parent / "nokey.pem"), env=s["env"])
    assert bad.returncode == 2
    bad = roomnote("verify-receipt", str(tampered), "--key", str(s["device_key"]), env=s["env"])
    assert bad.returncode == 2 and "altered" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_audit_chain_verifies_and_a_tampered_one_fails(session, tmp_path):
    s = session
    log = s["box_root"] / "audit.log"
    ok = roomnote("audit", "verify", "--config", str(s["box_cfg"]), env=s["env"])
    assert ok.returncode == 0 and "chain intact" in ok.stdout
    lines = log.read_text().splitlines()
    events = [json.loads(x)["event"] for x in lines]
    for e in ("note_queued", "note_delivered", "note_revised", "transcript_destroyed", "receipt_delivered"):
        assert e in events
    for i, change in ((3, lambda e: {**e, "version": 7}), (5, None)):
        bad_log = tmp_path / f"audit-{i}.log"
        kept = list(lines)
        if change:
            kept[i] = json.dumps(change(json.loads(kept[i])), sort_keys=True, separators=(",", ":"))
        else:
            del kept[i]
        bad_log.write_text("\n".join(kept) + "\n")
        r = roomnote("audit", "verify", "--file", str(bad_log), env=s["env"])
        assert r.returncode == 2 and f"line {i + 1}" in r.stderr


def test_nothing_of_the_session_remains_on_the_box(session):
    s = session
    box = s["box_root"]
    assert not list((box / "outbox").iterdir())
    assert [p.name for p in (box / "sessions").iterdir()] in ([], ["command-nonces"])
    for d in s["sandbox"].values():  # HOME, TMPDIR and the working directory stay empty
        assert not list(d.rglob("*")), d
    text = b"".join(p.read_bytes() for p in box.rglob("*") if p.is_file())
    for word in CANARY_WORDS + ["anxious", "homework", "worried"]:
        assert word.encode() not in text.lower()


def test_everything_on_the_wire_is_free_of_identifiers_and_audio(session):
    msgs = session["messages"]
    topics = {t.rsplit("/", 1)[-1] if "/commands/" not in t else "commands" for t, _ in msgs}
    assert {"notes", "status", "events", "receipts", "commands"} <= topics
    with wave.open(str(session["wav"])) as w:
        pcm = w.readframes(w.getnframes())
    samples = np.frombuffer(pcm, np.int16)
    loud = int(np.argmax(np.abs(samples) > 2000))
    probe = pcm[loud * 2: loud * 2 + 64]  # 32 samples of speech
    for topic, payload in msgs:
        low = payload.lower()
        assert not any(w.encode() in low for w in CANARY_WORDS), topic
        assert not PHONE.search(low.decode("utf-8", "replace")), topic
        assert probe not in payload and not payload.startswith(b"RIFF"), topic
        assert len(payload) < 64 * 1024
    beats = [json.loads(p) for t, p in msgs if t.endswith("/status") and b'"online"' in p]
    assert beats and {"uptime_s", "appliance", "models", "free_disk_mb", "temperature_c", "outbox",
                      "audit_head"} <= set(beats[-1])
    assert "silero-vad" in beats[-1]["models"]
    notes = [json.loads(p) for t, p in msgs if t.endswith("/notes")]
    assert {n["version"] for n in notes} == {1, 2}
    assert all(t.startswith(f"roomnote/v1/{OFFICE}/room-a/") for t, _ in msgs)


def test_a_note_made_while_the_broker_is_down_is_delivered_by_a_later_process(session):
    """`process --publish` with the broker away: queued, the command ends, `outbox send` delivers it later."""
    s = session  # its broker has been stopped by now
    outbox = s["box_root"] / "outbox"
    r = roomnote("process", str(s["wav"]), "--publish", "--wait", "1", "--config", str(s["box_cfg"]), env=s["env"])
    assert r.returncode == 0, r.stderr
    assert "queued in the outbox" in r.stdout and "not delivered yet (cannot reach the broker" in r.stdout
    queued = sorted(p.name.split(".", 1)[1] for p in outbox.iterdir())
    assert len(queued) == 2 and queued[0].endswith(".v1.msg") and queued[1].startswith("receipt.")  # note, receipt
    assert "sarah" not in r.stdout.lower() and "anxious" not in r.stdout.lower()  # the note is not printed
    s["broker"].start()
    try:
        sent = roomnote("outbox", "send", "--config", str(s["box_cfg"]), "--wait", "20", env=s["env"])
    finally:
        s["broker"].stop()
    assert sent.returncode == 0 and "2 message(s) delivered" in sent.stdout, sent.stderr
    assert not list(outbox.iterdir())
