"""`roomnote provision`: the shipped office example into a temporary root, permissions, owners,
idempotence, certificates, --rotate-keys, and one clear line per problem in a bad office file."""
from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from conftest import REPO, run_roomnote
from mqtt_helpers import Pki
from roomnote.config import load_config
from roomnote.publish.keys import load_outbox_key, load_signing_key
from roomnote.publish.messages import make_receipt
from roomnote.publish.outbox import Outbox

EXAMPLE = REPO / "firmware-config" / "office.example.toml"
NOBODY = pwd.getpwnam("nobody")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def office(tmp_path, pki) -> Path:
    """The shipped example, with the practice CA next to it as it says."""
    d = tmp_path / "usb"
    d.mkdir()
    shutil.copy(pki.ca_file, d / "practice-ca.pem")
    shutil.copy(EXAMPLE, d / "office.toml")
    return d / "office.toml"


def provision(office: Path, root: Path, *extra: str, owner: str = "nobody"):
    return run_roomnote("provision", "--office", str(office), "--root", str(root), "--owner", owner, *extra,
                        cwd=office.parent)


def sign_csr(pki: Pki, csr_path: Path, out: Path, *, cn: str | None = None) -> Path:
    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]) if cn else csr.subject
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(pki.cert.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
            .sign(pki.key, hashes.SHA256()))
    out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return out


def mode_owner(p: Path) -> tuple[int, int]:
    st = p.stat()
    return stat.S_IMODE(st.st_mode), st.st_uid


SECRETS = ["etc/roomnote/tls/device.key", "var/lib/roomnote/keys/outbox.key",
           "var/lib/roomnote/keys/device-signing.key"]


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_example_office_provisions_a_root_with_keys_owned_by_the_service_user(office, tmp_path):
    root = tmp_path / "root"
    r = provision(office, root)
    assert r.returncode == 0, r.stderr
    assert "device certificate /etc/roomnote/tls/device.pem: missing" in r.stdout
    for rel in SECRETS:
        assert mode_owner(root / rel) == (0o600, NOBODY.pw_uid), rel
    assert mode_owner(root / "var/lib/roomnote/keys") == (0o700, NOBODY.pw_uid)
    assert mode_owner(root / "var/lib/roomnote") == (0o700, NOBODY.pw_uid)
    assert mode_owner(root / "etc/roomnote/tls") == (0o750, 0)
    assert (root / "etc/roomnote/tls").stat().st_gid == NOBODY.pw_gid
    assert mode_owner(root / "etc/roomnote/roomnote.toml") == (0o644, 0)
    assert len((root / "var/lib/roomnote/keys/outbox.key").read_bytes()) == 32
    # the daemon's own loader takes the written file; paths are the box's, not the root's
    cfg = load_config(root / "etc/roomnote/roomnote.toml")
    assert (cfg.device.office, cfg.device.id, cfg.mqtt.host, cfg.mqtt.port) == ("north", "room-a", "broker.practice.lan", 8883)
    assert cfg.mqtt.cert_file == "/etc/roomnote/tls/device.pem" and cfg.keys.outbox_key.startswith("/var/lib/roomnote/")
    assert cfg.redaction.topics.substance_use == "keep" and cfg.hardware.button_pin == 17 and cfg.hardware.led_pin == 27
    assert (root / "etc/roomnote/tls/ca.pem").read_bytes() == (office.parent / "practice-ca.pem").read_bytes()
    # the request is for this device, signed by the TLS key
    csr = x509.load_pem_x509_csr((root / "etc/roomnote/tls/device.csr").read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "room-a"
    key = serialization.load_pem_private_key((root / "etc/roomnote/tls/device.key").read_bytes(), None)
    assert csr.public_key().public_numbers() == key.public_key().public_numbers()
    assert "model silero-vad: ok" in r.stdout


def test_second_run_changes_nothing(office, tmp_path):
    root = tmp_path / "root"
    assert provision(office, root).returncode == 0
    before = snapshot(root)
    r = provision(office, root)
    assert r.returncode == 0, r.stderr
    assert snapshot(root) == before  # same bytes, not even rewritten
    assert "created" not in r.stdout and "replaced" not in r.stdout and "written" not in r.stdout
    assert r.stdout.count("kept (--rotate-keys replaces it)") == 3


def test_keys_work_with_the_daemons_loaders_when_owned_by_the_running_user(office, tmp_path):
    root = tmp_path / "root"
    r = provision(office, root, owner=pwd.getpwuid(os.geteuid()).pw_name)
    assert r.returncode == 0, r.stderr
    assert len(load_outbox_key(root / "var/lib/roomnote/keys/outbox.key")) == 32
    load_signing_key(root / "var/lib/roomnote/keys/device-signing.key")


def test_supplied_certificate_is_installed_only_when_it_matches_key_and_device(office, tmp_path, pki):
    root = tmp_path / "root"
    assert provision(office, root).returncode == 0
    csr = root / "etc/roomnote/tls/device.csr"
    # another key's certificate: refused, nothing installed
    other = pki.issue("room-a")
    r = provision(office, root, "--cert", str(other.cert))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"roomnote: error: {other.cert}: the certificate is not for this box's TLS key; have the practice CA sign "
        "this box's device.csr and pass that certificate"]
    assert not (root / "etc/roomnote/tls/device.pem").exists()
    # the right key, the wrong name
    wrong_cn = sign_csr(pki, csr, tmp_path / "wrong-cn.pem", cn="room-b")
    r = provision(office, root, "--cert", str(wrong_cn))
    assert r.returncode == 2 and "CN is 'room-b' but office.device is 'room-a'" in r.stderr
    # the CA's answer to this box's request
    good = sign_csr(pki, csr, tmp_path / "room-a.pem")
    r = provision(office, root, "--cert", str(good))
    assert r.returncode == 0, r.stderr
    assert "device certificate /etc/roomnote/tls/device.pem: written" in r.stdout
    assert (root / "etc/roomnote/tls/device.pem").read_bytes() == good.read_bytes()
    # later runs keep it, from the office file too
    r = provision(office, root)
    assert "device certificate /etc/roomnote/tls/device.pem: kept" in r.stdout


def test_rotate_keys_replaces_every_key_and_retires_the_old_certificate(office, tmp_path, pki):
    root = tmp_path / "root"
    assert provision(office, root).returncode == 0
    good = sign_csr(pki, root / "etc/roomnote/tls/device.csr", tmp_path / "room-a.pem")
    assert provision(office, root, "--cert", str(good)).returncode == 0
    before = {rel: (root / rel).read_bytes() for rel in SECRETS + ["etc/roomnote/tls/device.csr"]}
    r = provision(office, root, "--rotate-keys")
    assert r.returncode == 0, r.stderr
    for rel, old in before.items():
        assert (root / rel).read_bytes() != old, rel
    for rel in SECRETS:
        assert mode_owner(root / rel) == (0o600, NOBODY.pw_uid)
    assert not (root / "etc/roomnote/tls/device.pem").exists()
    assert (root / "etc/roomnote/tls/device.pem.replaced").read_bytes() == good.read_bytes()
    assert "no longer matches the TLS key" in r.stdout
    new = sign_csr(pki, root / "etc/roomnote/tls/device.csr", tmp_path / "room-a-2.pem")
    assert provision(office, root, "--cert", str(new)).returncode == 0


def test_rotate_keys_refuses_while_notes_wait_in_the_outbox(office, tmp_path):
    root = tmp_path / "root"
    me = pwd.getpwuid(os.geteuid()).pw_name  # the keys' owner, so that this test may seal with them
    assert provision(office, root, owner=me).returncode == 0
    keys = root / "var/lib/roomnote/keys"
    receipt = make_receipt(load_signing_key(keys / "device-signing.key"), office="north", device="room-a",
                           note_id="ab" * 16, note_version=1, note_sha256="cd" * 32, session_id="s1",
                           action="finalized", destroyed=["redacted_transcript"])
    Outbox(root / "var/lib/roomnote/outbox", load_outbox_key(keys / "outbox.key")).put(receipt)  # sealed, queued
    before = snapshot(root)
    r = provision(office, root, "--rotate-keys", owner=me)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "1 queued message(s)" in r.stderr
    assert "roomnote outbox send" in r.stderr
    assert snapshot(root) == before


def test_unknown_owner_is_one_line(office, tmp_path):
    r = provision(office, tmp_path / "root", owner="no-such-user-xyz")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "roomnote: error: user 'no-such-user-xyz' does not exist; create it first (install systemd/roomnote.sysusers "
        "as /usr/lib/sysusers.d/roomnote.conf and run systemd-sysusers), or pass --owner"]
    assert not (tmp_path / "root").exists()


def test_a_tampered_model_fails_provisioning_after_the_rest_is_in_place(office, tmp_path):
    root = tmp_path / "root"
    # a provisioned copy of the sentence encoder (found before the shipped one), one byte changed
    copy = root / "var/lib/roomnote/models/all-minilm-l6-v2-int8"
    shutil.copytree(REPO / "models/all-minilm-l6-v2-int8", copy)
    with open(copy / "tokenizer.json", "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    r = provision(office, root)
    assert r.returncode == 2
    assert "model all-minilm-l6-v2-int8: FAILED: model all-minilm-l6-v2-int8: file " in r.stdout
    assert "does not match its SHA-256" in r.stdout and "model silero-vad: ok" in r.stdout
    assert r.stderr.strip().splitlines() == [
        "roomnote: error: 1 model(s) missing or failed verification (listed above); install them with "
        "'roomnote models install BUNDLE' and provision again"]
    assert (root / "var/lib/roomnote/keys/outbox.key").exists()  # keys and config are in place


BAD = [
    ('id = "north"', 'id = "north/ward"', "office.id: expected letters, digits, '-' or '_' only"),
    ('device = "room-a"', '', "office.device: missing; every office file names its office and device"),
    ('format = "soap"', 'format = "sope"', "notes.format: expected one of soap, dap, birp, girp, got 'sope'"),
    ('port = 8883', 'port = 0', "broker.port: expected a value from 1 to 65535, got 0"),
    ('port = 8883', 'port = "8883"', "broker.port: expected an integer, got '8883'"),
    ('led_pin = 27', 'led_pin = 17', "hardware.led_pin: the same GPIO as hardware.button_pin"),
    ('substance_use = "keep"', 'substance_use = "hide"', "redaction.topics.substance_use: expected one of remove, generalize, keep"),
    ('[notes]', '[notes]\ncolour = "blue"', "notes.colour: unknown key; see firmware-config/office.example.toml"),
    ('ca_file = "practice-ca.pem"', 'ca_file = "missing.pem"', "broker.ca_file: cannot read"),
    ('ca_file = "practice-ca.pem"', 'ca_file = "office.toml"', "is not a PEM certificate"),
    ('require_signature = false', 'require_signature = true', "commands.practice_public_key: missing"),
    ('mode = "clinician"', 'mode = "external"', None),  # valid: the broker is enabled
    ('enabled = true', 'enabled = false', None),  # valid: a box without a practice network
    ('manifest = ""', 'manifest = "missing.toml"', "models.manifest: cannot read"),
    ('host = "broker.practice.lan"', '', "broker.host: missing; the box needs the practice broker"),
]


@pytest.mark.parametrize("old,new,expected", BAD, ids=[b[1].split("\n")[-1][:30] or f"no {b[0][:12]}" for b in BAD])
def test_bad_office_file_gives_one_line_and_writes_nothing(office, tmp_path, old, new, expected):
    text = office.read_text()
    assert old in text
    office.write_text(text.replace(old, new, 1))
    root = tmp_path / "root"
    r = provision(office, root)
    if expected is None:
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"roomnote: error: {office}: ") and expected in lines[0], lines[0]
    assert not root.exists()


def test_every_problem_gets_its_own_line(office, tmp_path):
    text = office.read_text().replace('format = "soap"', 'format = "sope"').replace("port = 8883", "port = 99999")
    office.write_text(text.replace('mode = "clinician"', 'mode = "external"').replace("enabled = true", "enabled = false"))
    r = provision(office, tmp_path / "root")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 3, lines
    assert [line.split(": ")[3] for line in lines] == ["broker.port", "notes.format", "consent.mode"]


def test_not_toml_is_one_line(office, tmp_path):
    office.write_text("[office\nid = 1\n")
    r = provision(office, tmp_path / "root")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "not valid TOML" in r.stderr


def test_the_practices_manifest_is_installed_and_used(office, tmp_path):
    shutil.copy(REPO / "models" / "manifest.toml", office.parent / "manifest.toml")
    office.write_text(office.read_text().replace('manifest = ""', 'manifest = "manifest.toml"'))
    root = tmp_path / "root"
    r = provision(office, root)
    assert r.returncode == 0, r.stderr
    assert (root / "etc/roomnote/manifest.toml").read_bytes() == (REPO / "models/manifest.toml").read_bytes()
    assert load_config(root / "etc/roomnote/roomnote.toml").models.manifest == "/etc/roomnote/manifest.toml"
    assert "model whisper-tiny-en: ok" in r.stdout


def test_provisioning_needs_root(office, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("runs a child as nobody")
    code = ("import sys; from roomnote.cli import main; sys.exit(main(['provision', '--office', sys.argv[1], "
            "'--root', sys.argv[2]]))")
    r = subprocess.run(["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups",
                        sys.executable, "-c", code, str(office), str(tmp_path / "root")],
                       capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)})
    assert r.returncode == 2
    assert r.stderr.strip() == "roomnote: error: roomnote provision sets owners and modes of keys: run it as root (sudo)"
    assert not (tmp_path / "root").exists()


def test_the_written_configuration_reads_back_whatever_a_string_holds(office, tmp_path):
    """microphone.device is free text: quotes, backslashes, a tab, a newline, DEL and non-ASCII
    all come back from the written file exactly (the daemon loads it with config.load_config)."""
    import tomllib

    from roomnote.provision import box_config, load_office, to_toml

    name = 'USB "Mic"\t\\ 2\nrøde\x7f'
    office.write_text(office.read_text().replace('device = ""', r'device = "USB \"Mic\"\t\\ 2\nrøde\u007f"'),
                      encoding="utf-8")
    sections = box_config(load_office(office))
    assert sections["microphone"]["device"] == name
    written = tmp_path / "roomnote.toml"
    written.write_text(to_toml(sections, "# header"), encoding="utf-8")
    assert load_config(written).microphone.device == name
    assert tomllib.loads(written.read_text(encoding="utf-8")) == sections


def test_a_kept_key_with_loose_permissions_is_tightened(office, tmp_path):
    """A key restored from a backup (0644, owned by root) is kept, and made 0600 and the service
    user's again: the outbox key decrypts queued notes, the signing key signs deletion receipts."""
    root = tmp_path / "root"
    assert provision(office, root).returncode == 0
    before = {rel: (root / rel).read_bytes() for rel in SECRETS}
    for rel in SECRETS:
        os.chown(root / rel, 0, 0)
        os.chmod(root / rel, 0o644)
    r = provision(office, root)
    assert r.returncode == 0, r.stderr
    for rel in SECRETS:
        assert mode_owner(root / rel) == (0o600, NOBODY.pw_uid), rel
        assert (root / rel).read_bytes() == before[rel], rel
