"""The Transcriber interface every recognition engine implements."""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ..transcript import Word


class Transcriber(Protocol):
    """Streaming recognition of 16 kHz mono int16 audio, one speech segment at a time.

    start_segment(at) -> feed(pcm) ... -> end_segment() gives the segment's words, with
    times in seconds from the start of the recording. partial() is the running hypothesis
    of the open segment (for live display; never logged). close() frees the engine.

    An engine that recognises on a worker (whisper: `deferred = True`) returns [] from
    end_segment() and "" from partial(); results() then gives the words of every segment
    ended so far, one list per segment in order, after waiting for the worker; backlog() is
    the seconds of speech not yet recognised and discard() drops the recording.
    """

    name: str

    def start_segment(self, at: float) -> None: ...

    def feed(self, pcm: np.ndarray) -> None: ...

    def partial(self) -> str: ...

    def end_segment(self) -> list[Word]: ...

    def close(self) -> None: ...


class SegmentClock:
    """Maps an engine's own time axis (seconds of audio fed to it) onto the recording's.

    Silence skipped by the VAD is never fed, so the two drift apart at every pause.
    """

    def __init__(self) -> None:
        self.fed = 0.0  # seconds fed to the engine so far
        self.offset = 0.0  # recording time minus engine time, for the open segment

    def start(self, at: float) -> None:
        self.offset = at - self.fed

    def advance(self, samples: int, rate: int = 16000) -> None:
        self.fed += samples / rate

    def word(self, text: str, start: float, end: float, conf: float) -> Word:
        return Word(text, round(start + self.offset, 3), round(end + self.offset, 3), round(conf, 3))
