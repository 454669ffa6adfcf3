"""vosk (Kaldi) streaming recognition with word times and confidences."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..transcript import Word
from .base import SegmentClock


class VoskTranscriber:
    def __init__(self, model_dir: Path, name: str = "vosk"):
        import cffi
        import vosk

        vosk.SetLogLevel(-1)  # Kaldi's own log would print recognised text
        self.model = vosk.Model(str(model_dir))
        self.recognizer = vosk.KaldiRecognizer(self.model, 16000)
        self.recognizer.SetWords(True)
        self.name = name
        self.clock = SegmentClock()
        self.words: list[Word] = []
        self.ffi = cffi.FFI()

    def start_segment(self, at: float) -> None:
        self.clock.start(at)
        self.words = []

    def feed(self, pcm: np.ndarray) -> None:
        # vosk ends utterances on its own inside a long segment; keep what it finalises
        # from_buffer passes the caller's array without an immutable bytes copy it could not wipe
        if self.recognizer.AcceptWaveform(self.ffi.from_buffer(pcm)):
            self.words += self._words(self.recognizer.Result())
        self.clock.advance(len(pcm))

    def partial(self) -> str:
        return json.loads(self.recognizer.PartialResult()).get("partial", "")

    def end_segment(self) -> list[Word]:
        words = self.words + self._words(self.recognizer.FinalResult())
        self.words = []
        return words

    def _words(self, result: str) -> list[Word]:
        # vosk's times count all audio fed since the recogniser was made
        return [self.clock.word(w["word"], w["start"], w["end"], w["conf"])
                for w in json.loads(result).get("result", [])]

    def close(self) -> None:
        self.recognizer = None
        self.model = None
