"""`roomnote run` on a practice network: the real daemon as a child process (room microphone,
mock GPIO pins, notify socket) publishing to a real mosquitto. External consent over MQTT, a
session with made-up identifiers to the inbox, a discard while recording, finalize with a
receipt, SIGTERM; then nothing of the sessions on the wire or on the box (P1, P2, P4, P5)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from appliance_rig import pcm_probes, read_pcm, wait_for
from conftest import REPO
from mqtt_helpers import OFFICE, Broker, Capture, Pki, device_toml
from roommic import NAME, RoomMicrophone
from test_daemon import Daemon, NotifyListener

TURNS = [  # made-up identifiers, as in test_daemon.py
    ("slt", "My name is Sarah Johnson and I have been feeling anxious most mornings."),
    ("slt", "My address is eighty one maple drive."),
]
CANARY = ["sarah", "johnson", "maple"]
SESSION_WORDS = ["anxious", "mornings"]


def roomnote(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "roomnote", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def events(capture: Capture) -> list[dict]:
    out = []
    for line in capture.out.read_text().splitlines():
        topic, _, payload = line.partition(" ")
        if topic.endswith("/events"):
            try:
                out.append(json.loads(bytes.fromhex(payload)))
            except ValueError:
                pass  # a line being written right now
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_speech):
    from roomnote.config import load_config
    from roomnote.publish.inbox import send_command

    tmp = tmp_path_factory.mktemp("daemon-publish")
    dirs = {name: tmp / name for name in ("state", "runtime", "tmp", "home", "cwd")}
    for d in dirs.values():
        d.mkdir()
    state = dirs["state"]
    pki = Pki(tmp / "pki")
    broker = Broker(tmp / "broker", pki).start()
    box_cfg = device_toml(
        tmp / "etc", pki, broker.port, "room-a", pki.issue("room-a"),
        outbox={"dir": str(state / "outbox")}, retention={"dir": str(state / "sessions")},
        keys={"outbox_key": str(state / "keys" / "outbox.key"), "signing_key": str(state / "keys" / "signing.key")},
        audit={"file": str(state / "audit.log")}, microphone={"device": NAME}, consent={"mode": "external"})
    ws_cfg = device_toml(tmp / "ws", pki, broker.port, "ws", pki.issue(f"inbox-{OFFICE}"))
    ws = load_config(ws_cfg)
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon"), "HOME": str(dirs["home"]), "TMPDIR": str(dirs["tmp"]),
           "XDG_CACHE_HOME": str(dirs["home"])}
    env.pop("JOURNAL_STREAM", None)
    assert roomnote("keys", "init", "--config", str(box_cfg), env=env).returncode == 0
    device_key = state / "keys" / "signing.key.pub.pem"
    inbox_dir = tmp / "ws" / "inbox"
    capture = Capture(broker, pki, pki.issue("monitor"), tmp / "all.cap")
    inbox = subprocess.Popen([sys.executable, "-m", "roomnote", "inbox", "listen", "--config", str(ws_cfg),
                              "--out", str(inbox_dir), "--device-key", str(device_key)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    room = RoomMicrophone(tmp / "room")
    speech = read_pcm(make_speech(TURNS, "daemon-speech"))
    notify = NotifyListener(tmp / "notify.sock")
    denv = {**env, **room.env, "NOTIFY_SOCKET": str(tmp / "notify.sock"), "STATE_DIRECTORY": str(state),
            "RUNTIME_DIRECTORY": str(dirs["runtime"])}
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "appliance_driver.py"), "run", "--config",
                             str(box_cfg)], cwd=dirs["cwd"], env=denv, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    daemon = Daemon(proc)
    r = {"dirs": dirs, "speech": speech, "inbox_dir": inbox_dir, "capture": capture, "notify": notify}

    def to(s):
        wait_for(lambda: notify.statuses()[-1:] == [s], 30, f"STATUS {s}")

    def command(name, **fields):
        return send_command(ws, "room-a", name, fields, wait_s=20)

    try:
        wait_for(lambda: notify.lines("READY=1"), 90, "READY=1")
        wait_for(lambda: any(e["event"] == "state" for e in events(capture)), 30, "the box on the broker")
        # external consent: a press without it is refused
        daemon.send("press")
        wait_for(lambda: any(e["event"] == "refused" for e in events(capture)), 15, "the refusal")
        r["statuses_after_refusal"] = notify.statuses()
        r["consent"] = command("consent", session_ref="appt-0042")
        to("armed")
        daemon.send("press")
        to("recording")
        room.speak(speech)
        room.wait_spoken()
        daemon.send("press")
        v1 = wait_for_file(inbox_dir, "*.v1.json", 120)
        r["note_id"] = note_id = v1.name.split(".")[0]
        to("idle")

        # the practice system withdraws the next session while it is being recorded (P4)
        r["nothing_to_discard"] = command("discard")
        command("consent", session_ref="appt-0043")
        to("armed")
        daemon.send("press")
        to("recording")
        room.speak(speech[: 16000 * 3])
        room.wait_spoken()
        r["discard"] = command("discard", session_ref="appt-0043")
        to("idle")

        # the therapist finalises the note: the box destroys the transcript and signs a receipt (P5)
        r["finalize"] = roomnote("inbox", "finalize", note_id, "--config", str(ws_cfg), "--out", str(inbox_dir),
                                 env=env)
        receipt = wait_for_file(inbox_dir / "receipts", "*.json", 20)
        r["verify"] = roomnote("verify-receipt", str(receipt), "--key", str(device_key), env=env)
        time.sleep(2)  # a second note (there must be none) would have arrived by now
        r["inbox_notes"] = sorted(p.name for p in inbox_dir.glob("*.v*.json"))
        r["beats"] = [json.loads(bytes.fromhex(line.partition(" ")[2])) for line in capture.out.read_text().splitlines()
                      if line.split(" ")[0].endswith("/status")]
        proc.send_signal(signal.SIGTERM)
        r["returncode"] = proc.wait(60)
        r["stderr"] = proc.stderr.read()
        time.sleep(0.5)
    finally:
        for p in (proc, inbox):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        capture.stop()
        broker.stop()
        notify.close()
        room.close()
    r["messages"] = capture.messages()
    return r


def wait_for_file(directory, pattern: str, timeout: float):
    found: list = []

    def look():
        found[:] = sorted(directory.glob(pattern)) if directory.exists() else []
        return found

    wait_for(look, timeout, f"{pattern} in {directory}")
    return found[0]


def test_external_consent_session_note_and_receipt(run):
    assert "armed" not in run["statuses_after_refusal"]  # the press without consent did not arm
    assert run["consent"]["event"] == "consent_recorded"
    assert run["nothing_to_discard"]["event"] == "command_rejected"
    assert run["nothing_to_discard"]["reason"] == "out_of_order"
    assert run["discard"]["event"] == "discarded"
    nid = run["note_id"]
    assert run["inbox_notes"] == [f"{nid}.v1.json"]  # the discarded session made no note
    note = json.loads((run["inbox_dir"] / f"{nid}.v1.json").read_text())
    assert note["redaction_counts"].get("NAME", 0) >= 1 and "appt-0042" in json.dumps(note)
    assert run["finalize"].returncode == 0 and "finalized" in run["finalize"].stdout, run["finalize"].stderr
    assert run["verify"].returncode == 0 and "receipt ok: finalized" in run["verify"].stdout
    assert run["returncode"] == 0, run["stderr"]
    assert {b.get("appliance") for b in run["beats"]} >= {"idle"}  # the heartbeat carries the appliance state
    kinds = {e["event"] for e in events(run["capture"])}
    assert {"refused", "consent_recorded", "started", "stopped", "queued", "delivered", "discarded", "finalized"} <= kinds
    queued = next(e for e in events(run["capture"]) if e["event"] == "queued")
    assert queued["note"] == nid and queued["session"]  # the session's id and its note's, nothing else


def test_nothing_of_the_sessions_on_the_wire_or_left_on_the_box(run):
    msgs = run["messages"]
    assert any(t.endswith("/notes") for t, _ in msgs)
    probes = pcm_probes(run["speech"])
    for topic, payload in msgs:  # P1, P2: everything any client could read
        low = payload.lower()
        assert not any(w.encode() in low for w in CANARY), topic
        assert not any(probe in payload for probe in probes), topic
    d = run["dirs"]
    state = d["state"]
    assert not list((state / "outbox").iterdir())
    assert [p.name for p in (state / "sessions").iterdir()] in ([], ["command-nonces"])
    for name in ("runtime", "tmp", "home", "cwd"):
        assert not list(d[name].rglob("*")), name
    blobs = [p.read_bytes() for p in state.rglob("*") if p.is_file()] + [run["stderr"].encode()]
    for blob in blobs:  # P5: the transcript and the note are gone from the box once finalised
        low = blob.lower()
        assert not any(w.encode() in low for w in CANARY + SESSION_WORDS)
        assert not any(probe in blob for probe in probes)


def test_a_publishing_misconfiguration_stops_start_up_in_one_line(tmp_path):
    (tmp_path / "notify.sock").parent.mkdir(exist_ok=True)
    notify = NotifyListener(tmp_path / "notify.sock")
    config = tmp_path / "roomnote.toml"
    config.write_text(f'[microphone]\ndevice = "{NAME}"\n[mqtt]\ncert_file = "{tmp_path / "missing.pem"}"\n'
                      f'ca_file = "{tmp_path / "missing.pem"}"\nkey_file = "{tmp_path / "missing.key"}"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon"), "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
           "STATE_DIRECTORY": str(tmp_path / "state")}
    env.pop("JOURNAL_STREAM", None)
    try:
        r = roomnote("run", "--config", str(config), env=env)
        time.sleep(0.3)
    finally:
        notify.close()
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "mqtt.ca_file" in lines[0] and "not found" in lines[0], r.stderr
    assert not notify.lines("READY=1")
