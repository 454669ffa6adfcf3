"""`roomnote enroll` at the box: the therapist's voice recorded with the appliance's own
button, LED and microphone (hardware/, audio/mic.py), then enrolled (speakers/profile.py).

    waiting (LED: a blip every 2 s) --press--> recording (LED steady on)
      --press, --seconds or MAX_S of audio--> microphone closed --> enrolling (slow pulse)
      --> saved (two blinks) | refused (three quick flashes; one line says why)
    a long press (or Ctrl-C) before enrolling cancels: nothing is kept.

The audio is held in one in-memory buffer sized for the limit and zeroed whatever the
outcome (P1). The LED is lit before the stream opens and goes dark only once it has closed
(P3), enforced by StatusLight as in the appliance. The `roomnote` service holds the button
and LED pins while it runs; open_panel says so when they are in use.
"""
from __future__ import annotations

import logging
import math
import queue
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .audio import FRAME_SAMPLES, SAMPLE_RATE
from .audio.mic import MicrophoneError, MicSource
from .audio.resample import FrameAssembler
from .audio.resample import wipe
from .config import Config
from .errors import AudioError, RoomnoteError
from .hardware.led import PATTERNS
from .hardware.panel import LongPress, Press, open_panel
from .speakers.profile import VoiceProfile, enroll_from_frames, save_profile

log = logging.getLogger("roomnote.enrol")

MAX_S = 60.0  # without --seconds, recording stops by itself after this much audio
START_TIMEOUT_S = 300.0  # nobody pressed to start: give the pins back
CLOSE_TIMEOUT_S = 5.0  # a microphone still open after this is reported; its LED stays lit (P3)
TICK_S = 0.05


class EnrolmentCancelled(RoomnoteError):
    pass


@dataclass(frozen=True)
class _Lost:
    reason: str


class BoxEnrolment:
    """One enrolment at the box. `run()` waits for the press, records, enrols and saves.

    Button presses and a lost microphone arrive as events, audio blocks on their own queue
    (both from other threads); everything else happens on the caller's thread.
    """

    def __init__(self, cfg: Config, *, seconds: float | None = None, pin_factory=None,
                 microphone: Callable[..., MicSource] = MicSource, say: Callable[[str], None] = print):
        self.cfg, self.make_mic, self.say = cfg, microphone, say
        self.seconds = seconds
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.blocks: queue.SimpleQueue = queue.SimpleQueue()
        limit = seconds or MAX_S
        self.audio = np.zeros(math.ceil(limit * SAMPLE_RATE / FRAME_SAMPLES) * FRAME_SAMPLES, np.int16)
        self.n = 0  # samples of audio held
        self.assembler: FrameAssembler | None = None
        self.mic: MicSource | None = None
        self.button, self.light = open_panel(cfg.hardware, lambda: self.events.put(Press()),
                                             lambda: self.events.put(LongPress()), pin_factory)

    def run(self, vad, encoder) -> VoiceProfile:
        """The saved profile (the caller wipes it). EnrolmentCancelled after a long press;
        a RoomnoteError, with nothing kept, when the recording cannot be enrolled."""
        try:
            self._wait_for_start()
            reason = self._record()
            self.light.show("processing")
            if not self._close_mic():
                raise MicrophoneError(f"the microphone did not close within {CLOSE_TIMEOUT_S:g} s; nothing was "
                                      "kept; unplug it, plug it in again and run 'roomnote enroll' again")
            self._take_audio(keep=True)
            for frame in self.assembler.flush():
                self._store(frame)
            log.info("enrolment recording stopped (%s) after %.1f s of audio", reason, self.n / SAMPLE_RATE)
            self.say(f"recorded {self.n / SAMPLE_RATE:.0f} s; enrolling ...")
            profile = enroll_from_frames(self._frames(), vad, encoder, self.cfg)
            self._wipe()  # as soon as it has been used
            try:
                save_profile(profile, self.cfg.speakers)
            except BaseException:
                profile.wipe()
                raise
            self._finish("delivered")
            return profile
        except EnrolmentCancelled:
            self._close_mic()
            self.light.show("off")
            raise
        except RoomnoteError:
            self._close_mic()
            self._finish("refused")
            raise
        finally:
            self._close_mic()  # Ctrl-C, or anything unforeseen
            self._wipe()
            self.button.close()
            if self.mic is None:  # never darken the LED of a microphone that may be open (P3)
                self.light.close()

    # -- the steps ---------------------------------------------------------------------------

    def _wait_for_start(self) -> None:
        self.light.show("armed")
        if self.seconds:
            self.say(f"Press the button and speak; recording stops by itself after {self.seconds:g} seconds "
                     "(a long press cancels).")
        else:
            self.say("Press the button and speak for about 30 seconds; press again to stop (a long press cancels).")
        try:
            ev = self.events.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            raise RoomnoteError(f"the button was not pressed within {START_TIMEOUT_S / 60:g} minutes; nothing "
                                "was recorded; run 'roomnote enroll' again at the box") from None
        if isinstance(ev, LongPress):
            raise EnrolmentCancelled("cancelled with a long press; nothing was recorded")

    def _record(self) -> str:
        """Open the microphone and record until a press, the limit, or a cancel; why it stopped."""
        mic = self.make_mic(self.cfg.microphone, on_audio=self.blocks.put,
                            on_lost=lambda reason: self.events.put(_Lost(reason)),
                            on_closed=self.light.microphone_closed)  # a late close: the LED may follow
        self.light.microphone_opening()  # P3: lit before the stream opens
        try:
            mic.open()
        except AudioError:
            self.light.microphone_closed()  # nothing was opened
            raise
        self.mic = mic
        self.light.show("on")
        self.assembler = FrameAssembler(mic.rate, mic.channels)
        self.say("Recording (the LED is on) ...")
        while True:
            try:
                ev = self.events.get(timeout=TICK_S)
            except queue.Empty:
                ev = None
            self._take_audio(keep=True)
            if isinstance(ev, Press):
                return "button"
            if isinstance(ev, LongPress):
                raise EnrolmentCancelled("cancelled with a long press; the recording was dropped and nothing was kept")
            if isinstance(ev, _Lost):
                raise MicrophoneError(f"microphone lost while enrolling ({ev.reason}); nothing was kept; "
                                      "check the microphone and run 'roomnote enroll' again")
            if self.n >= len(self.audio):
                return "limit"

    def _close_mic(self) -> bool:
        """Close the stream (if open); True once it has closed and the LED may change (P3)."""
        mic = self.mic
        if mic is None:
            return True
        if not mic.closing:
            mic.close(CLOSE_TIMEOUT_S)
        if not mic.closed.is_set():
            return False  # still open: the LED stays lit; on_closed releases it if it ever closes
        self.mic = None
        self.light.microphone_closed()
        return True

    def _finish(self, pattern: str) -> None:
        """Show a one-shot pattern and let it play out before the LED is released."""
        self.light.show(pattern)
        time.sleep(sum(seconds for _, seconds in PATTERNS[pattern].steps))

    # -- the audio, in memory only (P1) ------------------------------------------------------

    def _take_audio(self, keep: bool) -> None:
        """Move the queued device blocks into the buffer as 16 kHz frames, zeroing each block."""
        while True:
            try:
                block = self.blocks.get_nowait()
            except queue.Empty:
                return
            if keep and self.assembler is not None:
                for frame in self.assembler.push(block):
                    self._store(frame)
            wipe(block)

    def _store(self, frame: np.ndarray) -> None:
        if self.n + FRAME_SAMPLES <= len(self.audio):  # beyond the limit: dropped (the loop stops)
            self.audio[self.n:self.n + FRAME_SAMPLES] = frame
            self.n += FRAME_SAMPLES

    def _frames(self) -> Iterator[np.ndarray]:
        for i in range(0, self.n, FRAME_SAMPLES):
            yield self.audio[i:i + FRAME_SAMPLES]

    def _wipe(self) -> None:
        self._take_audio(keep=False)
        wipe(self.audio)
        self.n = 0
        if self.assembler is not None:
            self.assembler.wipe()
