"""`roomnote provision`: one office file -> a box ready for its first session.

    office file (firmware-config/office.example.toml)
      -> <root>/etc/roomnote/roomnote.toml        the daemon's full configuration (0644, root)
      -> <root>/etc/roomnote/tls/ca.pem           the practice CA (from broker.ca_file)
      -> <root>/etc/roomnote/tls/device.key       TLS key, EC P-256 (0600, owner)
      -> <root>/etc/roomnote/tls/device.csr       for the practice CA (CN = device id, OU = office)
      -> <root>/etc/roomnote/tls/device.pem       the certificate IT supplies (--cert or certificate.file)
      -> <root>/var/lib/roomnote/keys/outbox.key, device-signing.key (+ .pub.pem)   (0600, owner)

Paths inside the written configuration are the box's own (/etc/roomnote/...), so a card
mounted at --root is provisioned for the box it goes into. Running it again changes nothing
that is already right; keys are never replaced without --rotate-keys.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pwd
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from .config import CHOICES, RANGES, Config, TopicsConfig, config_from_dict
from .errors import ConfigError, RoomnoteError
from .regular_file import NotRegularFile, read_regular
from .storage import write_atomic

ETC = Path("/etc/roomnote")
STATE = Path("/var/lib/roomnote")
TLS = ETC / "tls"
CONFIG_FILE = ETC / "roomnote.toml"
PRACTICE_KEY = ETC / "practice.pub.pem"
MANIFEST = ETC / "manifest.toml"  # the office's copy of the models manifest (models pinned by IT)


class OfficeError(ConfigError):
    """Everything wrong with an office file at once: one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# office key -> configuration key. Sections not listed map one to one onto the daemon's
# configuration (notes, redaction, consent, hardware, microphone, session).
RENAMED = {
    "office.id": "device.office",
    "office.device": "device.id",
    "office.language": "asr.language",
    "office.vosk_model": "asr.vosk_model",
    "office.whisper_model": "asr.whisper_model",
    "broker.enabled": "mqtt.enabled",
    "broker.host": "mqtt.host",
    "broker.port": "mqtt.port",
    "broker.tls_version": "mqtt.tls_version",
    "broker.heartbeat_s": "mqtt.heartbeat_s",
    "retention.transcript_ttl_s": "retention.transcript_ttl_s",
    "commands.require_signature": "commands.require_signature",
    "commands.max_skew_s": "commands.max_skew_s",
}
DIRECT = ["notes.format", "redaction.pseudonyms", "redaction.topic_encoder",
          *[f"redaction.topics.{f.name}" for f in dataclasses.fields(TopicsConfig)],
          "consent.mode", "consent.arm_timeout_s", "consent.valid_s",
          "hardware.button_pin", "hardware.led_pin", "hardware.long_press_s",
          "microphone.device", "microphone.rate", "session.max_minutes", "session.warn_minutes"]
OFFICE_KEYS = {**RENAMED, **{k: k for k in DIRECT}}
# files the office file names (relative to the office file), copied onto the box
FILE_KEYS = ("broker.ca_file", "certificate.file", "commands.practice_public_key", "models.manifest")
REQUIRED = ("office.id", "office.device")
TOPIC_SAFE = ("office.id", "office.device")


@dataclass(frozen=True)
class Office:
    source: Path
    settings: dict[str, Any]  # configuration key -> value, only what the office sets
    files: dict[str, Path]  # FILE_KEYS present -> absolute path

    @property
    def device(self) -> str:
        return self.settings["device.id"]

    @property
    def office(self) -> str:
        return self.settings["device.office"]


def _config_type(key: str) -> type:
    cls: Any = Config
    for part in key.split("."):
        cls = get_type_hints(cls)[part]
    return cls


def _flatten(raw: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in raw.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def load_office(path: Path) -> Office:
    """Read and check an office file; OfficeError lists every problem, one line each."""
    src = str(path)
    try:
        raw = tomllib.loads(read_regular(path).decode("utf-8-sig"))  # a FIFO is refused, a BOM accepted
    except FileNotFoundError:
        raise OfficeError([f"{src}: office file not found; pass the office's file with --office"]) from None
    except NotRegularFile:
        raise OfficeError([f"{src}: not a regular file (a FIFO, device or directory); pass the office's file "
                           "with --office"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise OfficeError([f"{src}: cannot read the office file ({e.__class__.__name__})"]) from None
    except tomllib.TOMLDecodeError as e:
        raise OfficeError([f"{src}: not valid TOML ({e}); fix the syntax"]) from None
    flat = _flatten(raw)
    problems: list[str] = []
    settings: dict[str, Any] = {}
    files: dict[str, Path] = {}
    for key, value in flat.items():
        if key in FILE_KEYS:
            if not isinstance(value, str):
                problems.append(f"{src}: {key}: expected a file name (string), got {value!r}")
            elif value:
                files[key] = (Path(path).parent / value).resolve()
            continue
        if key not in OFFICE_KEYS:
            problems.append(f"{src}: {key}: unknown key; see firmware-config/office.example.toml for the keys")
            continue
        problem = _check(src, key, OFFICE_KEYS[key], value)
        if problem:
            problems.append(problem)
        else:
            want = _config_type(OFFICE_KEYS[key])
            settings[OFFICE_KEYS[key]] = float(value) if want is float else value
    for key in REQUIRED:
        if key not in flat:
            problems.append(f"{src}: {key}: missing; every office file names its office and device")
    enabled = settings.get("mqtt.enabled", True)
    if enabled:
        for key in ("broker.host", "broker.ca_file"):
            if not flat.get(key):
                problems.append(f"{src}: {key}: missing; the box needs the practice broker "
                                "(or set broker.enabled = false for a box without a practice network)")
    elif settings.get("consent.mode") == "external":
        problems.append(f"{src}: consent.mode: 'external' needs the practice network; set broker.enabled = true")
    if settings.get("commands.require_signature") and "commands.practice_public_key" not in files:
        problems.append(f"{src}: commands.practice_public_key: missing; require_signature = true needs the "
                        "practice's public key (roomnote keys practice)")
    if "hardware.button_pin" in settings and settings.get("hardware.button_pin") == settings.get("hardware.led_pin"):
        problems.append(f"{src}: hardware.led_pin: the same GPIO as hardware.button_pin; set the pin the LED is wired to")
    for key, p in files.items():
        problem = _check_file(src, key, p)
        if problem:
            problems.append(problem)
    if problems:
        raise OfficeError(problems)
    return Office(Path(path), settings, files)


def _check(src: str, key: str, ckey: str, value: Any) -> str | None:
    want = _config_type(ckey)
    ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        return f"{src}: {key}: expected {_kind_name(want)}, got {value!r}"
    if ckey in CHOICES and value not in CHOICES[ckey]:
        return f"{src}: {key}: expected one of {', '.join(map(str, CHOICES[ckey]))}, got {value!r}"
    if ckey in RANGES:
        lo, hi = RANGES[ckey]
        if not lo <= value <= hi:
            return f"{src}: {key}: expected a value from {lo} to {hi}, got {value!r}"
    if key in TOPIC_SAFE and not (value and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)):
        return f"{src}: {key}: expected letters, digits, '-' or '_' only (it becomes an MQTT topic level), got {value!r}"
    if key == "broker.host" and (not value or any(c.isspace() for c in value)):
        return f"{src}: {key}: expected the broker's host name or address, got {value!r}"
    return None


def _kind_name(t: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(t, t.__name__)


def _check_file(src: str, key: str, p: Path) -> str | None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = p.read_bytes()
    except OSError as e:
        return f"{src}: {key}: cannot read {p} ({e.strerror}); put the file next to the office file"
    if key == "models.manifest":
        from .models import load_manifest

        try:
            load_manifest(p)
        except RoomnoteError as e:
            return f"{src}: {key}: {e}"
        return None
    try:
        if key == "commands.practice_public_key":
            if not isinstance(serialization.load_pem_public_key(data), Ed25519PublicKey):
                return f"{src}: {key}: {p} is not an Ed25519 public key; use the .pub.pem of 'roomnote keys practice'"
        else:
            x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError):
        what = "an Ed25519 public key (PEM)" if key == "commands.practice_public_key" else "a PEM certificate"
        return f"{src}: {key}: {p} is not {what}"
    return None


# ---- the configuration ------------------------------------------------------------------------

def box_config(office: Office) -> dict[str, Any]:
    """The daemon's full configuration (every section) for this office, with the box's paths."""
    sections: dict[str, Any] = {}
    for f in dataclasses.fields(Config):  # every default, so IT reads the whole picture in one file
        sections[f.name] = dataclasses.asdict(getattr(Config(), f.name))
    sections["mqtt"].update(ca_file=str(TLS / "ca.pem"), cert_file=str(TLS / "device.pem"),
                            key_file=str(TLS / "device.key"))
    for key, value in office.settings.items():
        *path, last = key.split(".")
        d = sections
        for part in path:
            d = d[part]
        d[last] = value
    if "commands.practice_public_key" in office.files:
        sections["commands"]["practice_public_key"] = str(PRACTICE_KEY)
    if "models.manifest" in office.files:
        sections["models"]["manifest"] = str(MANIFEST)
    return sections


def to_toml(sections: dict[str, Any], header: str = "") -> str:
    lines = [header] if header else []

    def table(name: str, d: dict) -> None:
        lines.append(f"\n[{name}]")
        subs = []
        for k, v in d.items():
            if isinstance(v, dict):
                subs.append((k, v))
            else:
                lines.append(f"{k} = {_toml_value(v)}")
        for k, v in subs:
            table(f"{name}.{k}", v)

    for name, d in sections.items():
        table(name, d)
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    # a basic string: control characters too (a tab or a newline in a device name) must be
    # escaped, or the box's configuration would not load
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in s) + '"'


# ---- keys and certificates ----------------------------------------------------------------------

@dataclass(frozen=True)
class Owner:
    name: str
    uid: int
    gid: int


def resolve_owner(name: str, root: Path = Path("/")) -> Owner:
    """The service user of the system being provisioned: with --root (an SD card), from the
    card's own /etc/passwd, not this machine's; a bare folder without one uses this machine's."""
    passwd = Path(root) / "etc" / "passwd"
    if Path(root).resolve() != Path("/") and passwd.is_file():
        for line in passwd.read_text(errors="replace").splitlines():
            f = line.split(":")
            if len(f) >= 4 and f[0] == name and f[2].isdigit() and f[3].isdigit():
                return Owner(name, int(f[2]), int(f[3]))
        raise RoomnoteError(f"user {name!r} is not in {passwd} (the system under --root); create it there first "
                            f"(systemd-sysusers --root {root} systemd/roomnote.sysusers), or pass --owner")
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise RoomnoteError(f"user {name!r} does not exist; create it first (install systemd/roomnote.sysusers as "
                            "/usr/lib/sysusers.d/roomnote.conf and run systemd-sysusers), or pass --owner") from None
    return Owner(name, pw.pw_uid, pw.pw_gid)


class Provisioner:
    def __init__(self, office: Office, root: Path, owner: Owner, *, rotate_keys: bool = False,
                 cert: Path | None = None):
        self.office, self.root, self.owner = office, Path(root), owner
        self.rotate = rotate_keys
        self.cert = cert or office.files.get("certificate.file")
        self.done: list[str] = []

    def at(self, box_path: Path | str) -> Path:
        """A path of the box, under --root."""
        return self.root / str(box_path).lstrip("/")

    def run(self) -> list[str]:
        cfg_dict = box_config(self.office)
        cfg = config_from_dict(cfg_dict, source="generated configuration")  # what the daemon will load
        self._check_rotation(cfg)
        self._dirs(cfg)
        self._write_config(cfg_dict)
        self._copy_files()
        self._device_keys(cfg)
        if cfg.mqtt.enabled:
            self._tls()
        return self.done

    # -- directories and files --

    def _dirs(self, cfg: Config) -> None:
        o = self.owner
        self._mkdir(ETC, 0o755, 0, 0)
        self._mkdir(TLS, 0o750, 0, o.gid)  # the service's group reads the TLS files
        self._mkdir(STATE, 0o700, o.uid, o.gid)
        for p in {Path(cfg.keys.outbox_key).parent, Path(cfg.keys.signing_key).parent}:
            self._mkdir(p, 0o700, o.uid, o.gid)
        self._mkdir(Path(cfg.models.dir), 0o755, 0, 0)  # written by root (models install), read by roomnote

    def _mkdir(self, box_path: Path, mode: int, uid: int, gid: int) -> None:
        p = self.at(box_path)
        p.mkdir(parents=True, exist_ok=True)
        os.chown(p, uid, gid)
        os.chmod(p, mode)

    def _write_config(self, cfg_dict: dict) -> None:
        header = (f"# roomnote configuration for {self.office.office}/{self.office.device}, written by "
                  f"'roomnote provision' from {self.office.source.name}.\n# Change the office file and provision "
                  "again rather than editing this file; keys are documented in the README.")
        text = to_toml(cfg_dict, header)
        self._write_public(CONFIG_FILE, text.encode(), "configuration")

    def _write_public(self, box_path: Path, data: bytes, what: str, gid: int = 0, mode: int = 0o644) -> None:
        p = self.at(box_path)
        if p.is_file() and p.read_bytes() == data:
            self.done.append(f"{what} {box_path}: unchanged")
        else:
            existed = p.exists()
            write_atomic(p, data)
            self.done.append(f"{what} {box_path}: {'updated' if existed else 'written'}")
        os.chown(p, 0, gid)
        os.chmod(p, mode)

    def _copy_files(self) -> None:
        if "broker.ca_file" in self.office.files:
            self._write_public(TLS / "ca.pem", self.office.files["broker.ca_file"].read_bytes(), "practice CA")
        if "models.manifest" in self.office.files:
            self._write_public(MANIFEST, self.office.files["models.manifest"].read_bytes(), "models manifest")
        if "commands.practice_public_key" in self.office.files:
            self._write_public(PRACTICE_KEY, self.office.files["commands.practice_public_key"].read_bytes(),
                               "practice public key")

    # -- secrets --

    def _check_rotation(self, cfg: Config) -> None:
        """The outbox key encrypts queued notes: rotating it under them would lose them (P7)."""
        if not self.rotate:
            return
        from .publish.outbox import list_entries

        outbox = self.at(cfg.outbox.dir)
        queued = list_entries(outbox) if outbox.is_dir() else []
        if queued:
            raise RoomnoteError(f"{cfg.outbox.dir} holds {len(queued)} queued message(s) encrypted under the current "
                                "outbox key; deliver them first ('roomnote outbox send') and rotate again; nothing "
                                "was changed")

    def _secret(self, box_path: Path, make: callable, what: str, check: callable) -> bool:
        """Create (or with --rotate-keys replace) a 0600 file owned by the service user. True if new."""
        p = self.at(box_path)
        if p.exists() and not self.rotate:
            check(p.read_bytes(), p)
            self._own_secret(p)
            self.done.append(f"{what} {box_path}: kept (--rotate-keys replaces it)")
            return False
        data = make()
        tmp = p.with_name(f".{p.name}.new")
        tmp.unlink(missing_ok=True)
        from .publish.keys import write_secret
        write_secret(tmp, data)
        self._own_secret(tmp)
        replaced = p.exists()
        os.replace(tmp, p)
        self.done.append(f"{what} {box_path}: {'replaced' if replaced else 'created'}")
        return True

    def _own_secret(self, p: Path) -> None:
        os.chown(p, self.owner.uid, self.owner.gid)
        os.chmod(p, 0o600)

    def _device_keys(self, cfg: Config) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization

        from .publish.keys import private_pem, public_pem

        def check_outbox(data: bytes, p: Path) -> None:
            if len(data) != 32:
                raise RoomnoteError(f"{p}: the outbox key must be 32 bytes, found {len(data)}; restore it, or "
                                    "--rotate-keys when the outbox is empty")

        def check_signing(data: bytes, p: Path) -> None:
            try:
                key = serialization.load_pem_private_key(data, password=None)
            except (ValueError, TypeError):
                key = None
            if not isinstance(key, Ed25519PrivateKey):
                raise RoomnoteError(f"{p}: not an Ed25519 private key; restore it, or replace it with --rotate-keys")

        self._secret(Path(cfg.keys.outbox_key), lambda: os.urandom(32), "outbox key", check_outbox)
        box_signing = Path(cfg.keys.signing_key)
        self._secret(box_signing, lambda: private_pem(Ed25519PrivateKey.generate()), "device signing key",
                     check_signing)
        key = serialization.load_pem_private_key(self.at(box_signing).read_bytes(), password=None)
        pub_box = box_signing.with_name(box_signing.name + ".pub.pem")
        self._write_public(pub_box, public_pem(key.public_key()), "receipt verification key (public)")

    def _tls(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        def check_tls(data: bytes, p: Path) -> None:
            try:
                serialization.load_pem_private_key(data, password=None)
            except (ValueError, TypeError):
                raise RoomnoteError(f"{p}: not a PEM private key; replace it with --rotate-keys") from None

        new_key = self._secret(TLS / "device.key", lambda: ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            "TLS key", check_tls)
        key = serialization.load_pem_private_key(self.at(TLS / "device.key").read_bytes(), password=None)
        pub = _spki(key.public_key())
        csr_path = self.at(TLS / "device.csr")
        csr_ok = False
        if csr_path.is_file() and not new_key:
            try:
                old = x509.load_pem_x509_csr(csr_path.read_bytes())
                csr_ok = (_spki(old.public_key()) == pub and
                          old.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == self.office.device)
            except (ValueError, IndexError):
                csr_ok = False
        if csr_ok:
            self.done.append(f"certificate request {TLS / 'device.csr'}: kept")
        else:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.office.device),
                                 x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.office.office)])
            csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
            self._write_public(TLS / "device.csr", csr.public_bytes(serialization.Encoding.PEM), "certificate request")
        cert_box = TLS / "device.pem"
        cert_path = self.at(cert_box)
        if self.cert is not None:
            data = _read(self.cert, "certificate")
            check_certificate(data, pub, self.office.device, str(self.cert))
            self._write_public(cert_box, data, "device certificate", self.owner.gid)
        elif cert_path.is_file():
            try:
                check_certificate(cert_path.read_bytes(), pub, self.office.device, str(cert_box))
                self.done.append(f"device certificate {cert_box}: kept")
            except RoomnoteError:
                # the key was rotated (or the device renamed): the old certificate is useless now
                cert_path.replace(cert_path.with_name("device.pem.replaced"))
                self.done.append(f"device certificate {cert_box}: no longer matches the TLS key; moved to "
                                 f"device.pem.replaced. Have the practice CA sign {TLS / 'device.csr'} and run "
                                 "'roomnote provision --cert FILE'")
        else:
            self.done.append(f"device certificate {cert_box}: missing. Have the practice CA sign {TLS / 'device.csr'} "
                             "(CN = the device id) and run 'roomnote provision --office FILE --cert SIGNED.pem'")


def _read(p: Path, what: str) -> bytes:
    try:
        return Path(p).read_bytes()
    except OSError as e:
        raise RoomnoteError(f"{p}: cannot read the {what} ({e.strerror})") from None


def _spki(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_certificate(data: bytes, spki: bytes, device: str, name: str) -> None:
    """The certificate is for this box's TLS key and device id, and valid now."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise RoomnoteError(f"{name}: not a PEM certificate; pass the certificate the practice CA signed") from None
    if _spki(cert.public_key()) != spki:
        raise RoomnoteError(f"{name}: the certificate is not for this box's TLS key; have the practice CA sign this "
                            "box's device.csr and pass that certificate")
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns or cns[0].value != device:
        got = cns[0].value if cns else "none"
        raise RoomnoteError(f"{name}: the certificate's CN is {got!r} but office.device is {device!r}; the broker "
                            "uses the CN as the device's name, so they must match")
    now = dt.datetime.now(dt.timezone.utc)
    if cert.not_valid_after_utc < now:
        raise RoomnoteError(f"{name}: the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}; ask the practice "
                            "CA for a new one")


# ---- models ------------------------------------------------------------------------------------

def required_models(cfg: Config, manifest) -> list[str]:
    """The manifest names the daemon will load with this configuration."""
    from .asr.select import choose_asr_model
    from .speakers import MODEL_NAME

    names = ["silero-vad", choose_asr_model(cfg, manifest).name]
    if cfg.speakers.enabled:
        names.append(MODEL_NAME)
    if cfg.notes.encoder:
        names.append(cfg.notes.encoder)
    return names


def check_models(cfg: Config) -> list[tuple[str, bool, str]]:
    """(name, ok, detail) for each model this configuration needs; every file hashed (P6)."""
    import logging

    from .errors import ModelError
    from .models import load_manifest, verify_model

    try:
        manifest = load_manifest(cfg.models.manifest or None)
        asr_log = logging.getLogger("roomnote.asr")
        level = asr_log.level
        asr_log.setLevel(logging.WARNING)  # the engine choice is reported here, not logged
        try:
            names = required_models(cfg, manifest)
        finally:
            asr_log.setLevel(level)
    except ModelError as e:
        return [("models", False, str(e))]
    out = []
    for name in names:
        try:
            entry = manifest.get(name)
            verify_model(entry, cfg.models.dir)
            out.append((name, True, f"{len(entry.files)} files verified"))
        except ModelError as e:
            out.append((name, False, str(e)))
    return out


def provision(office_file: Path, root: Path = Path("/"), *, owner: str = "roomnote", rotate_keys: bool = False,
              cert: Path | None = None) -> tuple[list[str], list[tuple[str, bool, str]]]:
    """Provision the box under root; returns what was done and the model checks."""
    if os.geteuid() != 0:
        raise RoomnoteError("roomnote provision sets owners and modes of keys: run it as root (sudo)")
    office = load_office(office_file)
    who = resolve_owner(owner, root)
    p = Provisioner(office, root, who, rotate_keys=rotate_keys, cert=cert)
    try:
        done = p.run()
    except OSError as e:
        raise RoomnoteError(f"{e.filename or root}: cannot write ({e.strerror}); check that --root is a "
                            "writable system tree with room on it, and provision again") from None
    cfg = config_from_dict(box_config(office))
    # the models as they are under root
    manifest = str(p.at(cfg.models.manifest)) if cfg.models.manifest else ""
    cfg = dataclasses.replace(cfg, models=dataclasses.replace(cfg.models, dir=str(p.at(cfg.models.dir)),
                                                              manifest=manifest))
    return done, check_models(cfg)
