"""The appliance on a test bench: gpiozero's MockFactory pins, the room microphone (a real
ALSA device, see roommic.py), the real engines and the real note directory.

`Rig.press()` / `hold()` work the button pin; `Rig.led` is the LED's mock pin. Every time
the microphone's stream opens or closes the LED's level is recorded, so P3 can be checked
against the LED pin's full history.
"""
from __future__ import annotations

import dataclasses
from collections import deque

import threading
import time
import wave
from pathlib import Path

import numpy as np
from gpiozero.pins.mock import MockFactory, MockPWMPin

from roomnote.appliance import Appliance
from roomnote.audio.mic import MicSource
from roomnote.config import config_from_dict
from roomnote.sinks import NoteDirectory
from roommic import NAME

BUTTON, LED = 17, 27
LONG_PRESS_S = 0.5


def read_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).copy()


def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def watched_microphone(streams: list, led_level) -> type[MicSource]:
    """The real MicSource, noting in `streams` when each stream opens (with the LED's level,
    `led_level()`, at that moment) and when it has closed: [opening, level, closed or None]."""

    class WatchedMic(MicSource):
        def open(self):
            record = [time.monotonic(), led_level(), None]
            streams.append(record)
            super().open()
            real_close = self.stream.close

            def close():
                real_close()
                record[2] = time.monotonic()

            self.stream.close = close

    return WatchedMic


def led_history(pin, t0: float) -> list[tuple[float, float]]:
    """(time, level) of every change of a mock pin since `t0`, its `_last_change` after clear_states()."""
    t, out = t0, []
    for delta, state in list(pin.states):
        t += delta
        out.append((t, float(state)))
    return out


def assert_p3(history: list[tuple[float, float]], streams: list) -> None:
    """Lit before every stream opened, and never dark until it had closed."""
    assert streams, "no stream was opened"
    for opening, level, closed in streams:
        assert level > 0, "the LED was dark when the stream opened"
        end = closed if closed is not None else time.monotonic()
        during = [s for t, s in history if opening <= t <= end]
        assert all(s > 0 for s in during), f"the LED went dark while the stream was open: {during}"


def pcm_probes(pcm: np.ndarray) -> list[bytes]:
    """32-byte windows of a recording's loud PCM: any of them in a file or a message is audio (P1)."""
    raw = pcm.tobytes()
    rng = np.random.default_rng(0)
    probes = [raw[i:i + 32] for i in rng.integers(0, len(raw) - 32, 400) if len(set(raw[i:i + 32])) > 8][:50]
    assert len(probes) >= 20
    return probes


def assert_session_wiped(session, vad) -> None:
    """P1 in memory: once a session is over, none of its audio buffers holds a sample."""
    session.worker.join(5)
    assert not session.worker.is_alive() and session.blocks.empty()
    asm = session.assembler
    buffers = {"frame": asm.frame, "carry": asm.carry, "resampler history": asm.resampler.history,
               "resampler pending": asm.resampler.pending, "VAD window": vad.window}
    assert not [name for name, a in buffers.items() if a.any()], "audio left in memory"
    assert session.rec.segments == [] and session.rec.gate.preroll == deque()


class Rig:
    def __init__(self, engines, tmp: Path, sink=None, **config):
        sections = {"microphone": {"device": NAME}, "hardware": {"long_press_s": LONG_PRESS_S}}
        for key, value in config.items():
            section, name = key.split("__")
            sections.setdefault(section, {})[name] = value
        self.cfg = config_from_dict(sections)
        self.factory = MockFactory(pin_class=MockPWMPin)
        self.events: list[dict] = []
        self.streams: list[list] = []  # [time opening, LED level then, time closed or None]
        self.notes = tmp / "notes"
        # The rig tests the state machine; the note encoder in a session is tested with the
        # daemon as a child process (test_daemon*.py). Without it, composing stays quick while
        # the room microphone's writer (this process) feeds PortAudio.
        engines = dataclasses.replace(engines, encoder=None)
        self.app = Appliance(self.cfg, engines, sink or NoteDirectory(self.notes), emit=self.events.append,
                             pin_factory=self.factory,
                             microphone=watched_microphone(self.streams, lambda: self.led.state))
        self.button, self.led = self.factory.pin(BUTTON), self.factory.pin(LED)
        self.led.clear_states()
        self.t0 = self.led._last_change  # the mock pin's history is relative to this moment
        self.thread = threading.Thread(target=self._run, name="control", daemon=True)
        self.error: BaseException | None = None
        self.thread.start()
        wait_for(lambda: self.events, 5, "the control loop")

    def _run(self):
        try:
            self.app.run()
        except BaseException as e:  # surfaced by stop()
            self.error = e

    # -- the button --------------------------------------------------------------------------

    def press(self, expect: str | None = None) -> None:
        self.button.drive_low()
        time.sleep(0.05)
        self.button.drive_high()
        if expect:
            wait_for(lambda: self.app.state == expect, 10, f"state {expect}, got {self.app.state}")

    def hold(self, seconds: float = LONG_PRESS_S + 0.3) -> None:
        self.button.drive_low()
        time.sleep(seconds)
        self.button.drive_high()

    # -- what the LED did ---------------------------------------------------------------------

    def history(self) -> list[tuple[float, float]]:
        return led_history(self.led, self.t0)

    def levels(self, seconds: float) -> set[float]:
        """The LED levels seen over the next `seconds`."""
        start = time.monotonic()
        time.sleep(seconds)
        hist = self.history()
        before = [s for t, s in hist if t <= start][-1:]
        return set(before + [s for t, s in hist if start < t <= time.monotonic()])

    def assert_p3(self) -> None:
        assert_p3(self.history(), self.streams)

    # -- outputs --------------------------------------------------------------------------

    def kinds(self) -> list[str]:
        return [e["event"] for e in self.events if e["event"] != "state"]

    def note_files(self) -> list[Path]:
        return sorted(self.notes.glob("*")) if self.notes.exists() else []

    def stop(self) -> None:
        if self.thread.is_alive():
            self.app.request_shutdown("test over")
            self.thread.join(30)
        self.factory.reset()
        if self.error:
            raise self.error
