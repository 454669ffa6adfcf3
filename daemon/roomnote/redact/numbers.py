"""PHONE, NUMBER (any other long code) and zip codes, from runs of spoken digits.

Counts, scores, durations and years are spoken numbers too, so a run becomes PHI only when it
is long enough to be a code, or a cue before it says what it is.
"""
from __future__ import annotations

from .spans import Span
from .spoken_numbers import DigitRun, digit_runs, is_year_or_clock

CUE_WINDOW = 6  # tokens before a run that may say what it is
# Billing codes the note composer writes ("Suggested CPT code: 90834") are not PHI.
NOT_PHI_CUES = frozenset({"cpt", "cpt_code"})
ZIP_CUES = frozenset({"zip", "zipcode", "postal", "postcode"})
CODE_CUES = frozenset(
    """social security ssn account card policy member id insurance record license licence
    routing pin passport medicaid medicare chart claim serial plate code password""".split()
)
PHONE_CUES = frozenset(
    """phone number call cell cellphone mobile fax text reach extension ext dial contact
    telephone landline pager voicemail""".split()
)
PHONE_LENGTHS = (7, 10, 11)  # local, with area code, with a leading 1


def classify_run(run: DigitRun, tokens: list[str]) -> str | None:
    """The PHI kind of one digit run, or None for an ordinary number."""
    digits = run.ndigits
    before = set(tokens[max(0, run.start - CUE_WINDOW) : run.start])
    if before & NOT_PHI_CUES:
        return None
    if before & ZIP_CUES:
        return "ADDRESS" if digits >= 3 else None
    if before & CODE_CUES:
        return "NUMBER" if digits >= 4 else None
    if before & PHONE_CUES:
        if digits >= 5 or (digits == 4 and not is_year_or_clock(run, tokens)):
            return "PHONE"
        return None
    if _is_counting(run):
        return None  # "five four three two one": a grounding or breathing exercise
    if run.homophones and digits < min(PHONE_LENGTHS):
        return None  # "ten to twelve" style readings need a cue or a phone-sized run
    if digits in PHONE_LENGTHS:
        return "PHONE"
    if digits >= 5:
        return "NUMBER"
    # Four digits said in fewer than three groups are a year or a time ("nineteen eighty
    # four", "ten thirty"), not a code; "one two three four" is a code.
    if digits == 4 and len(run.groups) >= 3 and not is_year_or_clock(run, tokens):
        return "NUMBER"
    return None


def _is_counting(run: DigitRun) -> bool:
    """Single digits said one by one, each one more or one less than the last."""
    values = [g.value for g in run.groups]
    if any(v is None or v > 9 for v in values) or any(g.ndigits != 1 for g in run.groups):
        return False
    steps = {b - a for a, b in zip(values, values[1:])}
    return steps == {1} or steps == {-1}


def find_number_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans = []
    for run in digit_runs(tokens, free):
        kind = classify_run(run, tokens)
        if kind:
            spans.append(Span(kind, run.start, run.end))
    return spans
