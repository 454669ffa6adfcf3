"""`roomnote practice`: the practice CA, broker and workstations from one command, a box's request
signed by another, and the whole practice network up without a hand-written certificate: a real
mosquitto on the written configuration, a box provisioned from an office file, and on one
workstation `roomnote review` and `roomnote inbox listen` side by side, each receiving every note."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mqtt_helpers import free_port, redacted_session
from review_rig import PracticeNetwork, ReviewServer, sandbox_env

HOST = "127.0.0.1"


def roomnote(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "roomnote", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if p.is_file()}


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def cn(c) -> str:
    return c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def csr_file(path: Path, device: str, office: str) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, office)])
    path.write_bytes(x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
                     .public_bytes(serialization.Encoding.PEM))
    return path


def test_init_writes_ca_broker_and_one_workstation_per_office_with_private_keys(tmp_path):
    d = tmp_path / "practice"
    r = roomnote("practice", "init", str(d), "--office", "north", "--office", "south", "--broker-host",
                 "broker.practice.lan")
    assert r.returncode == 0, r.stderr
    for key in ["ca/practice-ca.key", "broker/broker.key", "workstations/north/inbox-north.key",
                "workstations/south/inbox-south.key"]:
        assert stat.S_IMODE((d / key).stat().st_mode) == 0o600, key
    assert stat.S_IMODE((d / "ca").stat().st_mode) == 0o700
    ca = cert(d / "ca/practice-ca.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    broker = cert(d / "broker/broker.pem")
    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["broker.practice.lan"] and broker.issuer == ca.subject
    for office in ("north", "south"):
        ws = cert(d / f"workstations/{office}/inbox-{office}.pem")
        assert cn(ws) == f"inbox-{office}" and ws.issuer == ca.subject  # the name the ACL grants the office to
        ca.public_key().verify(ws.signature, ws.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
        toml = (d / f"workstations/{office}/workstation.toml").read_text()
        assert f'office = "{office}"' in toml and 'host = "broker.practice.lan"' in toml
    acl = (d / "broker/roomnote.acl").read_text()
    assert "user inbox-north\ntopic read roomnote/v1/north/#" in acl and "pattern write roomnote/v1/south/%u/notes" in acl
    conf = (d / "broker/mosquitto.conf").read_text()
    for line in ("require_certificate true", "use_identity_as_username true", "tls_version tlsv1.2",
                 "allow_anonymous false", "listener 8883"):
        assert line in conf.splitlines()


def test_a_second_run_changes_nothing_and_a_new_office_keeps_the_ca(tmp_path):
    d = tmp_path / "practice"
    assert roomnote("practice", "init", str(d), "--office", "north").returncode == 0
    before = snapshot(d)
    r = roomnote("practice", "init", str(d), "--office", "north")
    assert r.returncode == 0 and "created" not in r.stdout and snapshot(d) == before  # not even rewritten
    r = roomnote("practice", "init", str(d), "--office", "east")
    assert r.returncode == 0, r.stderr
    after = snapshot(d)
    for kept in ("ca/practice-ca.pem", "ca/practice-ca.key", "broker/broker.key", "workstations/north/inbox-north.pem"):
        assert after[kept] == before[kept], kept
    assert "workstations/east/inbox-east.pem" in after and "roomnote/v1/east/" in (d / "broker/roomnote.acl").read_text()


def test_a_practice_with_its_own_ca_uses_it(tmp_path):
    d = tmp_path / "theirs"
    assert roomnote("practice", "init", str(d), "--office", "north").returncode == 0
    r = roomnote("practice", "init", str(tmp_path / "p2"), "--office", "north", "--ca-cert",
                 str(d / "ca/practice-ca.pem"), "--ca-key", str(d / "ca/practice-ca.key"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p2/ca/practice-ca.pem").read_bytes() == (d / "ca/practice-ca.pem").read_bytes()
    assert stat.S_IMODE((tmp_path / "p2/ca").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "p2/ca/practice-ca.key").stat().st_mode) == 0o600
    assert cert(tmp_path / "p2/broker/broker.pem").issuer == cert(d / "ca/practice-ca.pem").subject
    # a leaf certificate is not a CA; a key that is not the certificate's is refused
    r = roomnote("practice", "init", str(tmp_path / "p3"), "--office", "north", "--ca-cert",
                 str(d / "broker/broker.pem"), "--ca-key", str(d / "broker/broker.key"))
    assert r.returncode == 2 and "not a CA certificate" in r.stderr and len(r.stderr.splitlines()) == 1
    r = roomnote("practice", "init", str(tmp_path / "p4"), "--office", "north", "--ca-cert",
                 str(d / "ca/practice-ca.pem"), "--ca-key", str(d / "broker/broker.key"))
    assert r.returncode == 2 and "is not the key of" in r.stderr


def test_sign_box_checks_the_request_and_bad_input_is_one_line(tmp_path):
    d = tmp_path / "practice"
    assert roomnote("practice", "init", str(d), "--office", "north").returncode == 0
    r = roomnote("practice", "sign-box", str(d), str(csr_file(tmp_path / "a.csr", "room-a", "north")))
    assert r.returncode == 0, r.stderr
    c = cert(d / "boxes/room-a.pem")
    assert cn(c) == "room-a" and c.issuer == cert(d / "ca/practice-ca.pem").subject
    before = (d / "boxes/room-a.pem").read_bytes()
    assert roomnote("practice", "sign-box", str(d), str(tmp_path / "a.csr")).returncode == 0
    assert (d / "boxes/room-a.pem").read_bytes() == before  # idempotent
    (tmp_path / "junk.csr").write_text("not a request\n")
    bad = {
        "inbox-north": (csr_file(tmp_path / "b.csr", "inbox-north", "north"), "cannot be a box's"),
        "office": (csr_file(tmp_path / "c.csr", "room-c", "west"), "not one of this practice's"),
        "junk": (tmp_path / "junk.csr", "not a PEM certificate request"),
        "missing": (tmp_path / "none.csr", "cannot read"),
    }
    for what, (f, expect) in bad.items():
        r = roomnote("practice", "sign-box", str(d), str(f))
        assert r.returncode == 2 and expect in r.stderr and len(r.stderr.strip().splitlines()) == 1, (what, r.stderr)
        assert "Traceback" not in r.stderr
    assert sorted(p.name for p in (d / "boxes").iterdir()) == ["room-a.pem"]
    for args, expect in [(["init", str(tmp_path / "x"), "--office", "no/slash"], "letters, digits"),
                         (["init", str(tmp_path / "y")], "at least one --office"),
                         (["sign-box", str(tmp_path / "nowhere"), str(tmp_path / "a.csr")], "not a practice folder"),
                         (["init", str(tmp_path / "z"), "--office", "n", "--broker-host", "bad host!"], "--broker-host")]:
        r = roomnote("practice", *args)
        assert r.returncode == 2 and expect in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


# ---- the practice network from the written files --------------------------------------------

@pytest.fixture(scope="module")
def practice_net(tmp_path_factory):
    root = tmp_path_factory.mktemp("practice-net")
    net = PracticeNetwork(root, sandbox_env(root))
    yield net
    net.stop_broker()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_review_and_inbox_listen_side_by_side_each_receive_every_note(practice_net, tmp_path):
    from roomnote.config import load_config
    from roomnote.publish import PublishingService

    net = practice_net
    listen_out = tmp_path / "listen"
    listen = subprocess.Popen([sys.executable, "-m", "roomnote", "inbox", "listen", "--config", str(net.ws_cfg),
                               "--out", str(listen_out)], env=net.env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "listen.log", "ab"))
    review = ReviewServer(net.ws_cfg, net.env, tmp_path / "review.log", free_port())
    svc = PublishingService(load_config(net.box_cfg))  # the provisioned box, with the certificate sign-box made
    try:
        time.sleep(1.0)  # both workstation processes subscribed
        svc.start()
        wait_for(lambda: svc.connected, 15, "the provisioned box to connect with its signed certificate")
        sent = []
        for i in range(3):
            rt, note = redacted_session(f"side-by-side-{i}")
            svc.put(note, rt)
            sent.append(f"{note.note_id}.v1.json")
        assert svc.wait_delivered(15)

        def got(folder):
            return sorted(p.name for p in folder.glob("*.v*.json")) if folder.exists() else []
        wait_for(lambda: got(listen_out) == sorted(sent) and got(net.inbox) == sorted(sent), 20,
                 "every note at both the review page and inbox listen")
        time.sleep(1.0)
        assert listen.poll() is None and review.proc.poll() is None
    finally:
        svc.stop()
        review.stop()
        listen.terminate()
        listen.wait(10)
    log = net.broker_log.read_text()
    assert "already connected" not in log  # nobody was knocked off the broker
    ids = set(re.findall(r"New client connected from \S+ as (\S+)", log))
    assert any(i.startswith("roomnote-review-") for i in ids) and any(i.startswith("roomnote-inbox-") for i in ids)
    assert any(i.startswith("roomnote-box-north-room-a") for i in ids), ids


def test_review_demo_starts_a_practice_and_ctrl_c_stops_all_of_it(tmp_path):
    """`make review-demo` (python -m roomnote.review.demo): broker, box and page up, the page's
    address printed; Ctrl-C (SIGINT to the group, as a terminal sends it) stops every process.
    That the box's note reaches the page is the browser test's flow (test_review_browser.py)."""
    import json
    import signal
    import urllib.request

    env = sandbox_env(tmp_path)
    demo = subprocess.Popen([sys.executable, "-m", "roomnote.review.demo", str(tmp_path / "demo")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url, lines = None, []
    try:
        for line in demo.stdout:
            lines.append(line)
            m = re.search(r"The review page: (http://127\.0\.0\.1:\d+/)", line)
            if m:
                url = m.group(1)
                break
        assert url, "".join(lines)
        assert json.loads(urllib.request.urlopen(url + "notes.json", timeout=10).read()) is not None
        children = subprocess.run(["pgrep", "-s", str(demo.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 4, children  # the demo, mosquitto, the review page, the box
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0 and "review-demo: stopped" in out, out
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-s", str(demo.pid)], capture_output=True).stdout == b""  # nothing left running
