"""Word error rate, for tests and benchmarks of the recognisers."""
from __future__ import annotations


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def word_error_rate(refs: list[str], hyps: list[str]) -> float:
    """Total edits over total reference words, across all utterance pairs."""
    edits = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps, strict=True))
    words = sum(len(r.split()) for r in refs)
    return edits / max(words, 1)


# --- one normalisation for both sides, so written form (whisper) and spoken form compare ---
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
        "sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
        "nine": "ninth", "twelve": "twelfth"}
_ABBREV = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "street", "ok": "okay"}


def _cardinal(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    tens, ones = divmod(n, 10)
    return [_TENS[tens]] + ([_ONES[ones]] if ones else [])


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    last = _ORD.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return words[:-1] + [last]


def number_words(token: str) -> list[str]:
    """'81' -> eighty one, '14th' -> fourteenth, '555' -> five five five: numbers of one or two
    digits are read as numbers, longer runs digit by digit (as phone numbers are said)."""
    digits = token.rstrip("stndrh")
    if not digits.isdigit():
        return [token]
    words = _cardinal(int(digits)) if len(digits) <= 2 else [_ONES[int(d)] for d in digits]
    return _ordinal(words) if digits != token and len(digits) <= 2 else words


def normalise_for_wer(text: str) -> str:
    """Lowercase, punctuation and hyphens out, digits as words, a few abbreviations spelled out."""
    import re

    out: list[str] = []
    for tok in re.split(r"[\s\-/]+", text.lower()):
        tok = re.sub(r"[^\w']", " ", tok)
        for t in tok.split():
            t = t.strip("'")
            if not t:
                continue
            t = _ABBREV.get(t, t)
            out += number_words(t) if any(c.isdigit() for c in t) else [t]
    return " ".join(out)
