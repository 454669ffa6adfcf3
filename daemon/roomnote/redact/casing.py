"""NAME and PLACE from capitals, for text a recogniser wrote cased (Whisper) or a person typed.

Whisper capitalises proper nouns, so a capitalised word inside a sentence that is no ordinary
English word ("I saw Bidayet at church") is a name whatever list it is missing from; so is a
capitalised known name that is also a word ("then Grace called"). Words that are capitalised
without naming anyone stay: "I", months and weekdays, languages, faiths, holidays, brands
(lexicon.NOT_PROPER), acronyms in capitals ("CBT", "AA"). After a place preposition a
capitalised town is a PLACE. Text with no lowercase or no uppercase letters (recogniser output
without casing) is left to the other detectors.
"""
from __future__ import annotations

from .lexicon import NOT_PROPER, common_words, first_names, world_first_names
from .person_names import AMBIGUOUS_NAMES, NEVER_NAMES, PARTICLES, after_pet, stem
from .spans import Span

_SENTENCE_END = (".", "!", "?", ":", ";", '"', "“", "”", "—", "-", "(", ")")
PLACE_PREPS = frozenset({"in", "from", "to", "near", "outside", "around", "at", "of"})


def is_cased(raw_tokens: list[str]) -> bool:
    text = "".join(raw_tokens[:400])
    return any(c.islower() for c in text) and any(c.isupper() for c in text)


def _capitalised(raw: str) -> bool:
    word = raw.lstrip("\"'(“‘[")
    return len(word) > 1 and word[0].isupper() and any(c.islower() for c in word[1:])


def _sentence_start(raw_tokens: list[str], i: int) -> bool:
    return i == 0 or raw_tokens[i - 1].endswith(_SENTENCE_END) or raw_tokens[i - 1] in ("-", "—", "–")


def find_cased_spans(raw_tokens: list[str], tokens: list[str], free: bytearray) -> list[Span]:
    if not is_cased(raw_tokens):
        return []
    from .places import _places

    common = common_words()
    firsts = world_first_names()
    census_firsts = first_names() | AMBIGUOUS_NAMES
    places = _places()[0]
    n = len(tokens)

    def proper(i: int) -> bool:
        if not free[i] or not tokens[i] or not _capitalised(raw_tokens[i]):
            return False
        t = stem(tokens[i])
        parts = t.split("-")
        if any(len(p) < 2 or p in NEVER_NAMES or p in NOT_PROPER or not p.replace("'", "").isalpha() for p in parts):
            return False
        # a word that is also a name: only a census first name ("Grace", "Will")
        return t not in common or t in census_firsts

    spans: list[Span] = []
    i = 0
    while i < n:
        if not proper(i):
            i += 1
            continue
        start_of_sentence = _sentence_start(raw_tokens, i)
        end = i + 1
        while end < n:
            if proper(end):
                end += 1
            elif tokens[end] in PARTICLES and end + 1 < n and proper(end + 1) and free[end]:
                end += 2  # "Isabel van der Veen" (one particle at a time)
            else:
                break
        words = [stem(t) for t in tokens[i:end]]
        if start_of_sentence and end - i == 1 and (words[0] in common or words[0] not in firsts):
            i = end  # "Well", "Zoloft helps": a lone capital at a sentence start says nothing
            continue
        if after_pet(tokens, i):
            i = end  # "our dog Oscar"
            continue
        prev = tokens[i - 1] if i > 0 else ""
        kind = "PLACE" if prev in PLACE_PREPS and words[0] in places and words[0] not in firsts else "NAME"
        spans.append(Span(kind, i, end))
        i = end
    return spans
