"""`roomnote selftest` with real parts: gpiozero's MockFactory pins for the button and LED, the
room microphone (a real ALSA capture device through PortAudio, roommic.py) playing flite
speech or silence, a real mosquitto broker with TLS and client certificates (mqtt_helpers),
and a real full disk (tmpfs). Each check passes in one run and fails in another."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from gpiozero import Button
from gpiozero.pins.mock import MockFactory, MockPWMPin

from appliance_rig import led_history, read_pcm
from conftest import REPO, run_roomnote
from mqtt_helpers import HOST, OFFICE, Broker, Issued, Pki, device_toml, free_port, tiny_disk  # noqa: F401
from roommic import NAME, room_microphone
from roomnote.selftest import CHECKS, FAIL, PASS, SKIP, check_clock, run_selftest

BUTTON, LED = 17, 27
DEVICE = "room-a"
SPEECH = [("slt", "Testing the microphone of the box in room a, one two three, testing, testing.")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory, pki):
    b = Broker(tmp_path_factory.mktemp("broker"), pki).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def device_cert(pki) -> Issued:
    return pki.issue(DEVICE)


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    with room_microphone(tmp_path_factory.mktemp("selftest-room")) as mic:
        yield mic


@pytest.fixture(scope="module")
def speech(make_speech):
    return read_pcm(make_speech(SPEECH, "selftest-speech"))


def thermal(d: Path, millidegrees: int | None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    if millidegrees is not None:
        (d / "thermal_zone0").mkdir()
        (d / "thermal_zone0" / "type").write_text("cpu-thermal\n")
        (d / "thermal_zone0" / "temp").write_text(f"{millidegrees}\n")
    return d


def config(tmp: Path, pki: Pki, port: int, cert: Issued, **extra) -> Path:
    extra.setdefault("microphone", {"device": NAME})
    return device_toml(tmp / "box", pki, port, DEVICE, cert, **extra)


class Presser:
    """Presses the button once the LED has blinked a few times (as IT would, seeing it blink)."""

    def __init__(self, factory: MockFactory, press: bool = True):
        self.factory, self.press = factory, press
        self.t0 = time.monotonic()
        self.led = factory.pin(LED)
        self.led.clear_states()
        self.t0 = self.led._last_change

    def say(self, line: str) -> None:
        if line.startswith("button:") and self.press:
            threading.Thread(target=self._press, daemon=True).start()

    def _press(self) -> None:
        end = time.monotonic() + 5
        while time.monotonic() < end and len(self.factory.pin(LED).states) < 6:  # on/off a few times
            time.sleep(0.02)
        button = self.factory.pin(BUTTON)
        button.drive_low()
        time.sleep(0.05)
        button.drive_high()

    def history(self) -> list[tuple[float, float]]:
        return led_history(self.led, self.t0)


def by_name(report) -> dict:
    return {c.name: c for c in report.checks}


def retained_status(broker: Broker, pki: Pki, tmp: Path, topic: str = "roomnote/v1/+/+/status") -> list[dict]:
    """What IT's one command reads: every box's retained status."""
    monitor = pki.issue("monitor")
    r = subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(broker.port), "--cafile", str(pki.ca_file),
                        "--cert", str(monitor.cert), "--key", str(monitor.key), "-t", topic, "-W", "2"],
                       capture_output=True, text=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_every_check_passes_and_the_result_is_retained_on_the_status_topic(tmp_path, pki, broker, device_cert, room,
                                                                          speech):
    cfg = config(tmp_path, pki, broker.port, device_cert)
    factory = MockFactory(pin_class=MockPWMPin)
    presser = Presser(factory)
    mic_window: list[float] = []

    def say(line: str) -> None:
        if line.startswith("microphone:"):
            room.speak(speech)  # someone speaks while the box listens
            mic_window.append(time.monotonic())
        presser.say(line)

    try:
        report = run_selftest(cfg, pin_factory=factory, button_timeout=10, say=say,
                              thermal_dir=thermal(tmp_path / "sys", 47500))
    finally:
        factory.reset()
    room.wait_spoken()
    print(report.table())
    checks = by_name(report)
    assert [c.name for c in report.checks] == list(CHECKS)
    assert all(c.result == PASS for c in report.checks), report.table()
    assert report.passed
    assert checks["microphone"].detail.startswith(f"{NAME} at 16000 Hz: level ")
    assert "LED GPIO27 blinked; button GPIO17 pressed after" in checks["button"].detail
    assert checks["temperature"].detail == "47.5 C (cpu-thermal)"
    assert checks["broker"].detail.startswith(f"connected to {HOST}:{broker.port} with the device certificate (TLSv1.")
    assert "verified: silero-vad, whisper-tiny-en" in checks["models"].detail
    # the LED: steady on while the microphone listened (P3), then blinking until the press
    hist = presser.history()
    lit = [t for t, level in hist if level == 1.0]
    dark = [t for t, level in hist if level == 0.0 and t > lit[0]]
    assert dark and dark[0] - lit[0] >= 2.0, hist[:4]  # on for the whole 2 s listening window
    assert sum(1 for _, level in hist if level == 0.0) >= 3  # then it blinked
    # published, retained: IT's fleet command sees it
    assert report.published == f"roomnote/v1/{OFFICE}/{DEVICE}/status"
    [status] = [s for s in retained_status(broker, pki, tmp_path) if s.get("device_id") == DEVICE]
    assert status["state"] == "selftest" and status["passed"] is True
    assert [c["check"] for c in status["checks"]] == list(CHECKS)
    assert {c["result"] for c in status["checks"]} == {PASS}
    text = report.table()
    assert text.splitlines()[0].split() == ["check", "result", "detail"]
    assert text.splitlines()[-1].startswith("PASS: ready for the first session (published on roomnote/v1/")


def not_yet_valid(pki: Pki, cn: str) -> Issued:
    """A certificate whose validity starts tomorrow: what a box with a clock a day behind sees."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(pki.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(pki.key, hashes.SHA256()))
    out = Issued(pki.dir / f"{cn}-future.pem", pki.dir / f"{cn}-future.key")
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    os.chmod(out.key, 0o600)
    return out


def test_every_check_fails_with_a_line_that_says_what_to_do(tmp_path, pki, broker, room, tiny_disk):  # noqa: F811
    # a tampered model, a silent room, nobody at the button, a clock behind the certificate
    # (so the broker refuses it too), a full disk and a hot CPU
    models = tmp_path / "models"
    shutil.copytree(REPO / "models/all-minilm-l6-v2-int8", models / "all-minilm-l6-v2-int8")
    (models / "all-minilm-l6-v2-int8" / "tokenizer.json").write_text("{}")
    cfg = config(tmp_path, pki, broker.port, not_yet_valid(pki, DEVICE), models={"dir": str(models)},
                 outbox={"dir": str(tiny_disk / "outbox")})
    factory = MockFactory(pin_class=MockPWMPin)
    presser = Presser(factory, press=False)
    try:
        report = run_selftest(cfg, pin_factory=factory, button_timeout=1.0, say=presser.say,
                              thermal_dir=thermal(tmp_path / "sys", 85000))
    finally:
        factory.reset()
    print(report.table())
    checks = by_name(report)
    assert checks["config"].result == PASS
    assert {n: c.result for n, c in checks.items() if n != "config"} == {n: FAIL for n in CHECKS[1:]}, report.table()
    assert not report.passed and report.published == ""
    assert "model all-minilm-l6-v2-int8: file" in checks["models"].detail and "SHA-256" in checks["models"].detail
    assert "silent (level -inf dBFS" in checks["microphone"].detail and "alsamixer" in checks["microphone"].detail
    assert checks["button"].detail == ("no press within 1 s; check the button's wiring (GPIO17 to ground) and that "
                                       "the LED blinked (GPIO27)")
    assert sum(1 for _, level in presser.history() if level == 0.0) >= 3  # the LED did blink
    assert "before the device certificate's start" in checks["clock"].detail and "NTP" in checks["clock"].detail
    assert "check the box's clock" in checks["broker"].detail
    assert "MB free under" in checks["disk"].detail and "less than 256 MB" in checks["disk"].detail
    assert checks["temperature"].detail.startswith("85.0 C (cpu-thermal), at or above 80 C")
    assert report.table().splitlines()[-1] == "FAIL: 7 check(s) failed"


def test_microphone_that_is_not_there_and_gpio_in_use(tmp_path, pki, broker, device_cert, room):
    cfg = config(tmp_path, pki, broker.port, device_cert, microphone={"device": "no-such-microphone"})
    factory = MockFactory(pin_class=MockPWMPin)
    skip = {"models", "clock", "disk", "temperature", "broker"}
    try:
        report = run_selftest(cfg, pin_factory=factory, button_timeout=0.5, skip=skip)
        assert "microphone.device: no input device named 'no-such-microphone'" in by_name(report)["microphone"].detail
        # the service holds the button: no GPIO, so the microphone is not opened either (P3)
        held = Button(BUTTON, pin_factory=factory)
        cfg2 = config(tmp_path / "2", pki, broker.port, device_cert)
        report = run_selftest(cfg2, pin_factory=factory, button_timeout=0.5, skip=skip)
        held.close()
    finally:
        factory.reset()
    checks = by_name(report)
    assert checks["button"].result == FAIL and "in use by another program" in checks["button"].detail
    assert checks["microphone"].result == FAIL
    assert checks["microphone"].detail.startswith("not opened: the LED must be lit while the microphone is open")
    assert {checks[n].result for n in skip} == {SKIP}


def test_broker_unreachable_or_refusing_the_certificate(tmp_path, pki, broker, device_cert):
    skip = set(CHECKS) - {"config", "broker"}
    cfg = config(tmp_path / "a", pki, free_port(), device_cert)
    report = run_selftest(cfg, skip=skip)
    assert by_name(report)["broker"].result == FAIL and not report.passed
    assert f"cannot reach the broker at {HOST}:" in by_name(report)["broker"].detail
    stranger = Pki(tmp_path / "other-ca").issue(DEVICE)  # a certificate the practice CA did not sign
    report = run_selftest(config(tmp_path / "b", pki, broker.port, stranger), skip=skip)
    assert by_name(report)["broker"].result == FAIL
    assert "rejected this device's certificate" in by_name(report)["broker"].detail
    assert str(stranger.cert) in by_name(report)["broker"].detail


def test_clock_far_off_and_no_thermal_sensor(tmp_path, pki, device_cert):
    from roomnote.config import load_config

    cfg = load_config(config(tmp_path, pki, 8883, device_cert))
    result, detail = check_clock(cfg, now=dt.datetime(1970, 1, 1, 0, 1, tzinfo=dt.timezone.utc))
    assert result == FAIL and detail.startswith("the clock says 1970-01-01 00:01 UTC, which cannot be right")
    report = run_selftest(config(tmp_path, pki, 8883, device_cert), skip=set(CHECKS) - {"config", "temperature"},
                          thermal_dir=thermal(tmp_path / "nosys", None))
    t = by_name(report)["temperature"]
    assert t.result == SKIP and "no readable thermal zone" in t.detail and report.passed


def test_cli_exit_status_and_table(tmp_path, pki, broker, device_cert):
    env = {"GPIOZERO_PIN_FACTORY": "mock"}
    cfg = config(tmp_path, pki, broker.port, device_cert)
    r = run_roomnote("selftest", "--config", str(cfg), "--skip", "microphone,button", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["check", "result", "detail"] and lines[-1].startswith("PASS: ready")
    assert [line.split()[0] for line in lines[2:-1]] == list(CHECKS)
    bad = tmp_path / "bad.toml"
    bad.write_text('[notes]\nformat = "sope"\n')
    r = run_roomnote("selftest", "--config", str(bad), "--no-publish", cwd=tmp_path, env=env)
    assert r.returncode == 1
    assert "config       FAIL    " in r.stdout and "notes.format: expected one of soap" in r.stdout
    assert "models       SKIP    not run: the configuration is invalid" in r.stdout
    r = run_roomnote("selftest", "--config", str(cfg), "--skip", "speakers", cwd=tmp_path, env=env)
    assert r.returncode == 2 and "--skip: unknown check speakers" in r.stderr


def test_the_level_check_keeps_two_numbers_and_zeroes_the_audio():
    import numpy as np

    from roomnote.selftest import _Level

    level = _Level()
    block = (np.sin(np.arange(512) / 5) * 8000).astype(np.int16)
    level.add(block)
    assert not block.any()  # P1: the captured block is zeroed once counted
    rms, peak = level.dbfs()
    assert -16 < rms < -10 and -13 < peak < -12
