"""Spans of PHI over tokens, token normalisation, and merging overlapping detections."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Kinds, from the strongest claim to the weakest: where two detectors claim the same token,
# the earlier kind wins (an address containing a surname is an ADDRESS).
# The 18 Safe Harbor kinds (45 CFR 164.514(b)(2)) as roomnote names them; biometric
# identifiers (voice prints) and photographs have no spoken form: the audio never leaves.
KINDS = (
    "EMAIL", "URL", "IP", "PHONE", "FAX", "SSN", "MRN", "HEALTH_PLAN", "ACCOUNT", "LICENSE",
    "VEHICLE", "DEVICE", "ADDRESS", "ZIP", "DATE", "AGE", "NUMBER", "PLACE", "NAME",
)  # fmt: skip
SAFE_HARBOR = {  # kind -> the item of 164.514(b)(2)(i) it covers
    "NAME": "A names", "ADDRESS": "B street address", "PLACE": "B city, county",
    "ZIP": "B zip code", "DATE": "C dates", "AGE": "C ages over 89", "PHONE": "D telephone",
    "FAX": "E fax", "EMAIL": "F email", "SSN": "G social security", "MRN": "H medical record",
    "HEALTH_PLAN": "I health plan beneficiary", "ACCOUNT": "J account",
    "LICENSE": "K certificate/licence", "VEHICLE": "L vehicle, licence plate",
    "DEVICE": "M device, serial", "URL": "N web URL", "IP": "O IP address",
    "NUMBER": "R any other unique number or code",
}  # fmt: skip
PLACEHOLDERS = {kind: f"[{kind}]" for kind in KINDS}
_PRIORITY = {kind: len(KINDS) - i for i, kind in enumerate(KINDS)}

_PLACEHOLDER_RE = re.compile(r"\[[A-Z_]+\]")
# Pseudonyms are two tokens: "[Person" "A]"; both halves are placeholders.
_PSEUDONYM_HEAD_RE = re.compile(r"\[Person")
_PSEUDONYM_TAIL_RE = re.compile(r"[A-Z]{1,2}\]")
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
    if _PSEUDONYM_HEAD_RE.fullmatch(bare) or _PSEUDONYM_TAIL_RE.fullmatch(bare):
        return ""
    low = token.lower().strip(_EDGE_PUNCT)
    return low if low.isascii() else fold(low)


_FOLD = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "ı": "i", "đ": "d", "æ": "ae", "œ": "oe", "’": "'"})


def fold(word: str) -> str:
    """ASCII letters for a word with accents ("zięcik" -> "ziecik"), as the lists hold them
    and as a recogniser without accents writes them."""
    word = unicodedata.normalize("NFKD", word.translate(_FOLD))
    return "".join(c for c in word if not unicodedata.combining(c))


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
