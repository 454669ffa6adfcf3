"""`roomnote run` as a child process: systemd notify (READY, STATUS, WATCHDOG), a session, a
withdrawal and SIGTERM while recording; afterwards nothing of the sessions is left in the
state, runtime or temp directories but the redacted notes (P1, P4)."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from appliance_rig import pcm_probes, read_pcm, wait_for
from conftest import REPO
from roommic import NAME, RoomMicrophone

TURNS = [  # made-up identifiers, as in test_process.py
    ("slt", "My name is Sarah Johnson and I have been feeling anxious most mornings."),
    ("slt", "My address is eighty one maple drive."),
]
CANARY = ["sarah", "johnson", "maple"]
SESSION_WORDS = ["anxious", "mornings", "drive"]


class NotifyListener:
    """A unix datagram socket standing where systemd's would be."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.running = True
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def lines(self, prefix: str) -> list[str]:
        return [m for _, m in self.messages if m.startswith(prefix)]

    def statuses(self) -> list[str]:
        return [m.split("=", 1)[1].split(":")[0] for m in self.lines("STATUS=")]

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class Daemon:
    def __init__(self, proc):
        self.proc = proc

    def send(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_speech):
    tmp = tmp_path_factory.mktemp("daemon")
    dirs = {name: tmp / name for name in ("state", "runtime", "tmp", "home", "cwd")}
    for d in dirs.values():
        d.mkdir()
    room = RoomMicrophone(tmp / "room")
    speech = read_pcm(make_speech(TURNS, "daemon-speech"))
    config = tmp / "roomnote.toml"
    config.write_text(f'[microphone]\ndevice = "{NAME}"\n[hardware]\nlong_press_s = 0.5\n[mqtt]\nenabled = false\n')
    notify = NotifyListener(tmp / "notify.sock")
    env = {**os.environ, **room.env, "NOTIFY_SOCKET": str(tmp / "notify.sock"), "WATCHDOG_USEC": "1000000",
           "STATE_DIRECTORY": str(dirs["state"]), "RUNTIME_DIRECTORY": str(dirs["runtime"]),
           "TMPDIR": str(dirs["tmp"]), "HOME": str(dirs["home"]), "XDG_CACHE_HOME": str(dirs["home"])}
    env.pop("JOURNAL_STREAM", None)
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "appliance_driver.py"), "run", "--config", str(config)],
                            cwd=dirs["cwd"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    daemon = Daemon(proc)
    notes = dirs["state"] / "notes"
    result = {"dirs": dirs, "notify": notify, "speech": speech, "notes": notes}
    try:
        wait_for(lambda: notify.lines("READY=1"), 60, "READY=1")
        result["ready_status"] = notify.lines("STATUS=")[-1]

        def to(state):
            wait_for(lambda: notify.statuses()[-1:] == [state], 20, f"STATUS {state}")

        # a whole session
        daemon.send("press")
        to("armed")
        daemon.send("press")
        to("recording")
        result["led_recording"] = daemon.send("led")
        room.speak(speech)
        room.wait_spoken()
        daemon.send("press")
        to("idle")
        result["notes_after_session"] = sorted(p.name for p in notes.iterdir())

        # a withdrawal
        daemon.send("press")
        to("armed")
        daemon.send("press")
        to("recording")
        room.speak(speech)
        time.sleep(3)
        daemon.send("hold 0.8")
        to("idle")
        result["led_after_withdrawal"] = daemon.send("led")
        result["notes_after_withdrawal"] = sorted(p.name for p in notes.iterdir())
        room.wait_spoken()

        # SIGTERM while recording: the note is finished before the process exits
        daemon.send("press")
        to("armed")
        daemon.send("press")
        to("recording")
        room.speak(speech[: 16000 * 3])
        room.wait_spoken()
        proc.send_signal(signal.SIGTERM)
        result["returncode"] = proc.wait(30)
        result["stderr"] = proc.stderr.read()
        result["notes_after_sigterm"] = sorted(p.name for p in notes.iterdir())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
        room.close()
    return result


def test_ready_status_and_watchdog_reach_systemd(run):
    n = run["notify"]
    assert len(n.lines("READY=1")) == 1
    assert run["ready_status"].startswith("STATUS=idle: ready (whisper/")
    assert len(n.lines("WATCHDOG=1")) >= 10  # every 0.5 s (WatchdogSec 1 s) for the whole run
    beats = [t for t, m in n.messages if m == "WATCHDOG=1"]
    assert max(np.diff(beats)) < 1.0  # never a gap systemd would restart us for
    assert n.statuses()[:1] == ["loading and verifying models"]
    states = n.statuses()
    for s in ("idle", "armed", "recording", "processing", "publishing"):
        assert s in states
    assert n.lines("STOPPING=1")
    assert run["returncode"] == 0, run["stderr"]


def test_session_note_withdrawal_and_sigterm(run):
    assert run["led_recording"] == "1.0"
    assert len(run["notes_after_session"]) == 2
    assert run["notes_after_withdrawal"] == run["notes_after_session"]  # withdrawal: nothing written
    assert run["led_after_withdrawal"] == "0.0"
    assert len(run["notes_after_sigterm"]) == 4  # SIGTERM: the note was finished, then exit
    note = json.loads((run["notes"] / run["notes_after_session"][0]).read_text())
    assert note["redaction_counts"].get("NAME", 0) >= 1 and note["redaction_counts"].get("ADDRESS", 0) >= 1


def test_p1_p4_nothing_of_the_sessions_is_left_behind(run):
    d = run["dirs"]
    files = sorted(p for root in d.values() for p in root.rglob("*") if p.is_file())
    assert files == sorted(run["notes"] / name for name in run["notes_after_sigterm"])
    blobs = [p.read_bytes() for p in files] + [run["stderr"].encode()]
    for blob in blobs:
        low = blob.decode().lower()
        assert not any(w in low for w in CANARY)
    # no audio in any file or log: no 32-byte window of the speech's PCM
    for probe in pcm_probes(run["speech"]):
        assert not any(probe in b for b in blobs)


def test_logs_are_structured_and_carry_no_words(run):
    err = run["stderr"]
    low = err.lower()
    assert not any(w in low for w in CANARY + SESSION_WORDS)
    assert re.search(r"^roomnote: state recording \[.*STATE=recording.*SESSION_ID=[0-9a-f]{16}", err, re.M)
    assert re.search(r"^roomnote: session discarded \[.*REASON=withdrawn at the box", err, re.M)
    assert re.search(r"^roomnote: recording stopped \[.*REASON=shutdown.*DURATION_S=", err, re.M)
