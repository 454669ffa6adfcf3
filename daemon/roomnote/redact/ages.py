"""AGE: ages over 89 (Safe Harbor lets younger ages stay; older ones become "90 or older").

"my grandmother is ninety two", "she turned ninety", "he's a hundred and one", "ninety
three years old", "aged ninety four". A number of 90 or more is an age only with an age
frame: "years old" after it, or a verb of age before it ("turned", "aged", "is" after a
person). "ninety days sober", "ninety percent", "a hundred times" stay.
"""
from __future__ import annotations

from .lexicon import RELATION_WORDS
from .spans import Span
from .spoken_numbers import UNITS

AGE_VERBS = frozenset({"turned", "turns", "turning", "aged", "age", "turn"})
BE_WORDS = frozenset({"is", "was", "he's", "she's", "i'm", "be", "being", "she", "he"})
PERSON_WORDS = RELATION_WORDS | frozenset(
    {"he", "she", "he's", "she's", "i'm", "i", "grandmother", "grandfather", "great", "patient"}
)
UNIT_AFTER = frozenset(
    """percent per minutes minute hours hour days day weeks months dollars bucks pounds
    degrees times miles feet pills milligrams mg""".split()
)


def _read_age(tokens: list[str], i: int) -> tuple[int, int] | None:
    """(age, tokens) for "ninety", "ninety two", "a hundred (and) one", "one hundred two"."""
    n = len(tokens)
    t = tokens[i]
    if t in ("ninety",):
        if i + 1 < n and tokens[i + 1] in UNITS and UNITS[tokens[i + 1]]:
            return 90 + UNITS[tokens[i + 1]], 2
        return 90, 1
    if t.startswith("ninety-") and t[7:] in UNITS:
        return 90 + UNITS[t[7:]], 1
    if t in ("a", "one") and i + 1 < n and tokens[i + 1] == "hundred":
        j = i + 2
        if j < n and tokens[j] == "and":
            j += 1
        if j < n and tokens[j] in UNITS and UNITS[tokens[j]]:
            return 100 + UNITS[tokens[j]], j + 1 - i
        if j < n and tokens[j] in ("ten", "eleven", "twelve"):
            return 100 + {"ten": 10, "eleven": 11, "twelve": 12}[tokens[j]], j + 1 - i
        return 100, 2
    if t.isdigit() and 90 <= int(t) <= 125:
        return int(t), 1
    return None


def find_age_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans: list[Span] = []
    n = len(tokens)
    for i in range(n):
        if not free[i]:
            continue
        read = _read_age(tokens, i)
        if read is None:
            continue
        age, used = read
        end = i + used
        if not all(free[k] for k in range(i, end)):
            continue
        after = tokens[end : end + 2]
        if after[:1] and after[0] in UNIT_AFTER:
            continue
        years_old = after[:1] in (["years"], ["year"]) and after[1:2] == ["old"]
        before = tokens[max(0, i - 4) : i]
        prev = before[-1] if before else ""
        aged = prev in AGE_VERBS or (prev == "of" and "age" in before)
        is_person = prev in BE_WORDS and any(w in PERSON_WORDS for w in before)
        if years_old or aged or is_person:
            spans.append(Span("AGE", i, end))  # "[AGE] years old", "she turned [AGE]"
    return spans
