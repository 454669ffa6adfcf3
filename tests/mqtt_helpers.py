"""A real mosquitto broker for the tests: generated CA and certificates, TLS required, ACL.

Every test module that talks MQTT starts its own broker on a free loopback port. Devices
may publish only under roomnote/v1/<office>/<their certificate CN>/..., the inbox reads the
office and writes commands, and "monitor" (mosquitto_sub in the tests) reads everything.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OFFICE = "office1"
# Debian installs the broker in /usr/sbin, which is not on every user's PATH
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Issued:
    cert: Path
    key: Path


class Pki:
    """A CA that issues server and client certificates into a directory."""

    def __init__(self, directory: Path, name: str = "roomnote-test-ca"):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(_now() - dt.timedelta(days=1)).not_valid_after(_now() + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = self.dir / f"{name}.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, cn: str, *, server: bool = False, expired: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        if expired:
            before, after = _now() - dt.timedelta(days=10), _now() - dt.timedelta(days=1)
        else:
            before, after = _now() - dt.timedelta(hours=1), _now() + dt.timedelta(days=10)
        b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(before).not_valid_after(after)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                             x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        tag = f"{cn}{'-expired' if expired else ''}"
        out = Issued(self.dir / f"{tag}.pem", self.dir / f"{tag}.key")
        out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(out.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
        os.close(fd)
        return out


ACL = f"""# devices: only their own topics (CN of the certificate = device id)
pattern write roomnote/v1/{OFFICE}/%u/notes
pattern write roomnote/v1/{OFFICE}/%u/status
pattern write roomnote/v1/{OFFICE}/%u/events
pattern write roomnote/v1/{OFFICE}/%u/receipts
pattern read roomnote/v1/{OFFICE}/%u/commands/#

user inbox-{OFFICE}
topic read roomnote/v1/{OFFICE}/#
topic write roomnote/v1/{OFFICE}/+/commands/#

user monitor
topic read #
"""


class Broker:
    """mosquitto with TLS 1.2+, client certificates required, identity = CN, ACL, persistence."""

    def __init__(self, directory: Path, pki: Pki, server: Issued | None = None, *, identity: bool = True,
                 ca_file: Path | None = None):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        server = server or pki.issue("broker", server=True)
        (self.dir / "acl").write_text(ACL)
        (self.dir / "data").mkdir(exist_ok=True)
        lines = [f"listener {self.port} {HOST}", f"cafile {ca_file or pki.ca_file}", f"certfile {server.cert}",
                 f"keyfile {server.key}", "require_certificate true", "tls_version tlsv1.2",
                 f"use_identity_as_username {'true' if identity else 'false'}", "allow_anonymous false",
                 f"acl_file {self.dir / 'acl'}", "persistence true", f"persistence_location {self.dir / 'data'}/",
                 "log_dest stderr", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to "mosquitto" and cannot read the test's key files
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "broker.log"

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


def device_toml(root: Path, pki: Pki, broker_port: int, device: str, cert: Issued, **extra: dict) -> Path:
    """A full roomnote configuration for one box (or workstation) under root."""
    sections = {
        "device": {"id": device, "office": OFFICE},
        "mqtt": {"host": HOST, "port": broker_port, "ca_file": str(pki.ca_file), "cert_file": str(cert.cert),
                 "key_file": str(cert.key), "retry_min_s": 0.1, "retry_max_s": 1.0, "heartbeat_s": 2},
        "outbox": {"dir": str(root / "outbox")},
        "retention": {"dir": str(root / "sessions")},
        "keys": {"outbox_key": str(root / "keys" / "outbox.key"), "signing_key": str(root / "keys" / "signing.key")},
        "audit": {"file": str(root / "audit.log")},
    }
    for section, values in extra.items():
        sections.setdefault(section, {}).update(values)
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for k, v in values.items():
            lines.append(f"{k} = {_toml(v)}")
    root.mkdir(parents=True, exist_ok=True)
    path = root / "roomnote.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Capture:
    """mosquitto_sub as an independent client: everything on `#`, written raw to a file."""

    def __init__(self, broker: Broker, pki: Pki, monitor: Issued, out: Path, topic: str = "#"):
        self.out = out
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", HOST, "-p", str(broker.port), "--cafile", str(pki.ca_file), "--cert",
             str(monitor.cert), "--key", str(monitor.key), "-V", "mqttv5", "-q", "1", "-t", topic, "-v",
             "-F", "%t %x"],  # topic and payload as hex: binary-safe
            stdout=open(out, "w"), stderr=subprocess.PIPE)
        time.sleep(0.3)

    def messages(self) -> list[tuple[str, bytes]]:
        out = []
        for line in self.out.read_text().splitlines():
            topic, _, hexpayload = line.partition(" ")
            out.append((topic, bytes.fromhex(hexpayload)))
        return out

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def redacted_session(session_id: str):
    """A small redacted transcript and its note, composed by the real composer."""
    from roomnote.notes import SessionFacts, compose_note
    from roomnote.transcript import RedactedSegment, RedactedTranscript, RedactionReport

    segs = [
        RedactedSegment("s0001", 0.5, 4.0, "how have you been since last week"),
        RedactedSegment("s0002", 4.5, 9.0, "i have been feeling anxious most mornings and [NAME] keeps calling me"),
        RedactedSegment("s0003", 9.5, 14.0, "for homework this week try writing down the worried thought"),
    ]
    rt = RedactedTranscript(segs, RedactionReport({"NAME": 1}), 15.0, 12.0, "pocketsphinx/en-us")
    end = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone.utc)
    facts = SessionFacts(session_id, "room-a", end - dt.timedelta(seconds=15), end, 15.0, 12.0,
                         "pocketsphinx/en-us", "verbal")
    return rt, compose_note(rt, "soap", facts)


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 96 KiB filesystem (tmpfs) that can be filled up: a full disk for the outbox."""
    d = tmp_path / "tiny"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("needs root to mount a small tmpfs for a real full disk")
    yield d
    subprocess.run(["umount", str(d)])


def fill_disk(d: Path) -> Path:
    filler = d / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError:
        pass  # ENOSPC: the disk is full now
    finally:
        os.close(fd)
    return filler
