"""The shape of a therapist's turn: open question, closed question, reflection.

Motivational interviewing's core skills are told by form more than by words: an open
question starts with what/how/why/tell me and asks; a reflection is a statement about
the client ("so you're worried about ...", "it sounds like ..."), not a question. These
are the cues; the utterance classifier (classify.py) must agree before a note claims
either (composer). Works on written form (question marks) and spoken form (no
punctuation: the opening words decide).
"""
from __future__ import annotations

import re

from .matching import Match, Tokens

_LEADING_FILLERS = frozenset({"so", "and", "okay", "ok", "well", "um", "uh", "now", "but", "alright",
                              "right", "yeah", "mm", "hmm", "mhm", "oh"})
_OPEN = ("what", "what's", "whats", "how", "how's", "why", "where", "when", "which", "who")
_OPEN_PHRASES = (("tell", "me"), ("describe",), ("help", "me", "understand"), ("in", "what", "way"))
_AUX = frozenset({"do", "does", "did", "is", "are", "was", "were", "can", "could", "would", "will",
                  "have", "has", "had", "should", "shall", "may", "am", "isn't", "aren't", "don't",
                  "didn't", "won't", "wouldn't", "haven't"})
_AFTER_OPEN = _AUX | frozenset({"you", "your", "you're", "you've", "it", "that", "about", "else",
                                "much", "many", "often", "long", "kind", "sort", "happened", "makes",
                                "made", "would", "might", "brings", "is", "do", "are", "things"})
_YOU = frozenset({"you", "you're", "you've", "you'd", "you'll", "your", "yourself"})
_REFLECT_OPENERS = (("it", "sounds"), ("sounds", "like"), ("so", "you"), ("it", "seems"), ("it", "looks"),
                    ("seems", "like"), ("part", "of", "you"), ("you", "feel"), ("you're", "feeling"),
                    ("what", "i'm", "hearing"), ("i", "hear"))
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")


def _sentences(tokens: Tokens, lo: int, hi: int) -> list[tuple[int, int, bool]]:
    """Word ranges of the sentences in words lo..hi and whether each ends in '?'.
    Spoken form has no punctuation: the whole range is one 'sentence', question unknown."""
    out, start = [], lo
    for i in range(lo, hi):
        raw = tokens.text[tokens.spans[i][0]:tokens.spans[i][1]]
        if raw.endswith(("?", ".", "!")):
            out.append((start, i + 1, raw.endswith("?")))
            start = i + 1
    if start < hi:
        out.append((start, hi, False))
    return out


def _skip_fillers(words: tuple[str, ...], a: int, b: int) -> int:
    while a < b and words[a] in _LEADING_FILLERS:
        a += 1
    return a


def _opens_question(words: tuple[str, ...], a: int, b: int) -> int:
    """Words of an open-question opening at a (0 if none)."""
    for phrase in _OPEN_PHRASES:
        if words[a:a + len(phrase)] == phrase:
            return len(phrase)
    if a < b and words[a] in _OPEN and (a + 1 >= b or words[a + 1] in _AFTER_OPEN or words[a].endswith("'s")):
        return 1
    return 0


def shape(tokens: Tokens, lo: int, hi: int) -> dict[str, list[Match]]:
    """Structural cues in words lo..hi: {"open question": [...], "closed question": [...],
    "reflection": [...]}, each match the verbatim opening words."""
    words = tokens.words
    written = any(tokens.text[tokens.spans[i][1] - 1] in ".?!," for i in range(lo, hi))
    out: dict[str, list[Match]] = {"open question": [], "closed question": [], "reflection": []}
    for a, b, asks in _sentences(tokens, lo, hi):
        a = _skip_fillers(words, a, b)
        if a >= b:
            continue
        n = _opens_question(words, a, b)
        # transcribers often end a question with "." : a strong opening ("what else can you",
        # "how do you") is a question whatever the punctuation (the classifier must agree too)
        strong = n and a + n < b and words[a + n] in _AUX | _YOU | {"else", "might", "makes"}
        if n and (asks or not written or strong):
            end = min(b, a + n + 1)
            out["open question"].append(Match(a, end, tokens.slice(a, end)))
            continue
        if words[a] in _AUX and (asks or not written) and a + 1 < b and words[a + 1] in _YOU | {"i", "it", "that", "there"}:
            out["closed question"].append(Match(a, a + 2, tokens.slice(a, a + 2)))
            continue
        if asks:
            continue
        for phrase in _REFLECT_OPENERS:
            if words[a:a + len(phrase)] == phrase:
                out["reflection"].append(Match(a, a + len(phrase), tokens.slice(a, a + len(phrase))))
                break
        else:
            # a statement whose subject is "you" within its first words ("you're worried that ...")
            for j in range(a, min(b, a + 5)):
                if words[j] in _YOU and words[j] != "yourself" and not (j + 1 < b and words[j + 1] in ("know", "mean", "see")):
                    out["reflection"].append(Match(j, j + 1, tokens.slice(j, j + 1)))
                    break
    return out


def is_question(tokens: Tokens, lo: int, hi: int) -> bool:
    s = shape(tokens, lo, hi)
    return bool(s["open question"] or s["closed question"]) or "?" in tokens.slice(lo, hi)
