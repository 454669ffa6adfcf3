"""URL and IP: web addresses and IP addresses as they are spoken or typed.

URL: "www dot sarahs bakery dot com", "sarah smith photography dot net slash about",
"h t t p s colon slash slash ...", typed "example.org/x". A bare big site said in passing
("i was on facebook dot com") identifies nobody and stays; with a path it is a profile.
IP: four numbers joined by "dot" or "point": "one ninety two dot one sixty eight dot one
dot twenty", typed "10.0.0.5". Runs after the email detector, so "at ... dot com" is an email.
"""
from __future__ import annotations

import re

from .emails import TLDS, spelled_tld
from .lexicon import top_level_domains
from .lexicon import GRAMMAR_WORDS
from .spans import Span
from .spoken_numbers import Group, read_group

DOTS = frozenset({"dot", "period"})
SLASHES = frozenset({"slash", "forward"})
SCHEME_WORDS = frozenset({"h", "t", "p", "s", "w", "http", "https", "colon", "slash", "slashes", "www"})
GENERIC_SITES = frozenset(
    """google facebook youtube instagram twitter tiktok amazon reddit netflix wikipedia gmail
    yahoo linkedin pinterest ebay spotify zoom craigslist walmart target""".split()
)
MAX_LABEL_WORDS = 3  # "sarahs bakery dot com": label words run together in speech
MAX_PATH_WORDS = 4
_TYPED_URL_RE = re.compile(r"(https?://|www\.)\S+|[a-z0-9-]+(\.[a-z0-9-]+)*\.([a-z]{2,})(/\S*)?")
_TYPED_IP_RE = re.compile(r"\d{1,3}(\.\d{1,3}){3}")


def _label_ok(tokens: list[str], free: bytearray, i: int) -> bool:
    t = tokens[i]
    return bool(t) and bool(free[i]) and t not in GRAMMAR_WORDS and t not in DOTS and t not in SLASHES


# "my website is ...", "my blog is at ...": whatever follows, up to its top-level domain
SITE_WORDS = frozenset({"website", "site", "blog", "url", "webpage", "homepage", "page", "link", "channel"})
INTRODUCED_REACH = 10


def _introduced(tokens: list[str], free: bytearray, i: int) -> tuple[int, int] | None:
    """(start, end) of the web address after "website is (at)" at i, or None."""
    j = i + 1
    if tokens[j : j + 1] == ["is"]:
        j += 1
    if tokens[j : j + 1] == ["at"]:
        j += 1
    for end in range(j + 2, min(len(tokens), j + INTRODUCED_REACH) + 1):
        if not all(free[j:end]):
            return None
        if tokens[end - 1] in TLDS and tokens[end - 2] in DOTS or (
                end >= j + 3 and tokens[end - 3] in DOTS and spelled_tld(tokens, end - 2) == 2):
            while end + 1 < len(tokens) and tokens[end] in SLASHES and free[end + 1]:
                end += 2
            return j, end
    return None


def find_url_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans: list[Span] = []
    n = len(tokens)
    i = 0
    while i < n:
        t = tokens[i]
        if t in SITE_WORDS and free[i] and (found := _introduced(tokens, free, i)):
            spans.append(Span("URL", *found))
            i = found[1]
            continue
        if free[i] and t and "@" not in t and _is_typed_url(t):
            spans.append(Span("URL", i, i + 1))
            i += 1
            continue
        # a spoken top-level domain: "... dot com", "... dot p l"
        used = spelled_tld(tokens, i) if free[i] and i >= 2 and tokens[i - 1] in DOTS and free[i - 1] else 0
        if not used or (used == 2 and not free[i + 1]):
            i += 1
            continue
        # walk left over label (dot label)* and an optional scheme / www
        start = i - 1
        labels = 0
        while start >= 1 and _label_ok(tokens, free, start - 1):
            words = 0
            while start >= 1 and _label_ok(tokens, free, start - 1) and words < MAX_LABEL_WORDS:
                start -= 1
                words += 1
                if tokens[start] == "www":
                    break
            labels += 1
            if start >= 2 and tokens[start - 1] in DOTS and free[start - 1] and _label_ok(tokens, free, start - 2):
                start -= 1
                continue
            break
        if labels == 0:
            i += 1
            continue
        while start >= 1 and free[start - 1] and tokens[start - 1] in SCHEME_WORDS:
            start -= 1
        end = i + used
        path = 0
        while end + 1 < n and tokens[end] in SLASHES and free[end + 1] and path < MAX_PATH_WORDS:
            end += 2
            path += 1
        body = [w for w in tokens[start : i - 1] if w not in SCHEME_WORDS and w not in DOTS]
        generic = len(body) == 1 and body[0] in GENERIC_SITES and path == 0
        if not generic:
            spans.append(Span("URL", start, end))
        i = end
    return spans


def _is_typed_url(t: str) -> bool:
    """ "example.org/x", "www.wood-hill.info", "monteiro.edu.br": a dotted name ending in a
    real top-level domain ("e.g." and "2.5" are none)."""
    m = _TYPED_URL_RE.fullmatch(t)
    if not m or t[:1].isdigit():
        return False
    return m.group(1) is not None or m.group(3) in top_level_domains()


def _ip_part(tokens: list[str], free: bytearray, i: int) -> tuple[int, int] | None:
    """(value, tokens used) of one 0-255 part of an IP address at i: "one sixty eight"."""
    n = len(tokens)
    digits = ""
    j = i
    while j < n and free[j] and tokens[j] not in DOTS:
        if tokens[j] in ("oh", "o"):
            digits += "0"
            j += 1
            continue
        g = read_group(tokens, j, free)
        if g is not None and g.value is None and tokens[j].isdigit() and len(tokens[j]) <= 3:
            g = Group(g.start, g.ntokens, len(tokens[j]), int(tokens[j]), len(tokens[j]) == 1)  # "192 dot 168"
        if g is None or g.value is None:
            break
        value, used = g.value, g.ntokens
        if g.ndigits == 3 and value % 100 == 0 and j + used < n and free[j + used]:
            rest = read_group(tokens, j + used, free)  # "two hundred two": 202
            if rest is not None and rest.value is not None and rest.value < 100:
                value, used = value + rest.value, used + rest.ntokens
        digits += str(value) if g.ndigits > 1 or value else "0"
        j += used
    if not digits or len(digits) > 3 or int(digits) > 255:
        return None
    return int(digits), j - i


def find_ip_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans: list[Span] = []
    n = len(tokens)
    i = 0
    while i < n:
        if free[i] and _TYPED_IP_RE.fullmatch(tokens[i]):
            spans.append(Span("IP", i, i + 1))
            i += 1
            continue
        parts = 0
        j = i
        while j < n:
            part = _ip_part(tokens, free, j)
            if part is None:
                break
            parts += 1
            j += part[1]
            if parts == 4 or j + 1 >= n or tokens[j] not in ("dot", "point") or not free[j]:
                break
            j += 1
        if parts == 4:
            spans.append(Span("IP", i, j))
            i = j
        else:
            i += 1
    return spans


# "my instagram is jess underscore runs eighty eight": a handle is a unique identifier (R).
HANDLE_WORDS = frozenset(
    """instagram insta snapchat snap tiktok twitter handle username gamertag discord reddit
    venmo cashapp telegram""".split()
)
HANDLE_STOPS = frozenset("i i'm my and but so because we he she they it's that's um uh if".split())
HANDLE_REACH = 6


def find_handle_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans: list[Span] = []
    n = len(tokens)
    for i, t in enumerate(tokens):
        if t not in HANDLE_WORDS or not free[i] or i + 2 >= n or tokens[i + 1] != "is":
            continue
        if i == 0 or tokens[i - 1] not in ("my", "his", "her", "their", "your"):
            continue
        start = end = i + 2
        while end < n and end - start < HANDLE_REACH and free[end] and tokens[end] and tokens[end] not in HANDLE_STOPS:
            end += 1
        if end > start:
            spans.append(Span("NUMBER", start, end))
    return spans
