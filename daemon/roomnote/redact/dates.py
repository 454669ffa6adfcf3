"""DATE: every element of a date except the year (HIPAA Safe Harbor).

"march fourteenth", "the fourteenth of march", "march the fourteenth", "fourteen march",
a month that is never an ordinary word ("september"), any month after a preposition or
"last"/"next" ("in april", "since may"), and an ordinal day after a
birthday cue ("my birthday is on the third"). A year after a date stays: "[DATE] nineteen
eighty four". Weekdays and relative times ("last week", "next tuesday") are not dates of an
individual and stay.
"""
from __future__ import annotations

import re

from .lexicon import MONTHS, UNAMBIGUOUS_MONTHS
from .spans import Span
from .spoken_numbers import read_day

# "in april", "since march", "last may", "the end of june": a month after these is the month
# (a date element), while "i may", "we march", "my daughter april" are not.
MONTH_LEADS = frozenset(
    """in since until till through by of last next early late mid during before after around
    from this""".split()
)
# "on the twenty third", "for the ninth": a day on its own when nothing follows that would
# make it a count ("on the third floor", "for the second time").
DAY_LEADS = frozenset({"on", "for", "by", "until", "till", "since", "before", "after"})
DAY_FOLLOWERS = frozenset(
    """but so at i we he she they then because is was when which that right um uh okay
    in""".split()
)
RANGE_WORDS = frozenset({"or", "and", "to", "through", "till"})  # "the fifth or sixth of june"
# Holidays name a day of the year: "on valentine's day", "christmas eve"
HOLIDAYS = (
    ("valentine's", "day"), ("valentines", "day"), ("christmas", "eve"), ("christmas", "day"),
    ("christmas",), ("new", "year's", "eve"), ("new", "year's", "day"), ("new", "years", "eve"),
    ("fourth", "of", "july"), ("halloween",), ("thanksgiving",), ("easter",),
    ("mother's", "day"), ("father's", "day"), ("independence", "day"), ("memorial", "day"),
    ("labor", "day"),
)
BIRTH_CUES = frozenset({"birthday", "born", "birth", "bday", "anniversary", "dob"})
BIRTH_CUE_REACH = 4  # "my birthday is on the third": cue, then up to 3 words, then the day
# Typed dates in composed notes: 3/14, 03/14/1984, 2024-03-14
_TYPED_DATE_RE = re.compile(r"\d{1,2}/\d{1,2}(/\d{2,4})?|\d{4}-\d{1,2}-\d{1,2}")


def _day_fits_month(month: str, day: tuple[int, int, bool] | None, said_the: bool, typed: bool = False) -> bool:
    # "may" is mostly a verb: "i may one day" must not be a date, "may fifth" is.
    return day is not None and (month != "may" or day[2] or said_the or typed)


def find_date_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans: list[Span] = []
    n = len(tokens)
    taken_until = 0  # tokens before this index already belong to a date
    for i, t in enumerate(tokens):
        if i < taken_until or not free[i]:
            continue
        if t[:1].isdigit() and _TYPED_DATE_RE.fullmatch(t):
            spans.append(Span("DATE", i, i + 1))
            continue
        holiday = _holiday_at(tokens, free, i)
        if holiday:
            spans.append(Span("DATE", i, i + holiday))
            taken_until = i + holiday
            continue
        if t in MONTHS:
            # month [the] day: "march fourteenth", "march the fourteenth"
            j = i + 1
            said_the = j < n and tokens[j] == "the"
            if said_the:
                j += 1
            day = read_day(tokens, j) if j < n and free[j] else None
            if _day_fits_month(t, day, said_the, typed=j < n and tokens[j][:1].isdigit()):  # "May 27"
                end = j + day[1]
                spans.append(Span("DATE", i, end))
                taken_until = end
            elif t in UNAMBIGUOUS_MONTHS or _after_birth_cue(tokens, i) or _after_lead(tokens, i):
                spans.append(Span("DATE", i, i + 1))
            continue
        day = read_day(tokens, i)
        if day is None:
            continue
        j = i + day[1]
        # day [of] month: "the fourteenth of march", "fourteen march"
        if j + 1 < n and tokens[j] == "of" and tokens[j + 1] in MONTHS and free[j + 1]:
            end = j + 2
        elif j < n and tokens[j] in MONTHS and free[j] and tokens[j] != "may":
            end = j + 1  # "fourteen march"; but "at first may seem" is no date
        elif day[2] and _after_birth_cue(tokens, i):
            end = j  # "born on the third"
        elif day[2] and _lone_day(tokens, i, j):
            end = j  # "the appointment is on the twenty third"
        else:
            continue
        start = i
        # "the fifth or sixth of june": the first day of a range belongs to the date
        first = read_day(tokens, i - 2) if i >= 2 and tokens[i - 1] in RANGE_WORDS and free[i - 2] else None
        if first and first[1] == 1 and first[2]:
            start = i - 2
        if all(free[k] for k in range(start, end)):
            spans.append(Span("DATE", start, end))
            taken_until = end
    return spans


def _lone_day(tokens: list[str], i: int, end: int) -> bool:
    if i < 2 or tokens[i - 1] != "the" or tokens[i - 2] not in DAY_LEADS:
        return False
    return end >= len(tokens) or tokens[end] in DAY_FOLLOWERS


_HOLIDAY_FIRSTS = frozenset(words[0] for words in HOLIDAYS)


def _holiday_at(tokens: list[str], free: bytearray, i: int) -> int:
    if tokens[i] not in _HOLIDAY_FIRSTS:  # most words: no slicing, on every token of a session
        return 0
    for words in HOLIDAYS:
        k = len(words)
        if tuple(tokens[i : i + k]) == words and all(free[i : i + k]):
            return k
    return 0


def _after_lead(tokens: list[str], i: int) -> bool:
    prev = tokens[i - 1] if i > 0 else ""
    return prev in MONTH_LEADS and not (tokens[i] == "may" and prev == "this")


def _after_birth_cue(tokens: list[str], i: int) -> bool:
    return any(w in BIRTH_CUES for w in tokens[max(0, i - BIRTH_CUE_REACH) : i])
