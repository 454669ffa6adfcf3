"""`roomnote enroll` at the box: gpiozero's MockFactory pins for the button and the LED, the
room microphone (a real ALSA capture device through PortAudio, roommic.py) playing flite
speech faster than real time, the real VAD and voice encoder. P3 is asserted on the LED
pin's history, P1 on the buffers and on every file left behind."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from appliance_rig import assert_p3, led_history, pcm_probes, read_pcm, wait_for, watched_microphone
from conftest import REPO
from roommic import NAME, room_microphone
from roomnote import cli
from roomnote.audio.mic import MicrophoneError
from roomnote.audio.vad import load_vad
from roomnote.config import HardwareConfig, config_from_dict
from roomnote.enrolment import BoxEnrolment, EnrolmentCancelled
from roomnote.hardware.panel import HardwareError, open_panel
from roomnote.models import load_manifest
from roomnote.speakers import load_encoder, load_profile
from roomnote.speakers.evalset import ENROL_TEXT
from roomnote.speakers.profile import ProfileError
from roomnote.synth import speak

BUTTON, LED = 17, 27
LONG_PRESS_S = 0.5
PACE = 3.0  # the room plays speech 3 times faster than real time; the microphone takes it as it comes
MONOLOGUE = [("rms", text) for text in ENROL_TEXT[:3]]  # 17.6 s of audio, about 15 s of speech
SHORT = [("rms", ENROL_TEXT[0])]


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    with room_microphone(tmp_path_factory.mktemp("enrol-room"), speed=PACE) as mic:
        yield mic


@pytest.fixture(scope="module")
def models(default_config):
    manifest = load_manifest()
    vad = load_vad(manifest, default_config.models.dir)
    return vad, load_encoder(default_config, manifest)


@pytest.fixture(scope="module")
def monologue(make_speech):
    return read_pcm(make_speech(MONOLOGUE, "enrol-monologue", gap=0.4))


def config_for(tmp: Path, **overrides):
    sections = {"microphone": {"device": NAME}, "hardware": {"long_press_s": LONG_PRESS_S},
                "speakers": {"profile": str(tmp / "state" / "voice" / "therapist.profile"),
                             "key": str(tmp / "state" / "keys" / "voice.key")}}
    for key, value in overrides.items():
        section, name = key.split("__")
        sections.setdefault(section, {})[name] = value
    return config_from_dict(sections)


class Box:
    """One enrolment on mock pins, run on its own thread as `roomnote enroll` runs it."""

    def __init__(self, tmp: Path, models, seconds=None, **config):
        self.cfg = config_for(tmp, **config)
        self.factory = MockFactory(pin_class=MockPWMPin)
        self.streams: list = []
        self.lines: list[str] = []
        self.enrolment = BoxEnrolment(self.cfg, seconds=seconds, pin_factory=self.factory,
                                      microphone=watched_microphone(self.streams, lambda: self.led.state),
                                      say=self.lines.append)
        self.button, self.led = self.factory.pin(BUTTON), self.factory.pin(LED)
        self.led.clear_states()
        self.t0 = self.led._last_change
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=models, name="enrol", daemon=True)
        self.thread.start()
        wait_for(lambda: self.lines, 5, "the prompt")

    def _run(self, vad, encoder):
        try:
            self.result = self.enrolment.run(vad, encoder)
        except BaseException as e:
            self.error = e

    def press(self) -> None:
        self.button.drive_low()
        time.sleep(0.05)
        self.button.drive_high()

    def hold(self) -> None:
        self.button.drive_low()
        time.sleep(LONG_PRESS_S + 0.3)
        self.button.drive_high()

    def start(self) -> None:
        self.press()
        wait_for(lambda: self.enrolment.mic is not None and self.enrolment.light.pattern == "on", 10, "recording")

    def finish(self, timeout: float = 60) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the enrolment did not end"

    def history(self) -> list[tuple[float, float]]:
        return led_history(self.led, self.t0)

    def assert_nothing_held(self) -> None:
        """P1: the buffer, the device blocks and the frame assembly are zero or empty."""
        e = self.enrolment
        assert e.n == 0 and not e.audio.any() and e.blocks.empty()
        assert e.assembler is None or not (e.assembler.frame.any() or e.assembler.carry.any())


@pytest.fixture
def box_factory(tmp_path, models, room):
    boxes = []

    def make(seconds=None, **config):
        room.replug()
        box = Box(tmp_path, models, seconds, **config)
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        if box.thread.is_alive():
            box.hold()
            box.thread.join(10)
        box.factory.reset()


def files_under(path: Path) -> list[str]:
    return sorted(str(f.relative_to(path)) for f in path.rglob("*") if f.is_file())


def assert_no_pcm(pcm: np.ndarray, *roots: Path) -> None:
    """No 32-byte window of the speech's PCM in any file under `roots` (P1)."""
    probes = pcm_probes(pcm)
    for root in roots:
        for f in root.rglob("*"):
            if f.is_file() and not f.is_fifo():
                blob = f.read_bytes()
                assert not any(probe in blob for probe in probes), f


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# --- at the box -----------------------------------------------------------------------------

def test_press_speak_press_enrols_the_voice_encrypted_on_the_box(box_factory, room, monologue, models, tmp_path):
    box = box_factory()
    light = box.enrolment.light
    assert box.lines == ["Press the button and speak for about 30 seconds; press again to stop "
                         "(a long press cancels)."]
    assert light.pattern == "armed" and box.streams == []  # waiting: a blip every 2 s, no stream

    box.start()
    assert box.streams[0][1] == 1.0  # lit before the stream opened (P3)
    room.speak(monologue)
    room.wait_spoken()
    assert light.pattern == "on" and box.led.state == 1.0
    box.press()
    wait_for(lambda: box.streams[0][2] is not None, 10, "the stream to close")
    box.finish()
    assert box.error is None, box.error
    assert box.lines[1:] == ["Recording (the LED is on) ...", box.lines[2]]
    assert box.lines[2].startswith("recorded ") and box.lines[2].endswith(" s; enrolling ...")

    # P3 over the whole run; then the slow pulse while enrolling, two blinks, dark
    history = box.history()
    assert_p3(history, box.streams)
    after = [level for t, level in history if t > box.streams[0][2]]
    assert any(0 < level < 1 for level in after), "no processing pulse"
    assert after[-4:] == [1.0, 0.0, 1.0, 0.0]  # delivered: two blinks, then dark
    assert box.led.state == 0

    # the profile: on the box, encrypted, and the voice that spoke
    profile = box.result
    assert 10 <= profile.speech_s <= 17.6
    assert files_under(tmp_path / "state") == ["keys/voice.key", "voice/therapist.profile"]
    path = tmp_path / "state" / "voice" / "therapist.profile"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    blob = path.read_bytes()
    emb = profile.embedding.astype("<f4").tobytes()
    assert not any(emb[i:i + 8] in blob for i in range(0, len(emb), 8))  # no vector numbers in the file
    loaded = load_profile(box.cfg.speakers)
    assert np.array_equal(loaded.embedding, profile.embedding)
    _, encoder = models
    same = encoder.embed_partials(speak("rms", ENROL_TEXT[5], tmp_path) / 32768.0)[0].mean(axis=0)
    other = encoder.embed_partials(speak("slt", ENROL_TEXT[5], tmp_path) / 32768.0)[0].mean(axis=0)
    assert cosine(loaded.embedding, same) >= box.cfg.speakers.therapist_match > cosine(loaded.embedding, other)

    box.assert_nothing_held()
    assert_no_pcm(monologue, tmp_path / "state")


def test_too_little_speech_is_refused_and_nothing_is_kept(box_factory, room, make_speech, tmp_path):
    box = box_factory()
    box.start()
    short = read_pcm(make_speech(SHORT, "enrol-short"))
    room.speak(short)
    room.wait_spoken()
    box.press()
    box.finish()
    assert isinstance(box.error, ProfileError)
    assert str(box.error).startswith("only ") and "about 30 seconds" in str(box.error)
    assert "\n" not in str(box.error)
    history = box.history()
    assert_p3(history, box.streams)
    after = [level for t, level in history if t > box.streams[0][2]]
    assert after[-6:] == [1.0, 0.0] * 3  # refused: three quick flashes, then dark
    assert files_under(tmp_path / "state") == [] and load_profile(box.cfg.speakers) is None
    box.assert_nothing_held()


def test_long_press_cancels_before_and_during_recording(box_factory, room, monologue, tmp_path):
    box = box_factory()
    box.hold()  # before recording: nothing opened at all
    box.finish(10)
    assert isinstance(box.error, EnrolmentCancelled) and "nothing was recorded" in str(box.error)
    assert box.streams == [] and box.led.state == 0

    box = box_factory()
    box.start()
    room.speak(monologue)
    wait_for(lambda: box.enrolment.n > 16000 * 3, 10, "audio to arrive")
    box.hold()
    box.finish(10)
    assert isinstance(box.error, EnrolmentCancelled) and "nothing was kept" in str(box.error)
    assert box.streams[0][2] is not None and box.led.state == 0
    assert_p3(box.history(), box.streams)
    assert files_under(tmp_path / "state") == []
    box.assert_nothing_held()
    room.wait_spoken()


def test_a_lost_microphone_keeps_nothing_and_its_led_lit_until_it_closes(box_factory, room, monologue, tmp_path):
    box = box_factory()
    box.start()
    room.speak(monologue[:16000 * 6])
    wait_for(lambda: box.enrolment.n > 16000 * 2, 10, "audio to arrive")
    room.stall()  # the device stops delivering; PortAudio cannot even close the stream now
    box.finish(30)
    assert isinstance(box.error, MicrophoneError)
    assert str(box.error) == ("microphone lost while enrolling (no audio for 2 s); nothing was kept; "
                              "check the microphone and run 'roomnote enroll' again")
    assert box.streams[0][2] is None and box.led.state == 1.0  # still open: still lit (P3)
    box.assert_nothing_held()
    room.unplug()  # the device goes away: the stream closes, and only then the LED may change
    wait_for(lambda: box.streams[0][2] is not None, 10, "the stream to close")
    wait_for(lambda: box.led.state == 0 and box.enrolment.light.pattern == "off", 3, "dark after the flashes")
    assert_p3(box.history(), box.streams)
    assert files_under(tmp_path / "state") == []


def test_pins_in_use_and_a_missing_microphone_are_one_line(box_factory, models, tmp_path):
    factory = MockFactory(pin_class=MockPWMPin)
    button, light = open_panel(HardwareConfig(), lambda: None, lambda: None, factory)  # the service's
    with pytest.raises(HardwareError) as e:
        BoxEnrolment(config_for(tmp_path), pin_factory=factory)
    assert str(e.value) == ("GPIO17 (button) or GPIO27 (LED) is in use by another program: 'roomnote run' "
                            "(the roomnote service) and 'roomnote enroll' cannot run at the same time; stop the "
                            "other one (systemctl stop roomnote) and try again")
    button.close()
    light.close()
    free = BoxEnrolment(config_for(tmp_path), pin_factory=factory)  # free again: the failed attempt kept no pin
    free.button.close()
    free.light.close()

    box = box_factory(microphone__device="USB PnP Sound Device")
    box.press()
    box.finish(10)
    assert isinstance(box.error, MicrophoneError)
    assert str(box.error).startswith("microphone.device: no input device named 'USB PnP Sound Device'")
    assert len(box.streams) == 1 and box.streams[0][1] == 1.0  # lit while it tried to open
    assert box.led.state == 0 and files_under(tmp_path / "state") == []


def test_seconds_must_be_10_to_120_and_exclude_a_wav(capsys):
    for argv in (["enroll", "--seconds", "5"], ["enroll", "--seconds", "ten"],
                 ["enroll", "--seconds", "20", "--from-wav", "x.wav"]):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "expected a number of seconds from 10 to 120, got '5'" in err
    assert "not allowed with argument" in err


# --- the command, end to end ----------------------------------------------------------------

def test_roomnote_enroll_seconds_stops_by_itself(room, monologue, tmp_path):
    """`roomnote enroll --seconds 20` as IT runs it: the real entry point, its button pressed
    once on mock pins (appliance_driver.py); then the files it left behind."""
    dirs = {name: tmp_path / name for name in ("tmp", "home", "cwd")}
    for d in dirs.values():
        d.mkdir()
    config = tmp_path / "roomnote.toml"
    config.write_text(f'[microphone]\ndevice = "{NAME}"\n[hardware]\nlong_press_s = {LONG_PRESS_S}\n'
                      f'[speakers]\nprofile = "{tmp_path}/state/voice/therapist.profile"\n'
                      f'key = "{tmp_path}/state/keys/voice.key"\n')
    env = {**os.environ, **room.env, "TMPDIR": str(dirs["tmp"]), "HOME": str(dirs["home"]),
           "XDG_CACHE_HOME": str(dirs["home"])}
    room.replug()
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "appliance_driver.py"), "enroll",
                             "--seconds", "20", "--config", str(config)], cwd=dirs["cwd"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("Press the button") for line in lines), 60, "the prompt")
        assert "recording stops by itself after 20 seconds" in lines[0]
        proc.stdin.write("press\n")
        proc.stdin.flush()
        wait_for(lambda: "Recording (the LED is on) ...\n" in lines, 10, "recording")
        room.speak(monologue)
        proc.wait(60)  # no second press
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert lines[-1].startswith("voice profile enrolled from ") and "kept encrypted on this box only" in lines[-1]
    assert "recording stopped (limit) after 20.0 s of audio" in err
    assert files_under(tmp_path / "state") == ["keys/voice.key", "voice/therapist.profile"]
    for d in dirs.values():
        assert files_under(d) == [], d
    room.wait_spoken()
    assert_no_pcm(monologue, tmp_path)
