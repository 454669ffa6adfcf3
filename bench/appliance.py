#!/usr/bin/env python3
"""The appliance live: `.venv/bin/python bench/appliance.py` (part of `make bench`).

Runs the real daemon (`roomnote run`, default engine, on gpiozero mock pins; see
tests/appliance_driver.py) as a child process, with the room microphone of the tests (a
real ALSA capture device through PortAudio, fed from a FIFO; see tests/roommic.py), and
records two sessions of a synthesised therapy conversation:

- 5 minutes at real pace: CPU share of one core while recording (the daemon's own
  user+system time over wall time), and the time from the stop press to the note being in
  the sink (the note directory; later the outbox);
- 30 minutes (the 5-minute session six times), played --speed times faster than real time
  so the benchmark takes minutes, not half an hour (recognition must then keep up at that
  pace, a harder test): the same stop-to-note time, the overflow count.

Also the daemon's peak resident memory (VmHWM) over the whole run.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "daemon"), str(REPO / "tests"), str(REPO / "bench")]

from asr import peak_rss_mb, session_wav  # noqa: E402  (bench/asr.py: the synthesised 5-minute session)
from roommic import NAME, RoomMicrophone  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


class Notify:
    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.status = ""
        self.ready = threading.Event()
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self):
        while True:
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            for line in data.splitlines():
                if line == "READY=1":
                    self.ready.set()
                elif line.startswith("STATUS="):
                    self.status = line[7:].split(":")[0]

    def wait(self, state: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while self.status != state:
            if time.monotonic() > end:
                raise RuntimeError(f"daemon did not reach {state} (at {self.status})")
            time.sleep(0.005)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", type=float, default=5.0, help="pace of the 30-minute session (1 = real time)")
    ap.add_argument("--short-minutes", type=float, default=5.0)
    ap.add_argument("--long-minutes", type=float, default=30.0)
    args = ap.parse_args()

    src = session_wav("en", 5.0)
    with wave.open(str(src)) as w:
        base = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    def minutes_of(m: float) -> np.ndarray:
        n = int(m * 60 * 16000)
        return np.tile(base, n // len(base) + 1)[:n]

    tmp = Path(tempfile.mkdtemp(prefix="roomnote-bench-"))
    room = RoomMicrophone(tmp / "room")
    state = tmp / "state"
    config = tmp / "roomnote.toml"
    config.write_text(f'[microphone]\ndevice = "{NAME}"\n[mqtt]\nenabled = false\n')
    notify = Notify(tmp / "notify.sock")
    env = {**os.environ, **room.env, "NOTIFY_SOCKET": str(tmp / "notify.sock"), "STATE_DIRECTORY": str(state),
           "TMPDIR": str(tmp)}
    log = open(tmp / "daemon.log", "w")
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "appliance_driver.py"), "run", "--config", str(config)],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)

    def press() -> None:
        proc.stdin.write("press\n")
        proc.stdin.flush()
        proc.stdout.readline()

    def session(audio: np.ndarray, speed: float) -> dict:
        notes = state / "notes"
        before = set(notes.glob("*.json")) if notes.exists() else set()
        room.speed = speed
        press(); notify.wait("armed")
        press(); notify.wait("recording")
        t0, c0 = time.monotonic(), cpu_seconds(proc.pid)
        room.speak(audio)
        room.wait_spoken(timeout=len(audio) / 16000 / speed + 120)
        t1, c1 = time.monotonic(), cpu_seconds(proc.pid)
        press()
        stopped = time.monotonic()
        while not (set(notes.glob("*.json")) - before and set(notes.glob("*.md")) - {p.with_suffix(".md") for p in before}):
            time.sleep(0.005)
        note_after = time.monotonic() - stopped
        notify.wait("idle")
        return {"cpu": (c1 - c0) / (t1 - t0), "after_stop": note_after, "wall": t1 - t0}

    try:
        notify.ready.wait(120)
        short = session(minutes_of(args.short_minutes), 1.0)
        long = session(minutes_of(args.long_minutes), args.speed)
        rss = peak_rss_mb(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        room.close()
        log.close()
    text = (tmp / "daemon.log").read_text()
    shutil.rmtree(tmp)
    overflows = [int(x) for x in re.findall(r"recording stopped \[.*OVERFLOWS=(\d+)", text)]
    audio_min = [float(x) / 60 for x in re.findall(r"session recognised \[.*AUDIO_S=([\d.]+)", text)]
    engine = re.search(r"ENGINE=(\S+)", text).group(1).rstrip("]")

    print(f"engine: {engine} (default); microphone: ALSA file plugin fed at pace, through PortAudio")
    print(f"{'session':30} {'audio min':>9} {'CPU % of a core':>16} {'stop -> note s':>15} {'overflows':>10}")
    print(f"{f'{args.short_minutes:g} min, real time':30} {audio_min[0]:9.1f} {100 * short['cpu']:16.1f} "
          f"{short['after_stop']:15.2f} {overflows[0]:10d}")
    print(f"{f'{args.long_minutes:g} min, played at {args.speed:g}x':30} {audio_min[1]:9.1f} {100 * long['cpu']:16.1f} "
          f"{long['after_stop']:15.2f} {overflows[1]:10d}")
    print(f"peak RSS of the daemon over both sessions: {rss:.0f} MB")
    print("(targets: CPU <= 25 % at real time, stop -> note < 3 s, peak RSS < 400 MB, 0 overflows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
