"""pocketsphinx with the US English model its wheel ships: works with nothing provisioned."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..transcript import Word
from .base import SegmentClock

FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")  # <s>, </s>, <sil>, [NOISE], ++UM++
VARIANT = re.compile(r"\(\d+\)$")  # "and(2)": an alternative pronunciation


class PocketsphinxTranscriber:
    def __init__(self, model_dir: Path, name: str = "pocketsphinx"):
        from pocketsphinx import Config, Decoder

        config = Config(hmm=str(model_dir / "en-us"), lm=str(model_dir / "en-us.lm.bin"),
                        dict=str(model_dir / "cmudict-en-us.dict"), loglevel="FATAL")
        self.decoder = Decoder(config)
        self.frame_rate = int(self.decoder.config["frate"])
        self.name = name
        self.clock = SegmentClock()
        self.open = False

    def start_segment(self, at: float) -> None:
        self.clock.start(at)
        self.segment_start = self.clock.fed
        self.decoder.start_utt()
        self.open = True

    def feed(self, pcm: np.ndarray) -> None:
        self.decoder.process_raw(pcm.view(np.uint8), False, False)  # no copy: the caller wipes pcm
        self.clock.advance(len(pcm))

    def partial(self) -> str:
        hyp = self.decoder.hyp() if self.open else None
        return hyp.hypstr if hyp else ""

    def end_segment(self) -> list[Word]:
        self.decoder.end_utt()
        self.open = False
        words = []
        # seg() frames count from the start of the utterance
        base = self.segment_start
        for s in self.decoder.seg():
            if FILLER.match(s.word):
                continue
            start = base + s.start_frame / self.frame_rate
            end = base + (s.end_frame + 1) / self.frame_rate
            words.append(self.clock.word(VARIANT.sub("", s.word), start, end, s.prob))
        return words

    def close(self) -> None:
        if self.open:
            self.decoder.end_utt()
            self.open = False
