"""Find cue phrases in redacted, lowercase, unpunctuated speech.

Matching is on whole words, case-insensitive, and reports word positions so callers can
reason about what comes before a cue (negation, who is the subject) and cut quotes on
word boundaries. Matched text is returned verbatim from the transcript, never rebuilt.

All lexicons are merged into one word trie, so a segment is read once however many
lexicons there are (an hour of speech in tens of milliseconds, also on a Pi).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping

# Recognisers spell contractions either way; a cue written with one also finds the other.
_LONG_FORMS = {
    "i'm": "i am", "i've": "i have", "i'd": "i would", "i'll": "i will", "it's": "it is",
    "that's": "that is", "you're": "you are", "you've": "you have", "we'll": "we will",
    "let's": "let us", "what's": "what is", "don't": "do not", "can't": "cannot",
    "couldn't": "could not", "haven't": "have not", "wasn't": "was not", "didn't": "did not",
    "your body's": "your body is",
}

# ... and closed compounds too: whisper writes "home work" where another writes "homework".
SPLIT_FORMS = {"homework": "home work", "worksheet": "work sheet", "workbook": "work book",
                "bedtime": "bed time", "self-care": "self care", "follow-up": "follow up"}

_WORD = re.compile(r"\S+")
_EDGE_PUNCTUATION = ".,!?;:\"()"


def _key(word: str) -> str:
    return word.lower().replace("\u2019", "'").strip(_EDGE_PUNCTUATION)


def variants(cue: str) -> set[str]:
    """The cue plus its spellings with contractions written out."""
    forms = {cue}
    for short, long in (*_LONG_FORMS.items(), *SPLIT_FORMS.items()):
        forms |= {re.sub(rf"(?<!\S){re.escape(short)}(?!\S)", long, f) for f in forms}
    return forms


@dataclass(frozen=True)
class Tokens:
    """A text split into words, remembering where each word sits in the text."""

    text: str
    words: tuple[str, ...]  # lowercased, curly apostrophes straightened, edge punctuation off
    spans: tuple[tuple[int, int], ...]  # character span of each word in `text`

    @classmethod
    def of(cls, text: str) -> "Tokens":
        ms = list(_WORD.finditer(text))
        return cls(text, tuple(_key(m.group()) for m in ms),
                   tuple(m.span() for m in ms))

    def __len__(self) -> int:
        return len(self.words)

    def slice(self, lo: int, hi: int) -> str:
        """Words lo..hi-1 exactly as they appear in the text."""
        return self.text[self.spans[lo][0]:self.spans[hi - 1][1]] if hi > lo else ""


@dataclass(frozen=True)
class Match:
    """A cue found at words [start, end) of a Tokens; `cue` is the matched text verbatim."""

    start: int
    end: int
    cue: str


@dataclass
class _Node:
    children: dict[str, "_Node"] = field(default_factory=dict)
    ends: list[tuple[str, bool]] = field(default_factory=list)  # (lexicon name, is exclusion)


class CueIndex:
    """Named lexicons of cue phrases, searched together.

    `lexicons` maps a name to (cues, exclude). Within one lexicon matches do not overlap
    and the longest cue wins at a position; an `exclude` phrase vetoes any cue match it
    contains ("cutting back" is not "cutting").
    """

    def __init__(self, lexicons: Mapping[str, tuple[Iterable[str], Iterable[str]]]):
        self.names = tuple(lexicons)
        self._root = _Node()
        for name, (cues, exclude) in lexicons.items():
            for phrases, is_exclusion in ((cues, False), (exclude, True)):
                for phrase in phrases:
                    for form in variants(phrase.lower()):
                        node = self._root
                        for w in form.split():
                            node = node.children.setdefault(_key(w), _Node())
                        node.ends.append((name, is_exclusion))

    def find(self, tokens: Tokens) -> dict[str, list[Match]]:
        """Matches per lexicon name (every name present, in text order)."""
        words, n = tokens.words, len(tokens.words)
        spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
        vetoes: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i in range(n):
            node, j = self._root, i
            while j < n and (node := node.children.get(words[j])) is not None:
                j += 1
                for name, is_exclusion in node.ends:
                    (vetoes if is_exclusion else spans)[name].append((i, j))
        out: dict[str, list[Match]] = {name: [] for name in self.names}
        for name, found in spans.items():
            last_end = 0
            for a, b in sorted(found, key=lambda ab: (ab[0], -ab[1])):
                if a < last_end or any(va <= a and b <= vb for va, vb in vetoes.get(name, ())):
                    continue
                out[name].append(Match(a, b, tokens.slice(a, b)))
                last_end = b
        return out
