"""EMAIL: spoken ("john dot smith at gmail dot com") and typed (john.smith@gmail.com)."""
from __future__ import annotations

from .lexicon import GRAMMAR_WORDS, POSSESSIVES, VERBISH_WORDS, top_level_domains
from .spans import Span

AT_WORDS = frozenset({"at"})
AT_FILLERS = frozenset({"sign", "symbol"})  # "at sign"
CONNECTORS = frozenset({"dot", "period", "underscore", "dash", "hyphen"})
# Spoken top-level domains: the everyday ones and every two-letter country code ("dot p l" is
# read as letters, see spelled_tld). Typed addresses accept every top-level domain there is.
TLDS = frozenset(
    """com org net edu gov mil int io info biz name pro mobi shop online site store app dev tech blog
    xyz club top website space page email cloud""".split()
) | frozenset(t for t in top_level_domains() if len(t) == 2)


def spelled_tld(tokens: list[str], i: int) -> int:
    """Tokens a top-level domain at i uses: "com" 1, "p l" (spelled) 2, else 0."""
    t = tokens[i]
    if t in TLDS:
        return 1
    if len(t) == 1 and i + 1 < len(tokens) and len(tokens[i + 1]) == 1 and t + tokens[i + 1] in TLDS:
        return 2
    return 0
PROVIDERS = frozenset(
    "gmail googlemail yahoo hotmail outlook icloud aol protonmail proton msn comcast "
    "verizon att live".split()
)
MAX_DOMAIN_LABELS = 4
MAX_LABEL_WORDS = 3
# After "my email is" the address follows even when "at" was misheard ("john smith said male
# dot com"): up to the last top-level domain within reach, else up to the next clause.
INTRODUCED_REACH = 10
CLAUSE_STARTS = frozenset("i i'm my and but so because we he she they it's that's".split())
MAX_SPELLED = 3  # words before the local part when no "dot" joins them: "j smith eighty four"
STOP_BEFORE_LOCAL = frozenset({"email", "mail", "address", "e", "send", "write", "at", "dot"}) | frozenset(
    # words that come before an "at" that is no email's: "look at tom riley photos dot net"
    """look looked looking laugh laughed laughing stare stared staring yell yelled yelling
    point pointed mad angry upset good bad great better worse arrive arrived work worked
    working stay stayed staying home school here there back job office""".split()
) | VERBISH_WORDS


def _domain_end(tokens: list[str], free: bytearray, j: int) -> int | None:
    """End of "gmail dot com" starting at j, or None if it does not look like a domain."""
    n = len(tokens)
    if j >= n or not tokens[j] or not free[j] or tokens[j] in GRAMMAR_WORDS:
        return None
    first = tokens[j]
    end = j + 1
    # a domain label said as words: "acme health dot org"
    words = 1
    while words < MAX_LABEL_WORDS and end < n and _local_word(tokens, free, end) and tokens[end] != "dot":
        words += tokens[end] not in CONNECTORS  # "lambert dash parry dot net"
        end += 1
    if end < n and tokens[end] != "dot":
        end = j + 1
    labels = 1
    saw_tld = False
    while end + 1 < n and tokens[end] == "dot" and tokens[end + 1] and labels < MAX_DOMAIN_LABELS:
        labels += 1
        used = spelled_tld(tokens, end + 1)
        saw_tld = used > 0
        end += 1 + max(used, 1)
    if saw_tld or first in PROVIDERS:
        return end
    return None


def _local_start(tokens: list[str], free: bytearray, at: int) -> int | None:
    """First token of the part before "at", or None if there is none."""
    start = at - 1
    if start < 0 or not _local_word(tokens, free, start):
        return None
    while start >= 2 and tokens[start - 1] in CONNECTORS and _local_word(tokens, free, start - 2):
        start -= 2
    # Without spoken dots the parts run together: "j smith eighty four at yahoo dot com".
    extra = 0
    while start >= 1 and extra < MAX_SPELLED and _local_word(tokens, free, start - 1):
        start -= 1
        extra += 1
    return start


def _local_word(tokens: list[str], free: bytearray, i: int) -> bool:
    t = tokens[i]
    return bool(t) and bool(free[i]) and t not in GRAMMAR_WORDS and t not in STOP_BEFORE_LOCAL


def _introduced_end(tokens: list[str], free: bytearray, i: int) -> tuple[int, int] | None:
    """(start, end) of the address after "my email (address) is" at i, or None."""
    if i == 0 or tokens[i - 1] not in POSSESSIVES:
        return None
    j = i + 1
    if j < len(tokens) and tokens[j] == "address":
        j += 1
    if tokens[j : j + 1] != ["is"]:
        return None
    start = end = j + 1
    last_tld = None
    while end < len(tokens) and end - start < INTRODUCED_REACH:
        t = tokens[end]
        if not t or not free[end] or (t in CLAUSE_STARTS and end > start):
            break
        end += 1
        if tokens[end - 2] == "dot" and (used := spelled_tld(tokens, end - 1)):
            last_tld = end + used - 1
    if last_tld is not None:
        return start, last_tld
    return None


def find_email_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans: list[Span] = []
    for i, t in enumerate(tokens):
        if t in ("email", "e-mail") and free[i]:
            found = _introduced_end(tokens, free, i)
            if found is not None:
                spans.append(Span("EMAIL", *found))
                continue
        if "@" in t and "." in t.partition("@")[2]:
            spans.append(Span("EMAIL", i, i + 1))
            continue
        if t not in AT_WORDS or not free[i]:
            continue
        j = i + 1
        while j < len(tokens) and tokens[j] in AT_FILLERS:
            j += 1
        end = _domain_end(tokens, free, j)
        if end is None:
            continue
        start = _local_start(tokens, free, i)
        if start is not None:
            spans.append(Span("EMAIL", start, end))
    return spans
