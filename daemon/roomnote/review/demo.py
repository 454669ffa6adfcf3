"""`make review-demo`: a whole practice on this computer's loopback, in one command.

    python -m roomnote.review.demo [DIR]        (default DIR: build/review-demo)

It sets up the practice as IT would (`roomnote practice init`: CA, broker, workstation), starts
mosquitto on the configuration that wrote, gives a box its certificate (`practice sign-box`),
synthesises a short two-voice session (flite), starts the review page and a box processing
that session (`roomnote process --publish --serve`), and prints the page's address. Ctrl-C
stops all of it. Everything it writes is under DIR; the session is made up.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

OFFICE, DEVICE = "demo", "room-demo"


def _free_port(wanted: int = 0) -> int:
    """wanted if it is free (the page's usual port), else any free one."""
    for port in (wanted, 0) if wanted else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise SystemExit("review-demo: no free port on 127.0.0.1")


def _wait_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"review-demo: {what} exited; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"review-demo: {what} did not start within 30 s; see {log}")


def _box_csr(box: Path) -> Path:
    """The box's TLS key and request, as `roomnote provision` makes them (without root)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from ..practice import write_private_key

    key = ec.generate_private_key(ec.SECP256R1())
    write_private_key(box / "device.key", key)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEVICE),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, OFFICE)])
    csr = box / "device.csr"
    from cryptography.hazmat.primitives import serialization
    csr.write_bytes(x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
                    .public_bytes(serialization.Encoding.PEM))
    return csr


def _box_toml(d: Path, box: Path, port: int) -> Path:
    path = box / "roomnote.toml"
    path.write_text("\n".join([
        f'[device]\nid = "{DEVICE}"\noffice = "{OFFICE}"',
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nca_file = "{d}/ca/practice-ca.pem"',
        f'cert_file = "{box}/device.pem"\nkey_file = "{box}/device.key"\nheartbeat_s = 10',
        f'[outbox]\ndir = "{box}/outbox"', f'[retention]\ndir = "{box}/sessions"',
        f'[keys]\noutbox_key = "{box}/keys/outbox.key"\nsigning_key = "{box}/keys/device-signing.key"',
        f'[audit]\nfile = "{box}/audit.log"', ""]))
    return path


def main(argv: list[str] | None = None) -> int:
    from .. import practice
    from ..synth import DEMO_TURNS, synthesise

    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "build/review-demo").resolve()
    if shutil.which("mosquitto") is None:
        raise SystemExit("review-demo: mosquitto is not installed; run: apt-get install mosquitto (make deps)")
    if root.exists():
        shutil.rmtree(root)  # a fresh practice each time: nothing of an earlier demo is reused
    root.mkdir(parents=True)
    d, box, port, web = root / "practice", root / "box", _free_port(), _free_port(8765)
    py = [sys.executable, "-m", "roomnote"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).parents[2]),
                                                                       os.environ.get("PYTHONPATH", "")) if p)}
    procs: list[subprocess.Popen] = []
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        for line in practice.init(d, [OFFICE], "127.0.0.1", port):
            print(f"  {line}")
        conf = root / "mosquitto.conf"
        extra = ["log_dest file " + str(root / "mosquitto.log")] + (["user root"] if os.geteuid() == 0 else [])
        conf.write_text((d / "broker/mosquitto.conf").read_text() + "\n".join(extra) + "\n")
        procs.append(subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        _wait_port(port, procs[-1], "mosquitto", root / "mosquitto.log")
        box.mkdir()
        box_cfg = _box_toml(d, box, port)
        subprocess.run(py + ["keys", "init", "--config", str(box_cfg)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        for line in practice.sign_box(d, _box_csr(box), signing_key=box / "keys/device-signing.key.pub.pem",
                                      out=box / "device.pem")[:-1]:
            print(f"  {line}")
        wav = root / "session.wav"
        synthesise(DEMO_TURNS, wav)
        print(f"  synthesised a made-up two-voice session: {wav}")
        ws = d / f"workstations/{OFFICE}/workstation.toml"
        review_log = root / "review.log"
        procs.append(subprocess.Popen(py + ["review", "--config", str(ws), "--port", str(web), "--inbox",
                                            str(root / "inbox")], env=env, stdout=open(review_log, "ab"),
                                      stderr=subprocess.STDOUT))
        _wait_port(web, procs[-1], "the review page", review_log)
        box_log = root / "box.log"
        procs.append(subprocess.Popen(py + ["process", str(wav), "--publish", "--serve", "--config", str(box_cfg)],
                                      env=env, stdout=open(box_log, "ab"), stderr=subprocess.STDOUT))
        print(f"\nThe review page: http://127.0.0.1:{web}/\n"
              f"The box {DEVICE} is processing the session; its note appears on the page in a minute or so.\n"
              f"Logs (ids and counts only) in {root}. Ctrl-C stops the box, the review page and the broker.",
              flush=True)
        while not stop["now"] and procs[1].poll() is None:
            time.sleep(0.5)
        if procs[1].poll() is not None:
            print(f"review-demo: the review page stopped; see {review_log}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        pass
    finally:
        for p in reversed(procs):  # the box first (it sends its receipts while the broker is there)
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        print("review-demo: stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
