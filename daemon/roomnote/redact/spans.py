"""Spans of PHI over tokens, token normalisation, and merging overlapping detections."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Kinds, from the strongest claim to the weakest: where two detectors claim the same token,
# the earlier kind wins (an address containing a surname is an ADDRESS).
KINDS = ("EMAIL", "PHONE", "ADDRESS", "DATE", "NUMBER", "NAME")
PLACEHOLDERS = {kind: f"[{kind}]" for kind in KINDS}
_PRIORITY = {kind: len(KINDS) - i for i, kind in enumerate(KINDS)}

_PLACEHOLDER_RE = re.compile(r"\[[A-Z_]+\]")
# Punctuation that may cling to a word in typed text (notes); speech has none.
_EDGE_PUNCT = ".,;:!?\"'()[]{}<>«»“”‘’…*_"
_EDGE_PUNCT_BUT_BRACKETS = _EDGE_PUNCT.replace("[", "").replace("]", "")


@dataclass(frozen=True)
class Span:
    """PHI of one kind over tokens [start, end) of text.split()."""

    kind: str
    start: int
    end: int


def normalize(token: str) -> str:
    """Lowercase and strip clinging punctuation; placeholders become "" (they are not PHI)."""
    bare = token.strip(_EDGE_PUNCT_BUT_BRACKETS)
    if _PLACEHOLDER_RE.fullmatch(bare):
        return ""
    return token.lower().strip(_EDGE_PUNCT)


def merge(spans: list[Span], n_tokens: int) -> list[Span]:
    """Resolve overlaps by kind priority and join touching spans of the same kind."""
    if not spans:
        return []
    owner: list[str | None] = [None] * n_tokens
    for span in sorted(spans, key=lambda s: _PRIORITY[s.kind]):
        for i in range(span.start, span.end):
            owner[i] = span.kind  # higher priority is painted last and wins
    merged: list[Span] = []
    i = 0
    while i < n_tokens:
        kind = owner[i]
        if kind is None:
            i += 1
            continue
        j = i + 1
        while j < n_tokens and owner[j] == kind:
            j += 1
        merged.append(Span(kind, i, j))
        i = j
    return merged
