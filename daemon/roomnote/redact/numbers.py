"""Identifier numbers from runs of spoken digits and letters: phone, fax, zip, SSN, medical
record, health plan, account, licence, vehicle, device/serial, and any other unique code.

Counts, scores, durations and years are spoken numbers too, so a run becomes PHI only when it
is long enough to be a code, or a cue before it says what it is. The nearest cue before a run
decides its kind ("my license plate is ..." is a VEHICLE, not a LICENSE).
"""
from __future__ import annotations

import re

from .spans import Span
from .spoken_numbers import HOMOPHONES, JOINERS, ZERO_LIKE, DigitRun, digit_runs, is_year_or_clock, read_group

CUE_WINDOW = 6  # tokens before a run that may say what it is
# Billing codes the note composer writes ("Suggested CPT code: 90834") are not PHI.
NOT_PHI_CUES = frozenset({"cpt", "cpt_code"})
# cue word -> kind; two-word cues are keyed by their last word with the word before it.
CUES = {
    "zip": "ZIP", "zipcode": "ZIP", "postal": "ZIP", "postcode": "ZIP",
    "social": "SSN", "ssn": "SSN", "socials": "SSN",
    "mrn": "MRN", "chart": "MRN", "patient": "MRN", "hospital": "MRN",
    "insurance": "HEALTH_PLAN", "member": "HEALTH_PLAN", "policy": "HEALTH_PLAN",
    "medicaid": "HEALTH_PLAN", "medicare": "HEALTH_PLAN", "subscriber": "HEALTH_PLAN",
    "beneficiary": "HEALTH_PLAN", "group": "HEALTH_PLAN", "plan": "HEALTH_PLAN",
    "account": "ACCOUNT", "routing": "ACCOUNT", "bank": "ACCOUNT", "card": "ACCOUNT",
    "iban": "ACCOUNT", "credit": "ACCOUNT", "debit": "ACCOUNT",
    "license": "LICENSE", "licence": "LICENSE", "certificate": "LICENSE", "permit": "LICENSE",
    "passport": "LICENSE", "npi": "LICENSE", "dea": "LICENSE",
    "plate": "VEHICLE", "plates": "VEHICLE", "vin": "VEHICLE", "vehicle": "VEHICLE",
    "tag": "VEHICLE", "registration": "VEHICLE",
    "serial": "DEVICE", "device": "DEVICE", "imei": "DEVICE", "pacemaker": "DEVICE",
    "implant": "DEVICE", "model": "DEVICE",
    "fax": "FAX", "faxed": "FAX", "facsimile": "FAX",
    "phone": "PHONE", "call": "PHONE", "cell": "PHONE", "cellphone": "PHONE", "mobile": "PHONE",
    "text": "PHONE", "reach": "PHONE", "extension": "PHONE", "ext": "PHONE", "dial": "PHONE",
    "telephone": "PHONE", "landline": "PHONE", "pager": "PHONE", "voicemail": "PHONE",
    "contact": "PHONE",
    "id": "NUMBER", "code": "NUMBER", "pin": "NUMBER", "password": "NUMBER", "case": "NUMBER",
    "badge": "NUMBER", "employee": "NUMBER", "student": "NUMBER", "confirmation": "NUMBER",
    "claim": "NUMBER", "reference": "NUMBER", "ticket": "NUMBER", "docket": "NUMBER",
    "inmate": "NUMBER", "record": "MRN", "username": "NUMBER", "handle": "NUMBER",
}  # fmt: skip
TWO_WORD_CUES = {("medical", "record"): "MRN", ("health", "plan"): "HEALTH_PLAN",
                 ("security", "number"): "SSN", ("social", "security"): "SSN",
                 ("license", "plate"): "VEHICLE", ("licence", "plate"): "VEHICLE",
                 ("zip", "code"): "ZIP", ("postal", "code"): "ZIP", ("area", "code"): "PHONE"}
WEAK_CUE = "number"  # "my number is": a phone when phone-sized, else a code
PHONE_LENGTHS = (7, 10, 11)  # local, with area code, with a leading 1
# Spoken letters that are also words: a code only between other letters or digits.
WORD_LETTERS = frozenset({"a", "i", "o"})
_DIGIT_LIKE = ZERO_LIKE | frozenset(HOMOPHONES)  # "oh", "to", "for" inside a code
CODE_LEADS = frozenset({"is", "number", "was", "it's"})  # "... number is a 3 ..."; "a" is a letter
MIN_CODE_ITEMS = 4  # letters and digits in an uncued letter-digit code ("a b c one two three")


def cue_kind(tokens: list[str], start: int) -> str | None:
    """The kind the nearest cue within CUE_WINDOW before token start names, or None."""
    window = range(start - 1, max(-1, start - 1 - CUE_WINDOW), -1)
    if any(tokens[k] in NOT_PHI_CUES for k in window):
        return "NOT_PHI"
    # The nearest specific cue wins; "id", "code" and "number" only say it is some code:
    # "my medicaid id is ..." is a HEALTH_PLAN number.
    generic = None
    for k in window:
        t = tokens[k]
        kind = TWO_WORD_CUES.get((tokens[k - 1], t)) if k > 0 else None
        kind = kind or CUES.get(t)
        if kind and kind != "NUMBER":
            return kind
        if generic is None and (kind or t == WEAK_CUE):
            generic = kind or WEAK_CUE
    return generic


def classify_run(run: DigitRun, tokens: list[str]) -> str | None:
    """The PHI kind of one digit run, or None for an ordinary number."""
    digits = run.ndigits
    cue = cue_kind(tokens, run.start)
    if cue == "NOT_PHI":
        return None
    if cue == "ZIP":
        return "ZIP" if digits >= 3 else None
    if cue is not None:
        if digits < 4 or (digits == 4 and is_year_or_clock(run, tokens)):
            return None  # "call me at ten thirty", "my group meets at ten thirty"
        if cue == WEAK_CUE:
            return "PHONE" if digits in PHONE_LENGTHS else "NUMBER"
        return cue
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


def _is_letter(t: str) -> bool:
    return len(t) == 1 and t.isalpha()


def _is_digitish(tokens: list[str], free: bytearray, i: int) -> int:
    """Tokens the digit group at i uses (0 if none); "oh" and homophones count inside codes."""
    t = tokens[i]
    if t in ZERO_LIKE or t in HOMOPHONES:
        return 0
    g = read_group(tokens, i, free)
    return g.ntokens if g else 0


def find_letter_codes(tokens: list[str], free: bytearray) -> list[Span]:
    """Codes mixing spoken letters and digits: "seven x y z one two three", "a b one two c d"."""
    spans: list[Span] = []
    n = len(tokens)
    i = 0
    while i < n:
        if not free[i] or not (_is_letter(tokens[i]) or _is_digitish(tokens, free, i)):
            i += 1
            continue
        j, letters, digits, items = i, 0, 0, 0
        while j < n and free[j]:
            t = tokens[j]
            if _is_letter(t):
                letters += t not in WORD_LETTERS
                items += 1
                j += 1
            elif (used := _is_digitish(tokens, free, j)) or (
                t in _DIGIT_LIKE and items and j + 1 < n
                and (_is_letter(tokens[j + 1]) or _is_digitish(tokens, free, j + 1) or tokens[j + 1] in ZERO_LIKE)
            ) or (t in ZERO_LIKE and digits and (j + 1 == n or not free[j + 1])):
                digits += 1
                items += 1
                j += used or 1
            elif t in JOINERS and items:
                j += 1
            else:
                break
        start, end = i, j
        while start < end and (tokens[start] in JOINERS or (
            tokens[start] in WORD_LETTERS and not (start + 1 < end and _is_letter(tokens[start + 1])))):
            start += 1  # "it's a seven x y z ...": the article is no part of the code
        while end > start and (tokens[end - 1] in JOINERS or (tokens[end - 1] in WORD_LETTERS and end < n)):
            end -= 1  # "... one two three a week"; a letter that ends the text is the code's
        if start > i and tokens[start - 1] in WORD_LETTERS and start - 1 > 0 and tokens[start - 2] in CODE_LEADS:
            start -= 1  # "my license number is a three one ...": the "a" is the code's
        cue = cue_kind(tokens, start)
        needed = 3 if cue not in (None, "NOT_PHI") else MIN_CODE_ITEMS
        if letters and digits and items >= needed and cue != "NOT_PHI" and end > start:
            kind = cue if cue not in (None, WEAK_CUE, "PHONE", "FAX", "ZIP") else "NUMBER"
            spans.append(Span(kind, start, end))
        i = max(j, i + 1)
    return spans


# Typed codes that mix letters and digits: "GB58YOJA68124158683449", "Y26065913", "8919BL",
# "H-3187"; but not "21st", "1990s", "9am", "401k", "covid-19", "mp3".
_TYPED_CODE_RE = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")
_NOT_CODE_RE = re.compile(r"\d+(st|nd|rd|th|s|am|pm|k|kg|mg|ml|lb|lbs|mph|km|hr|hrs|min|mins|yo|x)")
# Postcodes written in two parts: "SW1A 1AA", "M4 1LL" (UK), "L6P 5R1" (Canada)
_POSTCODE_HEAD_RE = re.compile(r"[a-z]{1,2}\d[a-z\d]?|[a-z]\d[a-z]")
_POSTCODE_TAIL_RE = re.compile(r"\d[a-z]{2}|\d[a-z]\d")


def _is_typed_code(t: str) -> bool:
    if len(t) < 5 or not _TYPED_CODE_RE.fullmatch(t) or _NOT_CODE_RE.fullmatch(t):
        return False
    digits = sum(c.isdigit() for c in t)
    return digits >= 3 and digits < len(t) - t.count("-") - t.count("/")


POSTCODE_LEADS = frozenset({"in", "near", "around"})  # after "zip code is" the cue decides
POSTCODE_ENDS = frozenset({"now", "and", "but", "so", "area", "i", "we", "which", "where", "since"})


def _is_typed_postcode(tokens: list[str], i: int) -> bool:
    """ "we're in 9534 now": four typed digits that are no year, after "in" and at the end of a
    clause ("in 2500 steps" is a count, "in 1999" a year)."""
    t = tokens[i]
    if len(t) != 4 or not t.isdigit() or 1900 <= int(t) <= 2099 or i == 0 or tokens[i - 1] not in POSTCODE_LEADS:
        return False
    return i + 1 == len(tokens) or tokens[i + 1] in POSTCODE_ENDS


def find_typed_codes(tokens: list[str], free: bytearray) -> list[Span]:
    """Written-form codes (Whisper writes digits): letters and digits in one token, and
    two-part postcodes."""
    spans: list[Span] = []
    n = len(tokens)
    i = 0
    while i < n:
        t = tokens[i]
        if free[i] and t and t[-1].isalnum() and any(c.isdigit() for c in t):
            if _is_typed_postcode(tokens, i):
                spans.append(Span("ZIP", i, i + 1))
                i += 1
                continue
            if _is_typed_code(t):
                cue = cue_kind(tokens, i)
                spans.append(Span(cue if cue not in (None, "NOT_PHI", WEAK_CUE, "PHONE", "FAX") else "NUMBER", i, i + 1))
                i += 1
                continue
            if i + 1 < n and free[i + 1] and _POSTCODE_HEAD_RE.fullmatch(t) and _POSTCODE_TAIL_RE.fullmatch(tokens[i + 1]):
                spans.append(Span("ZIP", i, i + 2))
                i += 2
                continue
        i += 1
    return spans


def find_number_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans = find_typed_codes(tokens, free)
    for span in spans:
        free[span.start : span.end] = bytes(span.end - span.start)
    spans += find_letter_codes(tokens, free)
    for span in spans:
        free[span.start : span.end] = bytes(span.end - span.start)
    for run in digit_runs(tokens, free):
        kind = classify_run(run, tokens)
        if kind:
            start = run.start
            if kind not in ("PHONE", "FAX") and start > 1 and tokens[start - 1] in WORD_LETTERS and free[start - 1] \
                    and tokens[start - 2] in CODE_LEADS:
                start -= 1  # "his passport number is a five one ...", "is i nine eight ..."
            while start > 0 and free[start - 1] and tokens[start - 1] in ZERO_LIKE:
                start -= 1  # "routing number is oh two one ...": a leading zero
            spans.append(Span(kind, start, run.end))
    return spans
