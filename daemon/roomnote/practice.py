"""`roomnote practice`: the practice side of the network, in one folder IT keeps safe.

    roomnote practice init DIR --office north [--office south] --broker-host broker.practice.lan
      DIR/practice.toml                     what was asked (offices, broker host and port)
      DIR/ca/practice-ca.pem, .key          the practice CA (key 0600, folder 0700); or theirs (--ca-cert/--ca-key)
      DIR/broker/broker.pem, .key           the broker's server certificate (SAN = --broker-host)
      DIR/broker/mosquitto.conf, roomnote.acl   TLS 1.2+, client certificates, CN = MQTT user, the ACL
      DIR/workstations/<office>/inbox-<office>.pem, .key, workstation.toml   one per office
    roomnote practice sign-box DIR CSR [--signing-key PUB]
      DIR/boxes/<device>.pem                the box's certificate (CN = device id, from its device.csr)
      DIR/device-keys/<device>.pub.pem      its receipt-signing key, for the review page

Everything is idempotent: what exists and is right is kept (keys are never replaced); a key
is written 0600 before any byte of it. The CN rules live here so nobody writes them by hand:
a box's CN is its device id, a workstation's is `inbox-<office>` (the ACL grants that name
read access to its office), and no box may be signed under a name the ACL treats specially.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RoomnoteError
from .storage import write_atomic

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
CA_DAYS = 3650
RESERVED = ("inbox-", "monitor", "broker")  # CN prefixes/names the ACL or the broker uses


class PracticeError(RoomnoteError):
    """One line: what is wrong and what to do."""


@dataclass
class Practice:
    """DIR/practice.toml: the offices and the broker this folder was set up for."""

    dir: Path
    offices: list[str] = field(default_factory=list)
    broker_host: str = "broker.practice.lan"
    broker_port: int = 8883
    days: int = 365

    @property
    def file(self) -> Path:
        return self.dir / "practice.toml"

    @classmethod
    def load(cls, d: Path) -> "Practice":
        f = d / "practice.toml"
        if not f.is_file():
            raise PracticeError(f"{d}: not a practice folder (no practice.toml); run 'roomnote practice init {d} "
                                "--office NAME' first")
        try:
            raw = tomllib.loads(f.read_text())
            return cls(d, list(raw["offices"]), str(raw["broker_host"]), int(raw["broker_port"]),
                       int(raw.get("days", 365)))
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as e:
            raise PracticeError(f"{f}: damaged ({e.__class__.__name__}); restore it from a backup") from None

    def save(self) -> None:
        offices = ", ".join(f'"{o}"' for o in self.offices)
        text = (f"# written by roomnote practice init; run it again to add an office\n"
                f"offices = [{offices}]\nbroker_host = \"{self.broker_host}\"\n"
                f"broker_port = {self.broker_port}\ndays = {self.days}\n")
        if not self.file.is_file() or self.file.read_text() != text:
            write_atomic(self.file, text.encode())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def write_private_key(path: Path, key) -> None:
    from cryptography.hazmat.primitives import serialization

    path.parent.mkdir(parents=True, exist_ok=True)
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # 0600 before any byte is in it
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    write_atomic(path, data)
    os.chmod(path, 0o644)  # certificates and configuration: readable by the broker's own user


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _load_key(path: Path):
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as e:
        raise PracticeError(f"{path}: not a readable unencrypted PEM private key ({e.__class__.__name__}); "
                            "give the key file itself, decrypted (openssl pkey -in KEY -out KEY.pem)") from None


def _load_cert(path: Path):
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as e:
        raise PracticeError(f"{path}: not a readable PEM certificate ({e.__class__.__name__})") from None


def _spki(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _cn(name) -> str:
    from cryptography.x509.oid import NameOID

    got = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(got[0].value) if got else ""


class _Ca:
    def __init__(self, cert, key):
        self.cert, self.key = cert, key

    def issue(self, cn: str, public_key, days: int, *, server_names: list[str] | None = None, ou: str = ""):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if ou:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
        b = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(self.cert.subject)
             .public_key(public_key).serial_number(x509.random_serial_number())
             .not_valid_before(_now() - dt.timedelta(minutes=5)).not_valid_after(_now() + dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if server_names:
            sans = []
            for n in server_names:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(n)))
                except ValueError:
                    sans.append(x509.DNSName(n))
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(self.key, hashes.SHA256())


def _check_name(what: str, value: str, longest: int = 64) -> str:
    if not NAME.match(value) or len(value) > longest:
        raise PracticeError(f"{what} {value!r}: use 1 to {longest} letters, digits, - and _ (it becomes an MQTT "
                            "topic level and a certificate name)")
    return value


def _check_host(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not HOSTNAME.match(host) or len(host) > 253:
        raise PracticeError(f"--broker-host {host!r}: expected the broker's DNS name or IP address as the boxes "
                            "will reach it (e.g. broker.practice.lan)")
    return host


def _ca(p: Practice, ca_cert: Path | None, ca_key: Path | None, done: list[str]) -> _Ca:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_f, key_f = p.dir / "ca" / "practice-ca.pem", p.dir / "ca" / "practice-ca.key"
    (p.dir / "ca").mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(p.dir / "ca", 0o700)  # the CA key's folder: only its owner may even list it
    if bool(ca_cert) != bool(ca_key):
        raise PracticeError("--ca-cert and --ca-key go together: give both files of the practice's own CA")
    if ca_cert and ca_key:  # the practice's own CA: copied in, checked to be a pair and a CA
        cert, key = _load_cert(ca_cert), _load_key(ca_key)
        if _spki(cert.public_key()) != _spki(key.public_key()):
            raise PracticeError(f"{ca_key}: is not the key of {ca_cert}; give the CA certificate's own key")
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise PracticeError(f"{ca_cert}: not a CA certificate (basicConstraints CA:TRUE missing); give the "
                                "certificate of the CA that should sign the broker, workstations and boxes")
        if cert_f.exists() and cert_f.read_bytes() != _pem(cert):
            raise PracticeError(f"{cert_f}: this folder already has another CA; use a new folder for another CA")
        if not cert_f.exists():
            write_private_key(key_f, key)
            _write_public(cert_f, _pem(cert))
            done.append(f"practice CA {cert_f}: copied from {ca_cert}")
        else:
            done.append(f"practice CA {cert_f}: kept")
        return _Ca(cert, key)
    if cert_f.exists() or key_f.exists():
        if not (cert_f.exists() and key_f.exists()):
            missing = key_f if cert_f.exists() else cert_f
            raise PracticeError(f"{missing}: missing while its pair is there; restore it from a backup (a new CA "
                                "would invalidate every certificate it signed)")
        cert, key = _load_cert(cert_f), _load_key(key_f)
        done.append(f"practice CA {cert_f}: kept")
        return _Ca(cert, key)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "roomnote practice CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(_now() - dt.timedelta(minutes=5))
            .not_valid_after(_now() + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    write_private_key(key_f, key)
    _write_public(cert_f, _pem(cert))
    done.append(f"practice CA {cert_f}: created (key {key_f}, 0600: keep it offline)")
    return _Ca(cert, key)


def _leaf(ca: _Ca, cert_f: Path, key_f: Path, cn: str, days: int, done: list[str], what: str, *,
          server_names: list[str] | None = None, ou: str = "") -> None:
    """A key pair and certificate; kept when the certificate is the CA's, for this key, name and hosts."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    if key_f.exists():
        key = _load_key(key_f)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        write_private_key(key_f, key)
    if cert_f.exists():
        cert = _load_cert(cert_f)
        ok = (cert.issuer == ca.cert.subject and _cn(cert.subject) == cn
              and _spki(cert.public_key()) == _spki(key.public_key())
              and cert.not_valid_after_utc > _now() + dt.timedelta(days=30))
        if ok and server_names:
            try:
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                have = {str(v) for v in san.get_values_for_type(x509.DNSName)}
                have |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
            except x509.ExtensionNotFound:
                have = set()
            ok = set(server_names) <= have
        if ok:
            done.append(f"{what} {cert_f}: kept")
            return
    existed = cert_f.exists()
    _write_public(cert_f, _pem(ca.issue(cn, key.public_key(), days, server_names=server_names, ou=ou)))
    done.append(f"{what} {cert_f}: {'reissued' if existed else 'created'} (CN {cn})")


def acl_text(offices: list[str]) -> str:
    lines = ["# roomnote topic ACL, written by `roomnote practice init`; run it again to add an office.",
             "# A box's certificate CN is its device id (%u); it writes only its own topics and reads its commands.",
             "# A workstation's certificate CN is inbox-<office>: it reads the office and sends commands.", ""]
    for o in offices:
        lines += [f"# office {o}",
                  *(f"pattern write roomnote/v1/{o}/%u/{k}" for k in ("notes", "status", "events", "receipts")),
                  f"pattern read roomnote/v1/{o}/%u/commands/#", "",
                  f"user inbox-{o}", f"topic read roomnote/v1/{o}/#", f"topic write roomnote/v1/{o}/+/commands/#", ""]
    return "\n".join(lines)


def mosquitto_conf(p: Practice) -> str:
    b = p.dir.resolve() / "broker"
    return "\n".join([
        "# Practice broker (mosquitto 2.x) for roomnote, written by `roomnote practice init`.",
        "# Use in place (mosquitto -c THIS_FILE) or copy it to /etc/mosquitto/conf.d/roomnote.conf with the",
        "# files it names (the paths below are this folder's).",
        "per_listener_settings false",
        f"listener {p.broker_port}",
        f"cafile {p.dir.resolve() / 'ca' / 'practice-ca.pem'}",
        f"certfile {b / 'broker.pem'}",
        f"keyfile {b / 'broker.key'}",
        "tls_version tlsv1.2",
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
        f"acl_file {b / 'roomnote.acl'}",
        "# notes queued for an offline workstation survive a broker restart",
        "persistence true",
        f"persistence_location {b / 'data'}/",
        ""])


def workstation_toml(p: Practice, office: str) -> str:
    ws = p.dir.resolve() / "workstations" / office
    return "\n".join([
        f"# The therapist's workstation of office {office}: roomnote review --config THIS_FILE",
        "# (or roomnote inbox listen --config THIS_FILE --out DIR). Written by roomnote practice init.",
        "[device]",
        f'id = "inbox-{office}"',
        f'office = "{office}"',
        "",
        "[mqtt]",
        f'host = "{p.broker_host}"',
        f"port = {p.broker_port}",
        f'ca_file = "{p.dir.resolve() / "ca" / "practice-ca.pem"}"',
        f'cert_file = "{ws / f"inbox-{office}.pem"}"',
        f'key_file = "{ws / f"inbox-{office}.key"}"',
        "",
        "[review]",
        'inbox = "~/roomnote-inbox"',
        f'device_keys = "{p.dir.resolve() / "device-keys"}"   # <device>.pub.pem, added by practice sign-box',
        ""])


def init(d: Path, offices: list[str], broker_host: str | None = None, broker_port: int | None = None, *,
         days: int | None = None, ca_cert: Path | None = None, ca_key: Path | None = None) -> list[str]:
    """Create or complete the practice folder; returns one line per thing done or kept."""
    for o in offices:
        _check_name("--office", o, 58)  # the workstation's CN inbox-<office> is at most 64 characters
    if d.exists() and not d.is_dir():
        raise PracticeError(f"{d}: not a directory; choose a folder for the practice's files")
    p = Practice.load(d) if (d / "practice.toml").is_file() else Practice(d)
    if not p.offices and not offices:
        raise PracticeError("give at least one --office NAME (the office id of its boxes' office files)")
    if broker_host is not None:
        p.broker_host = _check_host(broker_host)
    if broker_port is not None:
        if not 1 <= broker_port <= 65535:
            raise PracticeError(f"--broker-port {broker_port}: expected 1 to 65535")
        p.broker_port = broker_port
    if days is not None:
        if not 1 <= days <= 825:
            raise PracticeError(f"--days {days}: expected 1 to 825 (browsers and TLS stacks refuse longer)")
        p.days = days
    p.offices += [o for o in offices if o not in p.offices]
    try:
        d.mkdir(parents=True, exist_ok=True)
        done: list[str] = []
        ca = _ca(p, ca_cert, ca_key, done)
        (d / "broker" / "data").mkdir(parents=True, exist_ok=True)
        _leaf(ca, d / "broker" / "broker.pem", d / "broker" / "broker.key", p.broker_host, p.days, done,
              "broker certificate", server_names=[p.broker_host])
        for name, text in (("roomnote.acl", acl_text(p.offices)), ("mosquitto.conf", mosquitto_conf(p))):
            _write_text(d / "broker" / name, text, done, "broker " + ("ACL" if name.endswith("acl") else "configuration"))
        for o in p.offices:
            ws = d / "workstations" / o
            ws.mkdir(mode=0o700, parents=True, exist_ok=True)
            _leaf(ca, ws / f"inbox-{o}.pem", ws / f"inbox-{o}.key", f"inbox-{o}", p.days, done,
                  f"workstation certificate of {o}", ou=o)
            _write_text(ws / "workstation.toml", workstation_toml(p, o), done, f"workstation configuration of {o}")
        (d / "boxes").mkdir(exist_ok=True)
        (d / "device-keys").mkdir(exist_ok=True)
        p.save()
    except OSError as e:
        raise PracticeError(f"{e.filename or d}: cannot write ({e.strerror}); choose a folder you can write") from None
    return done


def _write_text(path: Path, text: str, done: list[str], what: str) -> None:
    if path.is_file() and path.read_text() == text:
        done.append(f"{what} {path}: kept")
        return
    existed = path.exists()
    _write_public(path, text.encode())
    done.append(f"{what} {path}: {'updated' if existed else 'created'}")


def sign_box(d: Path, csr_file: Path, *, signing_key: Path | None = None, out: Path | None = None) -> list[str]:
    """Sign a box's device.csr (from `roomnote provision`) with the practice CA."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    p = Practice.load(d)
    try:
        csr = x509.load_pem_x509_csr(csr_file.read_bytes())
    except OSError as e:
        raise PracticeError(f"{csr_file}: cannot read ({e.strerror}); give the box's "
                            "/etc/roomnote/tls/device.csr") from None
    except ValueError:
        raise PracticeError(f"{csr_file}: not a PEM certificate request; give the box's "
                            "/etc/roomnote/tls/device.csr") from None
    if not csr.is_signature_valid:
        raise PracticeError(f"{csr_file}: its signature does not verify (damaged or altered); provision the box again")
    device = _cn(csr.subject)
    ous = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    office = str(ous[0].value) if ous else ""
    if not NAME.match(device) or device.startswith(RESERVED[0]) or device in RESERVED[1:]:
        raise PracticeError(f"{csr_file}: device name {device!r} cannot be a box's (letters, digits, - and _, not "
                            "inbox-..., monitor or broker: the ACL gives those names other rights)")
    if office not in p.offices:
        raise PracticeError(f"{csr_file}: office {office!r} is not one of this practice's ({', '.join(p.offices)}); "
                            f"add it with 'roomnote practice init {d} --office {office or 'NAME'}'")
    ca = _Ca(_load_cert(d / "ca" / "practice-ca.pem"), _load_key(d / "ca" / "practice-ca.key"))
    cert_f = out or d / "boxes" / f"{device}.pem"
    done: list[str] = []
    if cert_f.exists():
        old = _load_cert(cert_f)
        if (_spki(old.public_key()) == _spki(csr.public_key()) and old.issuer == ca.cert.subject
                and old.not_valid_after_utc > _now() + dt.timedelta(days=30)):
            done.append(f"box certificate {cert_f}: kept (CN {device}, office {office})")
        else:
            cert_f.replace(cert_f.with_name(cert_f.name + ".replaced"))
    if not done:
        cert = ca.issue(device, csr.public_key(), p.days, ou=office)
        cert_f.parent.mkdir(parents=True, exist_ok=True)
        _write_public(cert_f, _pem(cert))
        done.append(f"box certificate {cert_f}: signed (CN {device}, office {office}, {p.days} days)")
    if signing_key is not None:
        from .publish.keys import load_public_key

        load_public_key(signing_key, "device signing key")  # a bad file is one line, before it is copied
        dest = d / "device-keys" / f"{device}.pub.pem"
        data = signing_key.read_bytes()
        if dest.is_file() and dest.read_bytes() == data:
            done.append(f"receipt key {dest}: kept")
        else:
            _write_public(dest, data)
            done.append(f"receipt key {dest}: copied (the review page verifies {device}'s receipts with it)")
    done.append(f"next, on the box: roomnote provision --office OFFICE.toml --cert {cert_f.name}")
    return done


# ---- the command line (registered by roomnote.cli) -------------------------------------------

def add_commands(sub) -> None:
    pr = sub.add_parser("practice", help="IT: the practice CA, the broker's and workstations' certificates, the "
                        "mosquitto configuration and ACL, and signing each box's certificate request")
    psub = pr.add_subparsers(required=True, metavar="ACTION")
    i = psub.add_parser("init", help="create (or complete) the practice folder: CA, broker, one workstation per "
                        "office; run again to add an office (keys are never replaced)")
    i.add_argument("dir", type=Path, metavar="DIR", help="the practice folder (keep it safe: it holds the CA key)")
    i.add_argument("--office", action="append", default=[], metavar="NAME",
                   help="an office id, as in its boxes' office files (repeat for each office)")
    i.add_argument("--broker-host", metavar="HOST",
                   help="the broker's name or address as boxes reach it (default: broker.practice.lan)")
    i.add_argument("--broker-port", type=int, metavar="PORT", help="the broker's TLS port (default: 8883)")
    i.add_argument("--days", type=int, metavar="N", help="validity of the certificates it issues (default: 365)")
    i.add_argument("--ca-cert", type=Path, metavar="FILE", help="use the practice's own CA certificate (with --ca-key)")
    i.add_argument("--ca-key", type=Path, metavar="FILE", help="the key of --ca-cert (PEM, unencrypted)")
    i.set_defaults(func=cmd_init)
    s = psub.add_parser("sign-box", help="sign a box's certificate request (its /etc/roomnote/tls/device.csr)")
    s.add_argument("dir", type=Path, metavar="DIR", help="the practice folder")
    s.add_argument("csr", type=Path, metavar="CSR", help="the box's device.csr, written by roomnote provision")
    s.add_argument("--signing-key", type=Path, metavar="PUB",
                   help="the box's device-signing.key.pub.pem: copied to DIR/device-keys so the review page "
                        "verifies its deletion receipts")
    s.add_argument("--out", type=Path, metavar="FILE", help="where to write the certificate "
                   "(default: DIR/boxes/<device>.pem)")
    s.set_defaults(func=cmd_sign_box)


def cmd_init(args) -> int:
    for line in init(args.dir, args.office, args.broker_host, args.broker_port, days=args.days,
                     ca_cert=args.ca_cert, ca_key=args.ca_key):
        print(line)
    return 0


def cmd_sign_box(args) -> int:
    for line in sign_box(args.dir, args.csr, signing_key=args.signing_key, out=args.out):
        print(line)
    return 0
