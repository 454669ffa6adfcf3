"""The appliance end to end in-process: mock GPIO pins, a real ALSA device through PortAudio,
the real engines. LED and state are asserted at every step, and P3 on every path."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from appliance_rig import Rig, assert_session_wiped, read_pcm, wait_for
from roommic import NAME, room_microphone
from roomnote.appliance import ConsentError
from roomnote.sinks import NoteDirectory

SPEECH = [("slt", "My name is Sarah Johnson and I have been feeling anxious most mornings.")]
CANARY = ["sarah", "johnson"]
DARK_AND_LIT = {0.0, 1.0}


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    with room_microphone(tmp_path_factory.mktemp("room")) as mic:
        yield mic


@pytest.fixture(scope="module")
def speech(make_speech):
    return read_pcm(make_speech(SPEECH, "appliance-speech"))


@pytest.fixture(scope="module")
def speech_48k(make_speech, tmp_path_factory):
    src = make_speech(SPEECH, "appliance-speech")
    out = tmp_path_factory.mktemp("s48") / "speech48k.wav"
    subprocess.run(["sox", str(src), "-r", "48000", str(out)], check=True)  # an independent resampler
    return read_pcm(out)


@pytest.fixture
def rig_factory(english_engines, tmp_path, room):
    rigs = []

    def make(rate=16000, sink=None, **config):
        room.rate = rate
        room.replug()
        rig = Rig(english_engines, tmp_path, sink=sink, **config)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop()


def note_json(rig) -> dict:
    files = [p for p in rig.note_files() if p.suffix == ".json"]
    assert len(files) == 1, rig.note_files()
    return json.loads(files[0].read_text())


def test_clinician_session_start_stop(rig_factory, room, speech):
    rig = rig_factory()
    app = rig.app
    assert app.state == "idle" and rig.led.state == 0 and app.light.pattern == "off"

    rig.press("armed")  # first press: the therapist attests consent
    assert app.light.pattern == "armed" and rig.levels(2.1) == DARK_AND_LIT
    assert rig.streams == []  # armed is not recording

    rig.press("recording")
    session = app.session
    assert app.light.pattern == "on" and rig.led.state == 1.0
    room.speak(speech)
    room.wait_spoken()
    assert rig.levels(0.3) == {1.0}

    rig.press()  # stop
    # "delivered" is emitted just before the control thread settles, so wait for both
    wait_for(lambda: rig.kinds()[-1:] == ["delivered"] and app.state == "idle", 20, "the note")
    assert app.light.pattern in ("delivered", "off")
    wait_for(lambda: app.light.pattern == "off", 3, "the LED to go dark after the two blinks")
    assert rig.led.state == 0
    rig.assert_p3()

    states = [e["state"] for e in rig.events if e["event"] == "state"]
    assert states == ["idle", "armed", "recording", "processing", "publishing", "idle"]
    assert rig.kinds() == ["started", "stopped", "delivered"]
    stopped = rig.events[[e["event"] for e in rig.events].index("stopped")]
    assert stopped["reason"] == "button" and stopped["overflows"] == 0 and stopped["duration_s"] > 4

    note = note_json(rig)
    assert note["session"]["consent"].startswith("attested by the clinician at ")
    assert note["redaction_counts"].get("NAME", 0) >= 1
    text = json.dumps(note).lower()
    assert "anxious" in text  # the speech was heard, live
    assert not any(w in text for w in CANARY)
    assert not any(w in json.dumps(rig.events).lower() for w in CANARY + ["anxious"])
    assert_session_wiped(session, app.engines.vad)  # P1: the audio is zeroed when the session ends


def test_withdrawal_drops_everything_at_once(rig_factory, room, speech):
    rig = rig_factory()
    app = rig.app
    rig.press("armed")
    rig.press("recording")
    session = app.session
    room.speak(speech)
    wait_for(lambda: session.frames > 60, 10, "audio to arrive")
    rig.hold()  # the client withdraws
    wait_for(lambda: app.state == "idle", 5, "idle")
    assert app.light.pattern == "off" and rig.led.state == 0
    rig.assert_p3()
    assert rig.kinds() == ["started", "discarded"]
    # nothing of the session is left: no note, no words, no queued audio
    assert rig.note_files() == []
    assert session.rec.segments == [] and session.blocks.empty()
    assert not np.any(session.assembler.frame) and not np.any(session.assembler.carry)
    assert_session_wiped(session, app.engines.vad)
    room.wait_spoken()
    time.sleep(0.3)
    assert rig.kinds() == ["started", "discarded"]  # nothing composed later either


def test_device_loss_keeps_what_was_captured_and_shows_the_error(rig_factory, room, speech):
    rig = rig_factory()
    app = rig.app
    rig.press("armed")
    rig.press("recording")
    room.speak(speech)
    room.wait_spoken()
    room.stall()  # the microphone stops delivering: its stream cannot even close now
    wait_for(lambda: app.state in ("processing", "publishing", "error"), 10, "the loss to be noticed")
    # the stream is still open (PortAudio is stuck in the device): the LED stays lit (P3)
    wait_for(lambda: app.state == "error", 20, "the note of what was captured, then the error")
    assert rig.streams[0][2] is None and rig.led.state == 1.0 and app.light.pattern == "on"
    assert app.light.wanted == "error"
    room.unplug()  # the device goes away: the stream closes
    wait_for(lambda: rig.streams[0][2] is not None, 10, "the stream to close")
    wait_for(lambda: app.light.pattern == "error", 5, "the error pattern")
    assert rig.levels(0.5) == DARK_AND_LIT
    rig.assert_p3()
    errors = [e for e in rig.events if e["event"] == "error"]
    assert len(errors) == 1 and errors[0]["reason"] == "microphone lost (no audio for 2 s)"
    assert rig.kinds() == ["started", "stopped", "delivered", "error"]
    assert [e["reason"] for e in rig.events if e["event"] == "stopped"] == ["device_lost"]
    assert "anxious" in json.dumps(note_json(rig)).lower()  # the captured part made its note
    assert app.status() == "error: microphone lost (no audio for 2 s)"

    room.replug()  # the next press tries the device again
    rig.press("armed")
    rig.press("recording")
    wait_for(lambda: app.session.frames > 10, 5, "audio from the re-plugged device")
    rig.hold()
    wait_for(lambda: app.state == "idle", 5, "idle")
    rig.assert_p3()


def test_recognition_failing_while_recording_closes_the_microphone(rig_factory, room):
    rig = rig_factory()
    app = rig.app
    rig.press("armed")
    rig.press("recording")
    vad = app.engines.vad
    sr = vad.sr
    try:
        vad.sr = np.array(16000, np.float32)  # onnxruntime refuses the next frame: recognition fails
        wait_for(lambda: app.state == "error", 10, "the failure")
    finally:
        vad.sr = sr
    wait_for(lambda: rig.streams[0][2] is not None, 5, "the stream to close")  # not left open for nobody
    wait_for(lambda: app.light.pattern == "error", 5, "the error pattern")
    assert app.mic is None and rig.levels(0.5) == DARK_AND_LIT
    assert [e["reason"] for e in rig.events if e["event"] == "error"] == ["recognition failed (InvalidArgument)"]
    rig.press("armed")  # the next session records and delivers
    rig.press("recording")
    time.sleep(0.5)
    rig.press()
    wait_for(lambda: "delivered" in rig.kinds() and app.state == "idle", 20, "the next note")
    assert len(rig.streams) == 2
    rig.assert_p3()


def test_no_second_stream_while_a_lost_microphone_has_not_closed(rig_factory, room):
    rig = rig_factory()
    app = rig.app
    rig.press("armed")
    rig.press("recording")
    room.stall()  # stuck: the stream cannot close
    wait_for(lambda: app.state == "error", 20, "the loss")
    rig.press("armed")
    rig.press()  # refused: a second stream's close would darken the LED of the first (P3)
    wait_for(lambda: "refused" in rig.kinds(), 5, "the refusal")
    assert app.state == "armed" and len(rig.streams) == 1 and rig.led.state == 1.0
    room.unplug()
    wait_for(lambda: rig.streams[0][2] is not None and app.mic is None, 10, "the stream to close")
    room.replug()
    rig.press("recording")  # now it may open again; the consent is still there
    assert len(rig.streams) == 2
    rig.hold()
    wait_for(lambda: app.state == "idle", 5, "the discard")
    rig.assert_p3()


def test_maximum_length_warns_then_stops_by_itself_at_48khz(rig_factory, room, speech_48k):
    rig = rig_factory(rate=48000, microphone__rate=48000, session__max_minutes=0.1, session__warn_minutes=0.05)
    app = rig.app
    rig.press("armed")
    rig.press("recording")
    session = app.session
    started = time.monotonic()
    room.speak(speech_48k)
    assert app.light.pattern == "on"
    wait_for(lambda: app.light.pattern == "warning", 5, "the warning")
    assert 2.5 < time.monotonic() - started < 4.5
    assert app.state == "recording" and rig.levels(1.2) == {1.0, 0.3}  # dims, never dark
    wait_for(lambda: app.state != "recording", 5, "the automatic stop")
    assert 5.5 < time.monotonic() - started < 8
    wait_for(lambda: "delivered" in rig.kinds(), 20, "the note")
    rig.assert_p3()
    assert [e["reason"] for e in rig.events if e["event"] == "stopped"] == ["max_length"]
    assert [e["rate"] for e in rig.events if e["event"] == "started"] == [48000]
    note = note_json(rig)
    assert "anxious" in json.dumps(note).lower()  # resampled in memory and recognised
    assert note["redaction_counts"].get("NAME", 0) >= 1
    assert_session_wiped(session, app.engines.vad)  # the resampler's state too (P1)


def test_sigterm_while_recording_finishes_the_note_then_exits(rig_factory, room, speech):
    rig = rig_factory()
    app = rig.app
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    app.install_signal_handlers()
    try:
        rig.press("armed")
        rig.press("recording")
        room.speak(speech[: 16000 * 3])
        room.wait_spoken()
        os.kill(os.getpid(), signal.SIGTERM)
        rig.thread.join(20)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    assert not rig.thread.is_alive()
    assert rig.kinds() == ["started", "stopped", "delivered"]
    assert [e["reason"] for e in rig.events if e["event"] == "stopped"] == ["shutdown"]
    assert len(rig.note_files()) == 2
    assert rig.led.state == 0
    rig.assert_p3()


def test_external_consent_gate(rig_factory, room, speech):
    rig = rig_factory(consent__mode="external")
    app = rig.app
    rig.press()  # no consent from the practice system: refused
    wait_for(lambda: "refused" in rig.kinds() and app.light.pattern == "refused", 5, "the refusal")
    assert app.state == "idle" and rig.streams == []
    assert rig.levels(0.4) == DARK_AND_LIT
    wait_for(lambda: app.light.pattern == "off", 2, "dark after the refusal")

    with pytest.raises(ConsentError):
        app.give_consent("Sarah Johnson")  # not an id: refused before anything happens
    app.give_consent("appt-0042")
    wait_for(lambda: app.state == "armed", 5, "armed")
    assert app.light.pattern == "armed"
    rig.press("recording")
    room.speak(speech[: 16000 * 2])
    app.withdraw_consent("appt-0042")  # withdrawn in the practice system: dropped at once
    wait_for(lambda: app.state == "idle", 5, "idle")
    assert rig.kinds() == ["refused", "consent", "started", "discarded"]
    assert rig.note_files() == []

    app.give_consent("appt-0043")
    wait_for(lambda: app.state == "armed", 5, "armed")
    rig.press("recording")
    time.sleep(0.5)
    rig.press()
    wait_for(lambda: "delivered" in rig.kinds(), 20, "the note")
    consent = note_json(rig)["session"]["consent"]
    assert consent.startswith("given in the practice system (ref appt-0043), received at ")
    rig.assert_p3()


def test_press_while_the_note_is_handed_on_is_acknowledged_and_ignored(rig_factory, room, tmp_path):
    gate = threading.Event()

    class SlowDirectory(NoteDirectory):
        def put(self, note, rt):
            gate.wait(20)
            super().put(note, rt)

    rig = rig_factory(sink=SlowDirectory(tmp_path / "slow"))
    app = rig.app
    rig.press("armed")
    rig.press("recording")
    time.sleep(0.5)
    rig.press("publishing")
    rig.press()
    wait_for(lambda: app.light.pattern == "ack", 2, "the acknowledgement")
    wait_for(lambda: app.light.pattern == "processing", 2, "the pulse again")
    assert app.state == "publishing"
    assert rig.levels(1.2) > {0.0, 1.0}  # a slow pulse: levels in between
    gate.set()
    wait_for(lambda: app.state == "idle", 10, "idle")
    assert rig.kinds() == ["started", "stopped", "delivered"]


def test_missing_microphone_is_an_error_until_it_is_there(rig_factory, room):
    rig = rig_factory(microphone__device="USB PnP Sound Device")
    app = rig.app
    rig.press("armed")
    rig.press("error")
    assert app.light.pattern == "error" and rig.levels(0.5) == DARK_AND_LIT
    assert len(rig.streams) == 1 and rig.streams[0][1] == 1.0  # lit while it tried to open
    reason = [e["reason"] for e in rig.events if e["event"] == "error"][0]
    assert reason.startswith("microphone.device: no input device named 'USB PnP Sound Device'; input devices: ")
    assert NAME in reason
    assert app.status().startswith("error: microphone.device")


def test_a_note_that_could_not_be_handed_on_is_kept_and_retried(rig_factory, room, tmp_path):
    target = tmp_path / "not-yet"
    target.write_text("a file where the note directory should be")  # the disk refuses the note
    rig = rig_factory(sink=NoteDirectory(target))
    app = rig.app
    rig.press("armed")
    rig.press("recording")
    time.sleep(0.5)
    rig.press()
    wait_for(lambda: app.state == "error", 10, "the failed hand-off")
    reason = [e["reason"] for e in rig.events if e["event"] == "error"][0]
    assert reason.startswith(f"{target}: cannot write note ") and "free some space" in reason
    assert app.light.pattern == "error"
    target.unlink()  # fixed
    rig.press()  # the next press hands the kept note on before anything else
    wait_for(lambda: "delivered" in rig.kinds() and app.state == "idle", 10, "the retried note")
    assert len(list(target.glob("*.json"))) == 1
    assert rig.kinds() == ["started", "stopped", "error", "delivered"]
