"""`roomnote selftest`: one table for IT, one exit status, the same result on the status topic.

Checks, in order: config, models, microphone (2 s level, LED lit while open: P3), button and
LED (the LED blinks until the button is pressed), clock, disk, temperature, broker (mutual
TLS with the device certificate; on success the report is published, retained, on the
status topic). A check is PASS, FAIL or SKIP; SKIP never fails the run (it is used where a
check does not apply: no thermal sensor, mqtt.enabled = false, --skip).

The microphone's audio is reduced to two numbers (RMS and peak level) as it arrives and is
zeroed; nothing of it is kept or sent (P1). Run it with the service stopped: the service
holds the button, the LED and the microphone.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .config import Config, load_config
from .errors import RoomnoteError

CHECKS = ("config", "models", "microphone", "button", "clock", "disk", "temperature", "broker")
PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
SILENT_DBFS = -80.0  # below this over 2 s a microphone is muted, unplugged or at zero gain
MIN_FREE_MB = 256  # the outbox, held transcripts and the audit log need room
MAX_TEMP_C = 80.0  # a Raspberry Pi starts throttling at 80 C (a Jetson Orin later)
# No box runs before this roomnote was released: an earlier clock is an unset clock (no RTC,
# no NTP yet), and TLS certificates would be refused.
CLOCK_FLOOR = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
CLOCK_CEILING = CLOCK_FLOOR + dt.timedelta(days=365 * 30)


@dataclass
class Check:
    name: str
    result: str
    detail: str


@dataclass
class Report:
    device: str = ""
    checks: list[Check] = field(default_factory=list)
    published: str = ""  # the topic the report went to, "" when it was not published

    @property
    def passed(self) -> bool:
        return all(c.result != FAIL for c in self.checks)

    def add(self, name: str, result: str, detail: str) -> Check:
        c = Check(name, result, detail)
        self.checks.append(c)
        return c

    def table(self) -> str:
        w = max(len(c.name) for c in self.checks) if self.checks else 5
        lines = [f"{'check':{w}}  result  detail", f"{'-' * w}  ------  {'-' * 40}"]
        lines += [f"{c.name:{w}}  {c.result:6}  {c.detail}" for c in self.checks]
        verdict = "PASS: ready for the first session" if self.passed else \
            f"FAIL: {sum(c.result == FAIL for c in self.checks)} check(s) failed"
        lines.append(verdict + (f" (published on {self.published})" if self.published else ""))
        return "\n".join(lines)

    def as_message(self) -> dict:
        return {"state": "selftest", "device_id": self.device, "passed": self.passed,
                "checks": [{"check": c.name, "result": c.result, "detail": c.detail} for c in self.checks],
                "version": __version__,
                "ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")}


def run_selftest(config: Path | None, *, button_timeout: float = 30.0, skip: set[str] | frozenset = frozenset(),
                 publish: bool = True, say: Callable[[str], None] = lambda line: None, pin_factory=None,
                 thermal_dir: Path = Path("/sys/class/thermal"), mic_seconds: float = 2.0,
                 min_free_mb: int = MIN_FREE_MB) -> Report:
    unknown = set(skip) - set(CHECKS)
    if unknown:
        raise RoomnoteError(f"--skip: unknown check {', '.join(sorted(unknown))}; checks: {', '.join(CHECKS)}")
    report = Report()
    try:
        cfg = load_config(config)
        report.add("config", PASS, f"{config} is valid ({cfg.device.office}/{cfg.device.id})")
    except RoomnoteError as e:
        report.add("config", FAIL, str(e))
        for name in CHECKS[1:]:
            report.add(name, SKIP, "not run: the configuration is invalid")
        return report
    report.device = cfg.device.id
    run = lambda name: name not in skip  # noqa: E731

    _skippable(report, "models", run, lambda: check_models(cfg))
    panel, panel_error = (None, None)
    if run("microphone") or run("button"):
        panel, panel_error = _open_panel(cfg, pin_factory)
    try:
        _skippable(report, "microphone", run, lambda: check_microphone(cfg, panel, panel_error, mic_seconds, say))
        _skippable(report, "button", run, lambda: check_button(cfg, panel, panel_error, button_timeout, say))
    finally:
        if panel is not None:
            panel.close()
    _skippable(report, "clock", run, lambda: check_clock(cfg))
    _skippable(report, "disk", run, lambda: check_disk(cfg, min_free_mb))
    _skippable(report, "temperature", run, lambda: check_temperature(thermal_dir))
    if run("broker"):
        check_broker_and_publish(cfg, report, publish)
    else:
        report.add("broker", SKIP, "skipped (--skip)")
    return report


def _skippable(report: Report, name: str, run, check: Callable[[], tuple[str, str]]) -> None:
    if not run(name):
        report.add(name, SKIP, "skipped (--skip)")
        return
    try:
        result, detail = check()
    except RoomnoteError as e:
        result, detail = FAIL, str(e)
    report.add(name, result, detail)


# ---- models ------------------------------------------------------------------------------------

def check_models(cfg: Config) -> tuple[str, str]:
    from .provision import check_models as verify_needed

    results = verify_needed(cfg)
    bad = [(n, d) for n, ok, d in results if not ok]
    if bad:
        return FAIL, bad[0][1] + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
    return PASS, "verified: " + ", ".join(n for n, _, _ in results)


# ---- the panel: button and LED ---------------------------------------------------------------

class _Panel:
    def __init__(self, button, light):
        self.button, self.light = button, light
        self.pressed = threading.Event()

    def close(self) -> None:
        self.light.close()
        self.button.close()


def _open_panel(cfg: Config, pin_factory) -> tuple[_Panel | None, str | None]:
    from .hardware.panel import open_panel

    holder: list[_Panel] = []

    def pressed() -> None:
        if holder:
            holder[0].pressed.set()

    try:
        button, light = open_panel(cfg.hardware, pressed, pressed, pin_factory=pin_factory)
    except RoomnoteError as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - e.g. no GPIO driver on this machine: one line for IT
        return None, (f"cannot use GPIO{cfg.hardware.button_pin} and GPIO{cfg.hardware.led_pin} "
                      f"({e.__class__.__name__}: {e}); is this a Raspberry Pi or Jetson with GPIO access?")
    panel = _Panel(button, light)
    holder.append(panel)
    return panel, None


def check_button(cfg: Config, panel: _Panel | None, panel_error: str | None, timeout: float,
                 say: Callable[[str], None]) -> tuple[str, str]:
    if panel is None:
        return FAIL, panel_error or "the button and LED could not be opened"
    hw = cfg.hardware
    panel.pressed.clear()
    panel.light.show("error")  # fast blink: IT sees the LED work
    say(f"button: the LED (GPIO{hw.led_pin}) is blinking; press the button (GPIO{hw.button_pin}) within {timeout:g} s")
    t0 = time.monotonic()
    got = panel.pressed.wait(timeout)
    panel.light.show("off")
    if not got:
        return FAIL, (f"no press within {timeout:g} s; check the button's wiring (GPIO{hw.button_pin} to ground) "
                      f"and that the LED blinked (GPIO{hw.led_pin})")
    return PASS, f"LED GPIO{hw.led_pin} blinked; button GPIO{hw.button_pin} pressed after {time.monotonic() - t0:.1f} s"


# ---- microphone --------------------------------------------------------------------------------

def check_microphone(cfg: Config, panel: _Panel | None, panel_error: str | None, seconds: float,
                     say: Callable[[str], None]) -> tuple[str, str]:
    from .audio.mic import MicSource

    if panel is None:  # P3: no microphone without the LED that shows it
        return FAIL, f"not opened: the LED must be lit while the microphone is open, and {panel_error}"
    level = _Level()
    lost: list[str] = []
    mic = MicSource(cfg.microphone, level.add, lost.append)
    say(f"microphone: listening for {seconds:g} s (the LED is on); speak or clap")
    panel.light.microphone_opening()
    try:
        mic.open()
        try:
            time.sleep(seconds)
        finally:
            mic.close()
    finally:
        panel.light.microphone_closed()
    where = f"{mic.device} at {mic.rate} Hz"
    if lost:
        return FAIL, f"{where}: {lost[0]}; check the cable and the device"
    if level.samples == 0:
        return FAIL, f"{where}: no audio arrived in {seconds:g} s; check the device"
    rms, peak = level.dbfs()
    if rms < SILENT_DBFS:
        return FAIL, (f"{where}: silent (level {_db(rms)} dBFS, peak {_db(peak)} dBFS over {seconds:g} s); check that "
                      "it is unmuted and its gain is up (alsamixer)")
    note = "; clipping: lower the gain" if peak >= -0.1 else ""
    return PASS, f"{where}: level {_db(rms)} dBFS, peak {_db(peak)} dBFS over {seconds:g} s{note}"


class _Level:
    """Running RMS and peak of the captured audio; the blocks are zeroed once counted (P1)."""

    def __init__(self):
        self.sumsq = 0.0
        self.peak = 0
        self.samples = 0
        self.lock = threading.Lock()

    def add(self, block: np.ndarray) -> None:
        x = block.astype(np.float64)
        with self.lock:
            self.sumsq += float(np.dot(x, x))
            self.peak = max(self.peak, int(np.abs(block.astype(np.int32)).max(initial=0)))
            self.samples += len(block)
        x[:] = 0
        block[:] = 0

    def dbfs(self) -> tuple[float, float]:
        rms = math.sqrt(self.sumsq / max(self.samples, 1))
        return _to_db(rms), _to_db(self.peak)


def _to_db(v: float) -> float:
    return 20 * math.log10(v / 32768) if v > 0 else -math.inf


def _db(v: float) -> str:
    return "-inf" if v == -math.inf else f"{v:.0f}"


# ---- clock, disk, temperature -------------------------------------------------------------------

def check_clock(cfg: Config, now: dt.datetime | None = None) -> tuple[str, str]:
    now = now or dt.datetime.now(dt.timezone.utc)
    shown = f"{now:%Y-%m-%d %H:%M} UTC"
    if not CLOCK_FLOOR <= now <= CLOCK_CEILING:
        return FAIL, (f"the clock says {shown}, which cannot be right; enable NTP (timedatectl set-ntp true) or set "
                      "the time: TLS certificates and notes' times depend on it")
    cert_file = Path(cfg.mqtt.cert_file)
    if cfg.mqtt.enabled and cert_file.is_file():
        from cryptography import x509

        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except ValueError:
            cert = None
        if cert is not None and now < cert.not_valid_before_utc:
            return FAIL, (f"the clock says {shown}, before the device certificate's start "
                          f"({cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC); the clock is behind: enable NTP")
        if cert is not None and now > cert.not_valid_after_utc:
            return FAIL, (f"the clock says {shown}, after the device certificate expired "
                          f"({cert.not_valid_after_utc:%Y-%m-%d}); renew the certificate or fix the clock")
    return PASS, f"{shown}{_ntp_state()}"


def _ntp_state() -> str:
    try:
        r = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                           text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    value = r.stdout.strip()
    return {"yes": ", synchronised (NTP)", "no": ", not synchronised by NTP yet"}.get(value, "") if r.returncode == 0 else ""


def check_disk(cfg: Config, min_free_mb: int = MIN_FREE_MB) -> tuple[str, str]:
    path = Path(cfg.outbox.dir)
    while not path.exists() and path != path.parent:  # before the first run: the disk it will be on
        path = path.parent
    free = shutil.disk_usage(path).free // (1 << 20)
    if free < min_free_mb:
        return FAIL, f"{free} MB free under {path}, less than {min_free_mb} MB; free some space (or a larger card)"
    return PASS, f"{free} MB free under {path}"


def check_temperature(thermal_dir: Path = Path("/sys/class/thermal")) -> tuple[str, str]:
    readings = []
    for zone in sorted(Path(thermal_dir).glob("thermal_zone*")):
        try:
            milli = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue
        kind = (zone / "type").read_text().strip() if (zone / "type").is_file() else zone.name
        readings.append((milli / 1000.0, kind))
    if not readings:
        return SKIP, f"no readable thermal zone under {thermal_dir} (not a Raspberry Pi or Jetson?); not checked"
    hottest, kind = max(readings)
    if hottest >= MAX_TEMP_C:
        return FAIL, (f"{hottest:.1f} C ({kind}), at or above {MAX_TEMP_C:.0f} C: the CPU throttles and recognition "
                      "falls behind; add a heatsink or fan, or move the box out of the sun")
    return PASS, f"{hottest:.1f} C ({kind})"


# ---- broker --------------------------------------------------------------------------------------

def check_broker_and_publish(cfg: Config, report: Report, publish: bool, timeout: float = 10.0) -> None:
    """Connect with the device certificate; on success publish the report (retained) on the status topic."""
    import paho.mqtt.client as mqtt

    from .publish.client import explain_connack, explain_connect_error, explain_peer_alert, new_client
    from .publish.topics import Topics

    m = cfg.mqtt
    if not m.enabled:
        report.add("broker", SKIP, "mqtt.enabled = false: a box without a practice network")
        return
    where = f"{m.host}:{m.port}"
    try:
        client = new_client(m, f"roomnote-selftest-{cfg.device.office}-{cfg.device.id}")
    except RoomnoteError as e:
        report.add("broker", FAIL, str(e))
        return
    result: dict = {}
    connected = threading.Event()

    def on_connect(c, userdata, flags, rc, properties):
        result["rc"] = rc
        connected.set()

    def on_log(c, userdata, level, buf):
        if level == mqtt.MQTT_LOG_ERR and "alert" in buf.lower():
            result["alert"] = buf

    def on_publish(c, userdata, mid, rc, properties):
        result["puback"] = rc

    client.on_connect, client.on_log, client.on_publish = on_connect, on_log, on_publish
    try:
        client.connect(m.host, m.port, keepalive=m.keepalive_s)
    except Exception as e:  # noqa: BLE001 - every failure becomes one line
        report.add("broker", FAIL, str(explain_connect_error(e, m)))
        return
    deadline = time.monotonic() + timeout
    try:
        while not connected.is_set() and time.monotonic() < deadline:
            if client.loop(timeout=0.2) != mqtt.MQTT_ERR_SUCCESS:
                break
        rc = result.get("rc")
        if rc is None:
            err = explain_peer_alert(result.get("alert", ""), m) if result.get("alert") else None
            report.add("broker", FAIL, str(err) if err else
                       f"the broker at {where} closed the connection or did not answer in {timeout:g} s; it most likely "
                       f"rejected this device's certificate ({m.cert_file}): check the broker's log")
            return
        if rc.is_failure:
            report.add("broker", FAIL, str(explain_connack(rc, m)))
            return
        tls = client.socket().version() if hasattr(client.socket(), "version") else "TLS"
        report.add("broker", PASS, f"connected to {where} with the device certificate ({tls}, MQTT 5)")
        if publish:
            topic = Topics(cfg.device.office, cfg.device.id).status
            info = client.publish(topic, json.dumps(report.as_message()), qos=1, retain=True)
            while not info.is_published() and time.monotonic() < deadline + timeout:
                if client.loop(timeout=0.2) != mqtt.MQTT_ERR_SUCCESS:
                    break
            puback = result.get("puback")
            if info.is_published() and not (puback is not None and puback.is_failure):
                report.published = topic
            else:
                why = puback if puback is not None and puback.is_failure else "no acknowledgement"
                report.checks[-1].detail += f"; publishing the result on {topic} failed ({why}): check the broker's ACL"
                report.checks[-1].result = FAIL
    finally:
        try:
            client.disconnect()
            client.loop(timeout=0.2)
        except Exception:  # noqa: BLE001 - the socket may be gone already
            pass
