"""Numbers as a recogniser writes them: "five five five twelve thirty four", "double oh seven".

Everything here works on normalised tokens (lowercase, no punctuation) and only reads them:
it finds runs of spoken digits and days of the month; deciding what is PHI is left to the
detectors.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .lexicon import FILLERS

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
}  # fmt: skip
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
ZERO_LIKE = frozenset({"oh", "o"})  # a zero only between digits: "five oh five"
# Words a recogniser writes for a digit it misheard; a digit only between two single digits,
# so "one to one" is 121 but "ten to twelve" and "went for five" are not.
HOMOPHONES = {"to": 2, "too": 2, "for": 4, "fore": 4, "won": 1, "ate": 8}
REPEATERS = {"double": 2, "triple": 3}
# Skipped inside a run: "five five five uh one two", "five five five dash one two"
JOINERS = FILLERS | frozenset({"dash", "hyphen"})
NUMBER_WORDS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | {"hundred"}

_DIGITS_RE = re.compile(r"[\d()+./-]*\d[\d()+./-]*")
_DECIMAL_RE = re.compile(r"\d+\.\d+")  # a measurement in typed text ("45.5"), not a code
_DAY_DIGITS_RE = re.compile(r"(\d{1,2})(st|nd|rd|th)?")


@dataclass(frozen=True)
class Group:
    """Tokens that say one or more digits together: "five", "thirty four", "double oh"."""

    start: int
    ntokens: int
    ndigits: int
    value: int | None  # the number said, for words; None for typed digit strings
    single: bool  # one digit said on its own (a neighbour that licenses a homophone)


@dataclass(frozen=True)
class DigitRun:
    """Consecutive digit groups, e.g. a phone number. end is exclusive."""

    start: int
    end: int
    groups: tuple[Group, ...]
    homophones: int  # digits read from "to", "for", ... (weaker evidence)

    @property
    def ndigits(self) -> int:
        return sum(g.ndigits for g in self.groups)


def _compound(token: str) -> int | None:
    """ "fifty-five" -> 55"""
    if "-" not in token:
        return None
    tens, _, unit = token.partition("-")
    if tens in TENS and unit in UNITS and UNITS[unit]:
        return TENS[tens] + UNITS[unit]
    return None


def read_group(tokens: list[str], i: int, free: bytearray) -> Group | None:
    """The digit group starting at token i, if any (tokens whose free[i] is 0 are taken)."""
    t = tokens[i]
    n = len(tokens)
    nxt = tokens[i + 1] if i + 1 < n and free[i + 1] else ""
    if t in UNITS:
        if nxt == "hundred":  # "eight hundred", "four hundred twelve"
            hundreds = UNITS[t] * 100
            rest = read_group(tokens, i + 2, free) if i + 2 < n and free[i + 2] else None
            if rest is not None and rest.value is not None and 10 <= rest.value <= 99:
                return Group(i, 2 + rest.ntokens, 3, hundreds + rest.value, False)
            return Group(i, 2, 3, hundreds, False)
        return Group(i, 1, 1, UNITS[t], True)
    if t in TEENS:
        return Group(i, 1, 2, TEENS[t], False)
    if t in TENS:
        if nxt in UNITS and UNITS[nxt]:
            return Group(i, 2, 2, TENS[t] + UNITS[nxt], False)
        return Group(i, 1, 2, TENS[t], False)
    if t in REPEATERS and (nxt in UNITS or nxt in ZERO_LIKE or (len(nxt) == 1 and nxt.isdigit())):
        return Group(i, 2, REPEATERS[t], None, True)
    value = _compound(t)
    if value is not None:
        return Group(i, 1, 2, value, False)
    if t and t[-1].isdigit() and _DIGITS_RE.fullmatch(t) and not _DECIMAL_RE.fullmatch(t):
        ndigits = sum(c.isdigit() for c in t)
        return Group(i, 1, ndigits, None, ndigits == 1)
    return None


def digit_runs(tokens: list[str], free: bytearray) -> list[DigitRun]:
    """All maximal runs of spoken or typed digits over the free tokens, left to right."""
    runs: list[DigitRun] = []
    n = len(tokens)
    i = 0
    while i < n:
        first = read_group(tokens, i, free) if free[i] else None
        if first is None:
            i += 1
            continue
        groups = [first]
        homophones = 0
        end = i + first.ntokens
        while True:
            j = end
            while j < n and free[j] and tokens[j] in JOINERS:
                j += 1
            # Zero-like words and homophones in between, then a group must follow.
            k = j
            while k < n and free[k] and (tokens[k] in ZERO_LIKE or tokens[k] in HOMOPHONES):
                k += 1
            nxt = read_group(tokens, k, free) if k < n and free[k] else None
            if nxt is None:
                # A code may end in zeros: "nine oh two one oh", "five five five seven oh oh
                # oh" (but "one oh" alone is no run).
                zeros = tokens[j:k]
                if zeros and all(w in ZERO_LIKE for w in zeros) and groups[-1].single:
                    if sum(g.ndigits for g in groups) >= 3:
                        groups.extend(Group(j + m, 1, 1, 0, True) for m in range(len(zeros)))
                        end = k
                break
            between = tokens[j:k]
            n_homophones = sum(1 for w in between if w in HOMOPHONES)
            if n_homophones and not (groups[-1].single and nxt.single):
                break
            if between and not n_homophones and not nxt.single:
                break  # "twenty oh five" yes, "oh twenty" no
            for m, w in enumerate(between):
                groups.append(Group(j + m, 1, 1, HOMOPHONES.get(w, 0), True))
            homophones += n_homophones
            groups.append(nxt)
            end = k + nxt.ntokens
        runs.append(DigitRun(i, end, tuple(groups), homophones))
        i = end
    return runs


def is_year_or_clock(run: DigitRun, tokens: list[str]) -> bool:
    """ "nineteen eighty four", "twenty twenty", "nineteen oh five", "ten thirty"."""
    groups = run.groups
    if run.ndigits != 4 or not 2 <= len(groups) <= 3 or groups[0].ntokens != 1:
        return False
    lead = groups[0].value
    if lead is None or groups[0].ndigits > 2:
        return False
    if len(groups) == 2 and groups[1].ndigits == 2 and groups[1].value is not None:
        tail = groups[1].value
    elif (
        len(groups) == 3
        and tokens[groups[1].start] in ZERO_LIKE
        and groups[2].ndigits == 1
        and groups[2].value is not None
    ):
        tail = groups[2].value
    else:
        return False
    is_year = 11 <= lead <= 20
    is_clock = 1 <= lead <= 12 and tail <= 59
    return is_year or is_clock


def read_day(tokens: list[str], i: int) -> tuple[int, int, bool] | None:
    """A day of the month at token i: (day, tokens used, said as an ordinal)."""
    t = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    m = _DAY_DIGITS_RE.fullmatch(t) if t[:1].isdigit() else None
    if m:
        day = int(m.group(1))
        return (day, 1, bool(m.group(2))) if 1 <= day <= 31 else None
    if "-" in t:  # "twenty-first"
        tens, _, unit = t.partition("-")
        if tens in ("twenty", "thirty") and (unit in ORDINALS or unit in UNITS):
            day = TENS[tens] + ORDINALS.get(unit, UNITS.get(unit, 0))
            return (day, 1, unit in ORDINALS) if day <= 31 else None
        return None
    if t in ("twenty", "thirty"):
        if nxt in ORDINALS and ORDINALS[nxt] <= 9 and TENS[t] + ORDINALS[nxt] <= 31:
            return TENS[t] + ORDINALS[nxt], 2, True
        if nxt in UNITS and UNITS[nxt] and TENS[t] + UNITS[nxt] <= 31:
            return TENS[t] + UNITS[nxt], 2, False
        return TENS[t], 1, False
    if t in ORDINALS:
        return ORDINALS[t], 1, True
    if t in UNITS and UNITS[t]:
        return UNITS[t], 1, False
    if t in TEENS:
        return TEENS[t], 1, False
    return None
