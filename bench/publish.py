#!/usr/bin/env python3
"""Publishing figures on loopback: `.venv/bin/python bench/publish.py`.

Starts a real mosquitto (TLS 1.2+, client certificates, ACL; the tests' setup) and the real
PublishingService, then prints:
- latency from a note entering the outbox (put(): egress check, encrypt, write, fsync, rename)
  to its PUBACK, one note at a time: median and 99th percentile over --notes notes;
- throughput: --notes notes put as fast as possible, until the last PUBACK (notes/s);
- recovery: the broker is stopped for --outage seconds while --backlog notes are queued,
  then started again: time from the broker accepting connections to the last PUBACK, with
  the default reconnect backoff (mqtt.retry_min_s 0.5 s doubling to retry_max_s 60 s).
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "daemon"))
sys.path.insert(0, str(REPO / "tests"))

from mqtt_helpers import Broker, Pki, device_toml, redacted_session  # noqa: E402
from roomnote.config import load_config  # noqa: E402
from roomnote.publish.keys import init_device_keys  # noqa: E402
from roomnote.publish.service import PublishingService  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=1000)
    ap.add_argument("--backlog", type=int, default=100)
    ap.add_argument("--outage", type=float, default=5.0)
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="roomnote-bench-") as tmp:
        root = Path(tmp)
        pki = Pki(root / "pki")
        broker = Broker(root / "broker", pki).start()
        cfg = load_config(device_toml(root / "box", pki, broker.port, "room-a", pki.issue("room-a"),
                                      mqtt={"retry_min_s": 0.5, "retry_max_s": 60.0, "heartbeat_s": 60}))
        init_device_keys(cfg.keys.outbox_key, cfg.keys.signing_key)
        rt, base = redacted_session("bench")
        notes = [dataclasses.replace(base, note_id=uuid.uuid4().hex) for _ in range(a.notes + a.backlog)]
        svc = PublishingService(cfg)
        acked: dict[str, float] = {}
        cond = threading.Condition()

        def on_delivered(message_id: str) -> None:
            with cond:
                acked[message_id] = time.perf_counter()
                cond.notify_all()

        svc.on_delivered = on_delivered
        svc.start()
        while not svc.connected:
            time.sleep(0.05)
        try:
            # 1. latency, one note at a time
            lat = []
            for note in notes[:a.notes]:
                t0 = time.perf_counter()
                svc.put(note, rt)
                mid = f"{note.note_id}.v1"
                with cond:
                    cond.wait_for(lambda: mid in acked, timeout=10)
                lat.append((acked[mid] - t0) * 1000)
            for note in notes[:a.notes]:  # finalise: keep the bench about delivery only
                svc.sessions.destroy(note.note_id)
            svc.wait_delivered(30)
            # 2. throughput
            fresh = [dataclasses.replace(base, note_id=uuid.uuid4().hex) for _ in range(a.notes)]
            acked.clear()
            t0 = time.perf_counter()
            for note in fresh:
                svc.put(note, rt)
            with cond:
                cond.wait_for(lambda: len(acked) >= a.notes, timeout=120)
            rate = a.notes / (max(acked.values()) - t0)
            for note in fresh:
                svc.sessions.destroy(note.note_id)
            # 3. recovery after a broker restart
            broker.stop()
            time.sleep(0.5)
            acked.clear()
            for note in notes[a.notes:]:
                svc.put(note, rt)
            time.sleep(a.outage)
            broker.start()
            t_up = time.perf_counter()
            with cond:
                cond.wait_for(lambda: len(acked) >= a.backlog, timeout=180)
            recovery = max(acked.values()) - t_up
        finally:
            for note in notes[a.notes:]:
                svc.sessions.destroy(note.note_id)
            svc.stop(timeout=1)
            broker.stop()

    lat.sort()
    p99 = lat[min(len(lat) - 1, int(round(0.99 * len(lat))) - 1)]
    print(f"outbox entry -> PUBACK latency over {a.notes} notes: median {statistics.median(lat):.1f} ms, "
          f"p99 {p99:.1f} ms")
    print(f"throughput: {a.notes} notes put back to back, {rate:.0f} notes/s through the outbox to PUBACK")
    print(f"recovery: broker down {a.outage:.0f} s with {a.backlog} notes queued; last PUBACK "
          f"{recovery:.2f} s after the broker was back (default backoff)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
