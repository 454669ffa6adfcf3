#!/usr/bin/env python3
"""A box under a command flood: `.venv/bin/python bench/command_flood.py`.

Starts a real mosquitto (TLS, client certificates, ACL; the tests' setup) and the real
PublishingService, then for --rounds rounds publishes --junk junk commands as fast as one
client at --rate a second (deeply nested JSON, bad ids, unknown names, invalid arguments; QoS 0) followed by
one valid ping, and prints, as medians over the rounds:
- the ping's answer time after the flood (and an idle ping's, for comparison);
- audit log lines added per round (refusals are coalesced: docs/threat-model.md);
- wall and CPU time (user+sys of this process: the box and the sending client; mosquitto's
  own CPU is not counted) per round.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "daemon"))
sys.path.insert(0, str(REPO / "tests"))

from mqtt_helpers import OFFICE, Broker, Pki, device_toml  # noqa: E402
from roomnote.config import load_config  # noqa: E402
from roomnote.publish.client import new_client  # noqa: E402
from roomnote.publish.keys import init_device_keys  # noqa: E402
from roomnote.publish.service import PublishingService  # noqa: E402

JUNK = [("ping", b"[" * 3000 + b"]" * 3000), ("finalize", b"{" * 4000), ("revise", b"not json"),
        ("ping", b'{"id": "x\\n"}'), ("reboot", b'{"id": "r"}'), ("discard", b'{"id": "d", "note_id": "zz"}')]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--junk", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=1250.0, help="junk per second (the hostile test: 5,000 in 4 s)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="roomnote-bench-") as tmp:
        root = Path(tmp)
        pki = Pki(root / "pki")
        broker = Broker(root / "broker", pki).start()
        cfg = load_config(device_toml(root / "box", pki, broker.port, "room-a", pki.issue("room-a"),
                                      mqtt={"heartbeat_s": 60}))
        init_device_keys(cfg.keys.outbox_key, cfg.keys.signing_key)
        svc = PublishingService(cfg)
        svc.start()
        ws = load_config(device_toml(root / "ws", pki, broker.port, "ws", pki.issue("inbox-office1")))
        base = f"roomnote/v1/{OFFICE}/room-a"
        answers: dict[str, float] = {}
        got = threading.Condition()

        def on_message(c, u, m):
            ev = json.loads(m.payload)
            with got:
                answers.setdefault(str(ev.get("id")), time.perf_counter())
                got.notify_all()

        c = new_client(ws.mqtt, "bench-flood")
        c.on_message = on_message
        c.connect(ws.mqtt.host, ws.mqtt.port)
        c.loop_start()
        c.subscribe(f"{base}/events", qos=1)
        deadline = time.monotonic() + 10
        while not svc.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)

        def ping(pid: str) -> float:
            sent = time.perf_counter()
            c.publish(f"{base}/commands/ping", json.dumps({"id": pid}), qos=1).wait_for_publish(10)
            with got:
                got.wait_for(lambda: pid in answers, 120)
            return answers.get(pid, float("nan")) - sent

        idle = [ping(f"idle{i}") for i in range(5)]
        flood_ping, audit_lines, walls, cpus = [], [], [], []
        for r in range(a.rounds):
            time.sleep(11)  # the previous round's refusals are audited (coalesced every 10 s) and rates refill
            lines0 = len(Path(cfg.audit.file).read_text().splitlines())
            w0, c0 = time.perf_counter(), cpu()
            for i in range(a.junk):
                name, payload = JUNK[i % len(JUNK)]
                c.publish(f"{base}/commands/{name}", payload, qos=0)
                if i % 50 == 49:
                    time.sleep(max(0.0, w0 + (i + 1) / a.rate - time.perf_counter()))
            flood_ping.append(ping(f"flood{r}"))
            walls.append(time.perf_counter() - w0)
            cpus.append(cpu() - c0)
            time.sleep(10.5)
            audit_lines.append(len(Path(cfg.audit.file).read_text().splitlines()) - lines0)
        c.disconnect()
        c.loop_stop()
        svc.stop()
        broker.stop()
    med = statistics.median
    print(f"idle ping answered in {med(idle) * 1000:.0f} ms (median of {len(idle)})")
    print(f"{a.junk} junk commands at {a.rate:.0f}/s then a ping: ping answered {med(flood_ping) * 1000:.0f} ms after "
          f"it was sent (rounds: {', '.join(f'{x:.2f}' for x in flood_ping)} s); flood + answer {med(walls):.2f} s "
          f"wall, {med(cpus):.2f} s CPU (user+sys, this process) (medians of {a.rounds} rounds)")
    print(f"audit log lines added per round: {med(audit_lines):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
