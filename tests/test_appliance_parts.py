"""The appliance's parts on their own: the LED and P3 guard, the button, the microphone
through PortAudio, frame assembly, live recognition, systemd notify, configuration."""
from __future__ import annotations

import os
import socket
import time

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from appliance_rig import wait_for
from roommic import NAME, room_microphone
from roomnote.audio.mic import MicrophoneError, MicSource, wipe_bytes
from roomnote.audio.resample import FrameAssembler
from roomnote.config import ConfigError, HardwareConfig, MicrophoneConfig, config_from_dict
from roomnote.hardware.led import PATTERNS
from roomnote.hardware.panel import HardwareError, open_panel
from roomnote.sdnotify import Notifier, watchdog_interval


def levels(pin, seconds):
    pin.clear_states()
    time.sleep(seconds)
    return {float(s) for _, s in pin.states}


def test_led_never_goes_dark_while_the_microphone_is_open():
    factory = MockFactory(pin_class=MockPWMPin)
    light = open_panel(HardwareConfig(), lambda: None, lambda: None, factory)[1]
    pin = factory.pin(27)
    light.show("armed")
    assert levels(pin, 2.1) == {0.0, 1.0}
    light.microphone_opening()
    assert pin.state == 1.0 and light.pattern == "on"  # at once, on the caller's thread
    for name in ("error", "processing", "off", "ack", "refused"):
        light.show(name)
        assert levels(pin, 0.3) == {1.0}, name
    light.show("warning")  # the only other pattern allowed: it dims, it never darkens
    assert levels(pin, 1.1) == {1.0, 0.3}
    light.show("error")
    light.microphone_closed()
    assert light.pattern == "error" and levels(pin, 0.5) == {0.0, 1.0}
    light.show("delivered")  # two blinks, then dark
    time.sleep(0.8)
    assert light.pattern == "off" and pin.state == 0.0
    light.close()


def test_led_without_pwm_is_on_or_off_and_patterns_are_distinct():
    factory = MockFactory(pin_class=MockPin)
    light = open_panel(HardwareConfig(), lambda: None, lambda: None, factory)[1]
    pin = factory.pin(27)
    light.show("processing")
    assert levels(pin, 2.1) == {False, True}
    light.close()
    steps = {name: p.steps for name, p in PATTERNS.items()}
    assert len(set(steps.values())) == len(steps)  # every pattern looks different
    assert [n for n, p in PATTERNS.items() if p.never_dark] == ["on", "warning"]


def test_short_and_long_presses():
    factory = MockFactory(pin_class=MockPWMPin)
    got = []
    button, light = open_panel(HardwareConfig(long_press_s=0.5), lambda: got.append("press"),
                               lambda: got.append("long"), factory)
    pin = factory.pin(17)
    pin.drive_low(); time.sleep(0.1); pin.drive_high()
    assert got == ["press"]
    pin.drive_low()
    wait_for(lambda: got == ["press", "long"], 2, "the long press, before the release")
    pin.drive_high()
    time.sleep(0.1)
    assert got == ["press", "long"]  # a long press is never also a short one
    button.close(); light.close()


def test_button_and_led_on_one_pin_is_refused():
    with pytest.raises(HardwareError, match="both GPIO5"):
        open_panel(HardwareConfig(button_pin=5, led_pin=5), lambda: None, lambda: None, MockFactory())


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    with room_microphone(tmp_path_factory.mktemp("room-parts")) as mic:
        yield mic


def test_microphone_delivers_the_room_bit_exact_through_portaudio(room):
    room.rate = 16000
    room.replug()
    blocks = []
    mic = MicSource(MicrophoneConfig(device=NAME), on_audio=blocks.append, on_lost=lambda r: None)
    mic.open()
    assert (mic.rate, mic.channels, mic.device) == (16000, 1, NAME)
    signal = np.random.default_rng(3).integers(-20000, 20000, 16000, dtype=np.int16)
    room.speak(signal)
    room.wait_spoken()
    time.sleep(0.2)
    assert mic.close() is True
    got = np.concatenate(blocks)
    start = got.tobytes().find(signal[:64].tobytes())
    assert start >= 0 and start % 2 == 0
    assert np.array_equal(got[start // 2:start // 2 + len(signal)], signal)
    assert mic.overflows == 0


def test_microphone_by_index_and_a_missing_one(room):
    import pyaudio

    pa = pyaudio.PyAudio()
    index = [i for i in range(pa.get_device_count()) if pa.get_device_info_by_index(i)["name"] == NAME][0]
    pa.terminate()
    mic = MicSource(MicrophoneConfig(device=str(index)), on_audio=lambda b: None, on_lost=lambda r: None)
    mic.open()
    assert mic.device == NAME
    assert mic.close()
    with pytest.raises(MicrophoneError, match=f"no input device with index 99; input devices: .*{NAME}"):
        MicSource(MicrophoneConfig(device="99"), on_audio=lambda b: None, on_lost=lambda r: None).open()


def test_frame_assembler_resamples_48k_stereo_to_16k_mono():
    t = np.arange(48000) / 48000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    stereo = np.repeat(tone, 2)  # interleaved L R
    asm = FrameAssembler(48000, 2)
    frames = []
    for i in range(0, len(stereo), 3072):
        frames += [f.copy() for f in asm.push(stereo[i:i + 3072])]
    frames += [f.copy() for f in asm.flush()]
    out = np.concatenate(frames).astype(np.float32)
    assert abs(len(out) - 16000) <= 512
    spectrum = np.abs(np.fft.rfft(out[1000:15000]))
    peak_hz = np.argmax(spectrum) * 16000 / len(out[1000:15000])
    assert abs(peak_hz - 440) < 3
    asm.wipe()
    assert not asm.frame.any() and not asm.carry.any()


def test_frame_assembler_wipes_its_audio_when_the_consumer_stops_early():
    asm = FrameAssembler(48000, 2)
    block = np.random.default_rng(5).integers(-20000, 20000, 2 * 4800, dtype=np.int16)
    frames = asm.push(block)
    assert next(frames).any()
    pending = frames.gi_frame.f_locals["pending"]  # the resampled block, frames not yet taken
    assert pending.any()
    frames.close()  # e.g. the recogniser failed on that frame
    assert not pending.any()  # P1: zeroed, not just dropped
    asm.wipe()
    assert not asm.frame.any() and not asm.carry.any() and not asm.resampler.history.any()


def test_wipe_bytes_zeroes_what_portaudio_handed_over():
    data = os.urandom(4096)
    wipe_bytes(data)
    assert data == bytes(4096)


@pytest.mark.parametrize("engine", ["pocketsphinx", "whisper"])
def test_live_recognition_partials_and_discard(engine, english_engines, default_config, sphinx_engines,
                                               sphinx_config, make_speech):
    """pocketsphinx streams partial results; whisper has none (the LED is the indicator) and
    on_partial is never called for it. A withdrawal drops everything with either."""
    from roomnote.pipeline import LiveRecognition, transcribe
    from roomnote.audio.wavfile import wav_frames

    engines, cfg = (sphinx_engines, sphinx_config) if engine == "pocketsphinx" else (english_engines, default_config)
    wav = make_speech([("slt", "I have been feeling anxious most mornings.")], "live")
    partials = []
    rec = LiveRecognition(engines, cfg, on_partial=partials.append)
    for frame in wav_frames(wav):
        rec.push(frame)
    if engine == "pocketsphinx":
        assert any("anxious" in p for p in partials)  # words appear while the audio arrives
    else:
        assert partials == []
    rec.discard()  # a withdrawal: everything recognised so far goes
    assert rec.segments == []
    again = transcribe(wav_frames(wav), engines, cfg)  # the engines are fine after
    assert "anxious" in " ".join(w.text for w in again.words).lower()


def test_recognition_leaves_no_audio_in_the_vad(english_engines, default_config, make_speech):
    """P1: the VAD keeps the last frame as the next one's context; a recording's end (here in
    the middle of a word) zeroes it, and a new recording starts from zero in place."""
    from roomnote.pipeline import LiveRecognition
    from roomnote.audio.wavfile import wav_frames

    vad = english_engines.vad
    window = vad.window
    frames = wav_frames(make_speech([("slt", "I have been feeling anxious most mornings.")], "live"))
    rec = LiveRecognition(english_engines, default_config)
    for _, frame in zip(range(45), frames):  # 1.4 s: into the speech
        rec.push(frame)
    frames.close()
    assert vad.window is window and window.any()
    rec.finish()
    assert not window.any()
    vad(np.full(512, 3000, np.int16))
    assert window.any()
    vad.reset()  # zeroed where it is, not dropped to freed memory
    assert vad.window is window and not window.any()


def test_audio_arriving_after_the_session_ended_is_wiped(english_engines, default_config):
    """A microphone slow to close may still deliver after the stop: that block is zeroed, not
    left queued for nobody (P1)."""
    from datetime import datetime, timezone

    from roomnote.session import ConsentRecord, NoteReady, Session

    posted = []
    session = Session(english_engines, default_config, ConsentRecord("clinician", datetime.now(timezone.utc)),
                      posted.append)
    session.start(16000, 1)
    noise = np.random.default_rng(7).integers(-3000, 3000, 16000, dtype=np.int16)
    for i in range(0, len(noise), 512):
        session.feed(noise[i:i + 512].copy())
    session.finish()
    session.worker.join(60)
    assert not session.worker.is_alive() and [type(e) for e in posted] == [NoteReady]
    late = noise[:512].copy()
    session.feed(late)
    assert not late.any() and session.blocks.empty()


def test_notify_without_systemd_python_writes_the_socket_itself(tmp_path, monkeypatch):
    for path in (str(tmp_path / "n.sock"), "@roomnote-test-%d" % os.getpid()):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        server.bind(path.replace("@", "\0", 1) if path.startswith("@") else path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        n = Notifier(use_libsystemd=False)
        n.ready("idle: ready")
        assert server.recv(1024) == b"READY=1\nSTATUS=idle: ready"
        n.watchdog()
        assert server.recv(1024) == b"WATCHDOG=1"
        server.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    Notifier(use_libsystemd=False).ready("nobody listens")  # outside systemd: nothing, no error


def test_watchdog_interval(monkeypatch):
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval() is None


@pytest.mark.parametrize("raw, message", [
    ({"consent": {"mode": "nobody"}}, "consent.mode: expected one of clinician, external, got 'nobody'"),
    ({"microphone": {"rate": 22050}}, "microphone.rate: expected one of 0, 16000, 44100, 48000, got 22050"),
    ({"session": {"max_minutes": 0}}, "session.max_minutes: expected a value from 0.05 to 600.0, got 0.0"),
    ({"hardware": {"long_press_s": 0.1}}, "hardware.long_press_s: expected a value from 0.5 to 10.0, got 0.1"),
    ({"microphone": {"device": 2}}, "microphone.device: expected str, got an integer 2"),
])
def test_appliance_configuration_errors(raw, message):
    with pytest.raises(ConfigError) as e:
        config_from_dict(raw, source="roomnote.toml")
    assert str(e.value) == f"roomnote.toml: {message}"


def test_appliance_configuration_defaults():
    cfg = config_from_dict({})
    assert (cfg.hardware.button_pin, cfg.hardware.led_pin, cfg.hardware.long_press_s) == (17, 27, 2.0)
    assert cfg.consent.mode == "clinician" and cfg.session.max_minutes == 120.0
    assert cfg.microphone.device == "" and cfg.microphone.rate == 0
