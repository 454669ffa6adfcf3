"""Run the detectors over one token stream and write placeholders in place of PHI."""
from __future__ import annotations

from collections import Counter

from .addresses import find_address_spans
from .casing import find_cased_spans
from .ages import find_age_spans
from .dates import find_date_spans
from .emails import find_email_spans
from .numbers import find_number_spans
from .person_names import find_name_spans
from .places import find_place_spans
from .web import find_handle_spans, find_ip_spans, find_url_spans
from .spans import PLACEHOLDERS, Span, merge, normalize

# Order matters: each detector only sees tokens no earlier one claimed, so a date's day is
# not read as part of a digit run ("march fourteen nineteen eighty four" keeps its year) and
# a street named after a person is an address, not a name.
DETECTORS = (
    find_email_spans,
    find_url_spans,
    find_ip_spans,
    find_handle_spans,
    find_date_spans,
    find_age_spans,
    find_address_spans,
    find_number_spans,
    find_place_spans,
    find_name_spans,
)


def detect(raw_tokens: list[str]) -> list[Span]:
    """PHI spans over raw_tokens (as text.split() gives them), sorted and non-overlapping."""
    tokens = [normalize(t) for t in raw_tokens]
    free = bytearray(1 if t else 0 for t in tokens)  # placeholders are never PHI
    spans: list[Span] = []
    for find in DETECTORS:
        for span in find(tokens, free):
            spans.append(span)
            free[span.start : span.end] = bytes(span.end - span.start)
    # Capitals, where the text has them, catch the names and towns that no list holds.
    spans.extend(find_cased_spans(raw_tokens, tokens, free))
    return merge(spans, len(tokens))


def span_index(spans: list[Span], n_tokens: int) -> list[int]:
    """For each token, the index of the span that covers it, or -1."""
    owner = [-1] * n_tokens
    for k, span in enumerate(spans):
        owner[span.start : span.end] = [k] * (span.end - span.start)
    return owner


def render(raw_tokens: list[str], owner: list[int], spans: list[Span], lo: int, hi: int,
           names: dict[int, str] | None = None) -> str:
    """Tokens lo..hi with each span (or the part of it inside lo..hi) as one placeholder;
    names[span index] replaces the placeholder of a NAME span (a pseudonym)."""
    out: list[str] = []
    for k in range(lo, hi):
        s = owner[k]
        if s < 0:
            out.append(raw_tokens[k])
        elif k == lo or owner[k - 1] != s:
            out.append(names.get(s, PLACEHOLDERS[spans[s].kind]) if names else PLACEHOLDERS[spans[s].kind])
        if s >= 0 and (k + 1 == hi or owner[k + 1] != s):
            out[-1] += _sentence_mark(raw_tokens[k], raw_tokens[k + 1] if k + 1 < hi else "")
    return " ".join(out)


def _sentence_mark(token: str, after: str) -> str:
    """The punctuation that ends a clause after a PHI token in written form ("555-0142," -> ",",
    "Drive. I" -> "."); never PHI. A full stop before a lowercase word is an abbreviation's
    ("Oakhurst Dr. with"), not the sentence's."""
    mark = token[len(token.rstrip(".,;:!?")):][-1:]
    if mark == "." and after[:1].islower():
        return ""
    return mark


def pseudonyms(raw_tokens: list[str], spans: list[Span]) -> dict[int, str]:
    """span index -> "[Person A]" for every NAME span, the same letter for the same person.

    Mentions are linked by shared words: "sarah johnson", later "sarah" or "johnson", is one
    person. Letters follow first mention: A, B, ..., Z, AA, AB, ...
    """
    letter_of: dict[str, str] = {}  # name word -> letter
    out: dict[int, str] = {}
    for k, span in enumerate(spans):
        if span.kind != "NAME":
            continue
        words = [normalize(w) for w in raw_tokens[span.start : span.end]]
        letter = next((letter_of[w] for w in words if w in letter_of), None)
        if letter is None:
            letter = _letters(len(set(letter_of.values())))
        for w in words:
            letter_of.setdefault(w, letter)
        out[k] = f"[Person {letter}]"
    return out


def _letters(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA"""
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def count_kinds(spans: list[Span]) -> dict[str, int]:
    return dict(Counter(span.kind for span in spans))
