"""Cut segments into sentence-sized chunks, the unit the composer classifies and quotes.

A VAD segment can run for a minute without punctuation. Quotes must stay short (at most
MAX_CHUNK_WORDS words), so long segments are cut by length, preferably just before a
discourse word ("so", "but", "and", ...) and never through a cue phrase, so every cue
lies whole inside one chunk.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..transcript import RedactedSegment
from .matching import Tokens
from .model import Evidence

MAX_CHUNK_WORDS = 25
MIN_CHUNK_WORDS = 8  # shorter pieces lose their sense when quoted alone
MIN_SENTENCE_WORDS = 3  # a written sentence this long is a chunk of its own
_PREFERRED_CUTS = frozenset({"so", "but", "and", "because", "then", "okay", "anyway", "um", "uh",
                             "well", "actually", "also"})


@dataclass(frozen=True)
class Chunk:
    segment: RedactedSegment
    tokens: Tokens  # the whole segment's words
    lo: int  # first word of the chunk
    hi: int  # one past its last word

    @property
    def text(self) -> str:
        """The chunk's words, verbatim from the redacted segment."""
        return self.tokens.slice(self.lo, self.hi)

    @property
    def start(self) -> float:
        return self._time_at(self.lo)

    @property
    def end(self) -> float:
        return self._time_at(self.hi)

    def _time_at(self, word: int) -> float:
        # No word times survive redaction: spread the segment's time evenly over its words.
        seg, n = self.segment, len(self.tokens)
        t = seg.start + (seg.end - seg.start) * (word / n if n else 0.0)
        return min(max(round(t, 2), seg.start), seg.end)

    def evidence(self, cue: str | None = None, basis: str = "cue", score: float | None = None) -> Evidence:
        return Evidence(self.segment.id, self.start, self.end, cue, basis,
                        None if score is None else round(float(score), 3))


def cut_points(n_words: int, protected: list[tuple[int, int]], words: tuple[str, ...]) -> list[int]:
    """Word indices where a segment of n_words is cut; `protected` spans are never cut."""
    cuts, start = [], 0
    while n_words - start > MAX_CHUNK_WORDS:
        candidates = [j for j in range(start + MIN_CHUNK_WORDS, start + MAX_CHUNK_WORDS + 1)
                      if not any(a < j < b for a, b in protected)]
        preferred = [j for j in candidates if words[j] in _PREFERRED_CUTS]
        # Prefer the latest discourse word, else a cut near the limit, else force one.
        cut = (preferred or candidates or [start + MAX_CHUNK_WORDS])[-1]
        cuts.append(cut)
        start = cut
    return cuts


def sentence_ends(tokens: Tokens, protected: list[tuple[int, int]]) -> list[int]:
    """Word indices just after a sentence's end (written form: '.', '?', '!'), where the
    sentence before and the text after each hold at least MIN_SENTENCE_WORDS words."""
    out, last = [], 0
    n = len(tokens)
    for i in range(n - 1):
        raw = tokens.text[tokens.spans[i][0]:tokens.spans[i][1]]
        if raw.endswith((".", "?", "!")) and not raw.endswith("...") and i + 1 - last >= MIN_SENTENCE_WORDS \
                and n - (i + 1) >= MIN_SENTENCE_WORDS and not any(a < i + 1 < b for a, b in protected):
            out.append(i + 1)
            last = i + 1
    return out


def chunk_segment(segment: RedactedSegment, tokens: Tokens,
                  protected: list[tuple[int, int]]) -> list[Chunk]:
    """Sentences (written form) cut further by length; spoken form by length alone."""
    sentence_bounds = [0, *sentence_ends(tokens, protected), len(tokens)]
    chunks = []
    for a, b in zip(sentence_bounds, sentence_bounds[1:]):
        words = tokens.words[a:b]
        inner = [(x - a, y - a) for x, y in protected if a <= x and y <= b]
        bounds = [a, *(a + c for c in cut_points(b - a, inner, words)), b]
        chunks += [Chunk(segment, tokens, lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]
    return chunks
