"""ADDRESS: street addresses and apartment numbers as they are spoken.

A street-suffix word ("street", "drive", ...) reaches left over up to five words that can be
part of a street address (house numbers, misheard numbers like "ford well", street names),
stopping at function words ("i live at | four twelve maple street"). Ordinary phrases with
suffix words ("walk down the street", "the road to recovery", "a long drive", "by the way")
stay: a weak suffix needs a house number or a residence cue, and there must be a word before
the suffix that is not a function word.
"""
from __future__ import annotations

from .lexicon import GRAMMAR_WORDS, POSSESSIVES, VERBISH_WORDS
from .spans import Span
from .spoken_numbers import HOMOPHONES, NUMBER_WORDS, read_group

# Suffixes that are rarely anything but part of a street name.
STRONG_SUFFIXES = frozenset({"street", "st", "avenue", "ave", "boulevard", "blvd", "parkway"})
# Suffixes that are everyday words too: "a long drive", "the same way", "my place".
WEAK_SUFFIXES = frozenset(
    """road rd drive dr lane ln court ct place way terrace circle highway hwy trail square
    crescent""".split()
)
UNIT_WORDS = frozenset({"apartment", "apt", "unit", "suite", "ste", "flat", "piso", "depto", "dept", "appartamento",
                        "edif", "nr", "apto", "app", "bloc"})
# Street words of the world (USPS Publication 28 suffixes, and the common street words of the
# languages Faker and GeoNames cover): after a residence cue, with a name beside them, a street.
STREET_SUFFIXES = frozenset(
    """alley annex arcade avenue bayou beach bend bluff bottom branch bridge brook burg bypass camp
    canyon cape causeway center circle cliff club common corner course court cove creek crescent
    crest crossing crossroad curve dale dam divide drive estate estates expressway extension fall
    falls ferry field fields flat flats ford forest forge fork forks fort freeway garden gardens
    gateway glen green greens grove harbor haven heights highway hill hills hollow inlet island
    isle junction key knoll lake lakes land landing lane light lights loaf lock locks lodge loop
    mall manor meadow meadows mews mill mills mission motorway mount mountain neck orchard oval
    overpass park parkway pass passage path pike pine pines place plain plains plaza point port
    prairie radial ramp ranch rapid rapids rest ridge river road route row run shoal shore shores
    skyway spring springs spur square station stravenue stream street summit terrace throughway
    trace track trafficway trail tunnel turnpike underpass union valley viaduct view views village
    ville vista walk walks wall way ways well wells close grove mews rise gate gardens parade
    marg nagar chowk ulica trg rue cesta""".split()
)
STREET_PREFIXES = frozenset(
    """rue avenue av avenida calle carrera cra cr kr via viale piazza piazzale corso largo vicolo
    contrada strada str ulica ul aleja al plac osiedle jalan jl gang rua r travessa tv pasaje
    camino paseo plaza ronda glorieta intrarea soseaua bulevardul bd calea cesta trg namesti
    utca ut boulevard chemin impasse allee quai place sentier cuesta privada continuacion viela
    callejon diagonal transversal rambla""".split()
)
COMPOUND_STREET_ENDINGS = (
    "strasse", "straat", "weg", "vej", "gade", "gatan", "vagen", "laan", "gasse", "platz", "allee",
    "plein", "singel", "kade", "dreef", "steeg", "utca", "iela", "katu", "polku", "tie", "stykket",
    "veien", "vegen", "gata", "torget", "ring", "road", "street",
)
# A residence cue and the link after it: "i live at | ...", "her house is on | ...",
# "send it to | ...". With "moved to", "live in" (places) a number or a street word must follow.
STRETCH_CUES = {
    ("live", "at"): "strong", ("lives", "at"): "strong", ("living", "at"): "strong", ("lived", "at"): "strong",
    ("stay", "at"): "strong", ("staying", "at"): "strong", ("stays", "at"): "strong", ("located", "at"): "strong",
    ("live", "on"): "strong", ("lives", "on"): "strong", ("lived", "on"): "strong", ("living", "on"): "strong",
    ("address", "is"): "strong", ("it", "to"): "strong", ("is", "on"): "weak", ("is", "at"): "weak",
    ("moved", "to"): "weak", ("move", "to"): "weak", ("moving", "to"): "weak", ("is", "in"): "weak",
    ("moved", "into"): "weak", ("over", "on"): "weak", ("down", "on"): "weak", ("at", "number"): "strong",
}
MAX_STRETCH = 9
TIME_WORDS = frozenset("last next year years week weeks month months ago night morning spring summer winter".split())
DWELLINGS = frozenset("house home apartment place office shelter building flat condo trailer".split())
PARTICLE_WORDS = frozenset("de do da dos das del della di du des la le los las van von der den el al st".split())
MAX_REACH = 5  # words before the suffix
RESIDENCE_CUES = frozenset(
    """live lives living lived moved move moving address located stay staying stayed house
    home""".split()
)
# "live on | maple drive", "moved to | oak lane", "address is | ..."; but "live in a nice place"
RESIDENCE_LINKS = frozenset({"on", "at", "off", "to", "onto", "is", "in"})
# Adjectives that make "a busy street" a description, not a street name.
GENERIC_MODIFIERS = frozenset(
    """busy quiet side same next other dead back empty dark crowded whole entire long narrow
    wide city country dirt public private residential big small little new old wrong right
    end""".split()
)
# Words that end the reach leftwards. Misheard house numbers are kept in: "well" (twelve),
# "for" (four), "won" (one), "ate" (eight); "to"/"too" only right before a number word.
ADDRESS_STOPS = (
    (GRAMMAR_WORDS - {"well", "for", "won", "oh"})
    | VERBISH_WORDS
    | RESIDENCE_CUES
    | frozenset(
        """crossed walked walking drove driving ran parked turned visited past""".split()
    )
)


# After "my address is" whatever follows is the address, however badly it was recognised
# ("my address is anyone able to ride" for "eighty one maple drive"), up to the next clause.
INTRODUCED_REACH = 6
ADDRESS_KINDS = frozenset("new old home current mailing postal street previous real".split())
CLAUSE_STARTS = frozenset(
    """i i'm i've i'll my and but so because we he she they it's that's then um uh""".split()
)


def _is_number_word(t: str) -> bool:
    return t in NUMBER_WORDS or (t[:1].isdigit() and t[-1:].isdigit())


def _reach_left(tokens: list[str], free: bytearray, suffix_at: int) -> int:
    """Index of the first token of the street part that ends at suffix_at."""
    start = suffix_at
    while start > 0 and suffix_at - start < MAX_REACH:
        t = tokens[start - 1]
        if not t or not free[start - 1]:
            break
        if t in ("to", "too") and not _is_misheard_two(tokens, start - 1, suffix_at):
            break
        if t in ADDRESS_STOPS and t not in HOMOPHONES:
            if start < suffix_at and start >= 2 and _is_number_word(tokens[start - 2]):
                start -= 1  # "81 may pull drive": a misheard street word right after the house number
                continue
            break
        start -= 1
    return start


def _is_misheard_two(tokens: list[str], i: int, suffix_at: int) -> bool:
    """ "live at to twelve maple street" is "two twelve"; "moved to twelve oak drive" is not."""
    before = tokens[i - 1] if i > 0 else ""
    return i + 1 < suffix_at and _is_number_word(tokens[i + 1]) and before in ("at", "on", "is")


def _after_residence_cue(tokens: list[str], start: int) -> bool:
    return (
        start >= 2
        and tokens[start - 1] in RESIDENCE_LINKS
        and tokens[start - 2] in RESIDENCE_CUES
    )


def _unit_end(tokens: list[str], free: bytearray, i: int) -> int | None:
    """End of "apartment (number) four (b)" starting at the unit word i, if it has a number."""
    j = i + 1
    n = len(tokens)
    if j < n and tokens[j] == "number":
        j += 1
    group = read_group(tokens, j, free) if j < n and free[j] else None
    if group is None:
        return None
    end = j + group.ntokens
    while end < n and free[end] and (nxt := read_group(tokens, end, free)) is not None:
        end += nxt.ntokens  # "apartment three twenty eight"
    if end < n and len(tokens[end]) == 1 and tokens[end].isalpha() and tokens[end] not in "ai":
        end += 1  # "apartment four b"
    return end


def _introduced_end(tokens: list[str], free: bytearray, i: int) -> int | None:
    """End of the address after "my address is" at i, or None."""
    owner = i - 2 if i >= 2 and tokens[i - 1] in ADDRESS_KINDS else i - 1  # "my new address is"
    if owner < 0 or tokens[owner] not in POSSESSIVES or tokens[i + 1 : i + 2] != ["is"]:
        return None
    start = end = i + 2
    while end < len(tokens) and end - start < INTRODUCED_REACH:
        if not tokens[end] or not free[end] or tokens[end] in CLAUSE_STARTS:
            break
        end += 1
    return end if end > start else None


def _is_street_word(t: str, common: frozenset[str]) -> bool:
    if t in STREET_SUFFIXES or t in STRONG_SUFFIXES or t in WEAK_SUFFIXES:
        return True
    return t not in common and len(t) > 6 and t.endswith(COMPOUND_STREET_ENDINGS)


def _stretch(tokens: list[str], free: bytearray, i: int, strength: str) -> int:
    """End of the street address right after a residence cue that ends before i, or i."""
    from .lexicon import NOT_PROPER, common_words

    common = common_words()
    end = i
    while end < len(tokens) and end - i < MAX_STRETCH and free[end] and tokens[end]:
        t = tokens[end]
        if t in ("no", "number") and end + 1 < len(tokens) and _is_number_word(tokens[end + 1]) and end > i:
            end += 1  # "jalan ahmad yani no eight"
            continue
        if (t in ADDRESS_STOPS and t not in HOMOPHONES and t not in PARTICLE_WORDS) or t in NOT_PROPER \
                or t in TIME_WORDS:
            break
        end += 1
    words = tokens[i:end]
    while words and (words[-1] in PARTICLE_WORDS or words[-1] in ("number",)):
        words.pop()
    if not words:
        return i
    numbers = [w for w in words if _is_number_word(w) or w in HOMOPHONES or w[:1].isdigit()]
    named = len(numbers) < len(words)
    street = any(
        _is_street_word(w, common) and (len(words) > 1 or not (w in STREET_SUFFIXES or w in WEAK_SUFFIXES))
        for w in words)
    prefix = words[0] in STREET_PREFIXES and len(words) > 1
    unknown = any(w not in common and w.isalpha() and len(w) > 2 for w in words)
    if (numbers and named) or street or prefix or (strength == "strong" and unknown):
        return i + len(words)
    return i


def find_address_spans(tokens: list[str], free: bytearray) -> list[Span]:
    spans: list[Span] = []
    for i, t in enumerate(tokens):
        if not free[i]:
            continue
        strength = STRETCH_CUES.get((tokens[i - 2], tokens[i - 1])) if i >= 2 else None
        if strength == "weak" and i >= 3 and tokens[i - 3] in DWELLINGS:
            strength = "strong"  # "her house is on | mezilesni"
        if strength and not (spans and spans[-1].end > i):
            end = _stretch(tokens, free, i, strength)
            if end > i:
                spans.append(Span("ADDRESS", i, end))
                continue
        if t == "address":
            end = _introduced_end(tokens, free, i)
            if end is not None:
                spans.append(Span("ADDRESS", i + 2, end))
            continue
        if t in UNIT_WORDS:
            end = _unit_end(tokens, free, i)
            if end is not None:
                spans.append(Span("ADDRESS", i, end))
            continue
        strong = t in STRONG_SUFFIXES
        if not strong and t not in WEAK_SUFFIXES:
            continue
        start = _reach_left(tokens, free, i)
        if start == i:
            continue  # "the street", "the road to recovery"
        if t == "place" and tokens[i - 1].endswith("'s"):
            continue  # "at scott's place"
        street = tokens[start:i]
        has_number = any(_is_number_word(w) or w in HOMOPHONES for w in street)
        if t == "dr" and (not has_number or _is_number_word(street[-1])):
            continue  # written "Dr." is a doctor unless it ends "3214 Oakhurst Dr." (whisper's form)
        cue = _after_residence_cue(tokens, start)
        named = strong and street[-1] not in GENERIC_MODIFIERS
        if has_number or cue or named:
            spans.append(Span("ADDRESS", start, i + 1))
    return spans
