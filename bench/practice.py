"""How long IT waits for the practice side: `roomnote practice init` (CA, broker, two workstations)
on a fresh folder and again with nothing to change, and `practice sign-box` of a box's request.
The real command in a child process each time; medians of 3, wall time and CPU (user+sys).

    .venv/bin/python bench/practice.py
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "daemon")}


def timed(*args: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "roomnote", *args], check=True, capture_output=True, env=ENV)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def csr(path: Path, device: str) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "north")])
    req = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(ec.generate_private_key(ec.SECP256R1()),
                                                                             hashes.SHA256())
    path.write_bytes(req.public_bytes(serialization.Encoding.PEM))
    return path


def main() -> int:
    runs: dict[str, list[tuple[float, float]]] = {"init": [], "again": [], "sign": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(3):
            d = Path(tmp) / f"practice{i}"
            office = ["--office", "north", "--office", "south", "--broker-host", "broker.practice.lan"]
            runs["init"].append(timed("practice", "init", str(d), *office))
            runs["again"].append(timed("practice", "init", str(d), *office))
            runs["sign"].append(timed("practice", "sign-box", str(d), str(csr(Path(tmp) / f"b{i}.csr", f"room-{i}"))))
    names = {"init": "practice init (CA, broker, 2 workstations), fresh folder",
             "again": "practice init again (nothing to change)", "sign": "practice sign-box (one request)"}
    for key, label in names.items():
        wall = statistics.median(w for w, _ in runs[key])
        cpu = statistics.median(c for _, c in runs[key])
        print(f"{label}: median {wall:.2f} s wall, {cpu:.2f} s CPU (user+sys) of 3")
    print("(each a fresh python process: most of the time is starting python and importing roomnote)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
