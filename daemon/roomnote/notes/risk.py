"""Risk talk: statements, denials, screening questions and bare mentions.

Without punctuation or speaker labels, the words just before a cue decide what it is:
  - a cue in the second person ("hurting yourself"), or with "you" as the subject of its
    clause ("have you ever felt suicidal"), is a screening question;
  - a negation in its clause flips it ("i would never hurt myself" is a denial,
    "i don't feel safe at home" a disclosure), unless "anymore" follows (a past event);
  - a first-person cue or clause is a statement (disclosure or denial);
  - anything else ("the suicide hotline") is a mention of the topic.
Denials come only from explicit, negated risk phrases: a bare "no" after a question is
never read as a denial. When in doubt the rules lean to disclosure, the safer error.
"""
from __future__ import annotations

from dataclasses import dataclass

from .lexicons import RISK
from .matching import Match

_CLAUSE_WINDOW = 6  # words looked at before a cue
_FIRST_PERSON_SUBJECTS = frozenset({"i", "i'm", "i've", "i'd", "i'll", "im"})
_SECOND_PERSON = frozenset({"you", "you're", "you've", "you'd", "you'll", "your", "yourself", "yours"})
_OTHER_SUBJECTS = frozenset({"we", "we're", "he", "he's", "he'd", "she", "she's", "she'd",
                             "they", "they're", "they'd", "it", "it's", "there", "there's"})
_SUBJECTS = _FIRST_PERSON_SUBJECTS | {"you", "you're", "you've", "you'd", "you'll"} | _OTHER_SUBJECTS
_CLAUSE_BREAKS = frozenset({"but", "and", "so", "because", "though", "although", "except",
                            "if", "when", "then", "or"})
_NEGATORS = frozenset({"no", "not", "never", "don't", "doesn't", "didn't", "haven't", "hasn't",
                       "hadn't", "won't", "wouldn't", "isn't", "wasn't", "aren't", "weren't",
                       "nobody", "nothing", "none", "nor", "without"})
_FILLER_AFTER = frozenset({"know", "mean", "see"})  # "you know", "i mean", "don't know"
# "my husband hits me": a possessive and a person is the clause's (third-person) subject, so
# words before it ("not good, my husband ...") belong to another clause and never negate it.
_POSSESSIVES = frozenset({"my", "his", "her", "their", "our"})
_PERSONS = frozenset({"husband", "wife", "partner", "boyfriend", "girlfriend", "ex", "dad", "father",
                      "mom", "mum", "mother", "stepdad", "stepfather", "stepmom", "stepmother",
                      "parents", "brother", "sister", "uncle", "aunt", "grandfather", "grandmother",
                      "son", "daughter", "boss", "roommate", "friend", "coach", "teacher"})
_PAST_MARKERS = frozenset({"anymore", "any"})  # "doesn't hit me anymore" / "any more"

STANCES = ("disclosure", "denial", "screening", "mention")


@dataclass(frozen=True)
class RiskFinding:
    category: str  # a key of lexicons.RISK
    stance: str  # one of STANCES
    match: Match


# One lexicon per category and base stance, named "category:stance", for a CueIndex.
RISK_LEXICONS = {f"{category}:{base}": (cues_of, cues.exclude)
                 for category, cues in RISK.items()
                 for base, cues_of in (("disclosure", cues.disclosure), ("denial", cues.denial))}


def _clause_before(words: tuple[str, ...], index: int) -> list[str]:
    """Words before `index`, back to the clause's subject or a clause break, at most a few."""
    out: list[str] = []
    for j in range(index - 1, max(-1, index - 1 - _CLAUSE_WINDOW), -1):
        w = words[j]
        if w in _CLAUSE_BREAKS:
            break
        nxt = words[j + 1] if j + 1 < len(words) else ""
        if nxt in _FILLER_AFTER:  # "you know", "don't know": fillers, not meaning
            continue
        out.append(w)
        if w in _SUBJECTS or (w in _POSSESSIVES and nxt in _PERSONS):
            break
    return out


def stance_of(words: tuple[str, ...], m: Match, base: str) -> str:
    cue_words = words[m.start:m.end]
    if any(w in _SECOND_PERSON for w in cue_words):
        return "screening"
    clause = _clause_before(words, m.start)
    if any(w in _SECOND_PERSON for w in clause):
        return "screening"
    subject = clause[-1] if clause and (clause[-1] in _SUBJECTS or clause[-1] in _POSSESSIVES) else None
    first_person = any(w in {"myself", "me", "my"} for w in cue_words) or subject in _FIRST_PERSON_SUBJECTS
    if not first_person and subject is not None:
        return "mention"  # about someone else ("he said he'd never hurt anyone")
    negated = any(w in _NEGATORS for w in clause)
    after = words[m.end] if m.end < len(words) else ""
    if negated and after not in _PAST_MARKERS:
        return "denial" if base == "disclosure" else "disclosure"
    if first_person:
        return base
    # No subject and no negation ("been cutting again", "the suicide hotline"): the topic
    # came up, but the words do not say whose it is.
    return "mention"


def classify_risk(words: tuple[str, ...], hits: dict[str, list[Match]]) -> list[RiskFinding]:
    """Risk findings from CueIndex hits of RISK_LEXICONS; overlapping cues of a category count once."""
    found: list[RiskFinding] = []
    for name in RISK_LEXICONS:
        category, base = name.split(":")
        for m in hits.get(name, ()):
            if any(f.category == category and f.match.start < m.end and m.start < f.match.end
                   for f in found):
                continue
            found.append(RiskFinding(category, stance_of(words, m, base), m))
    found.sort(key=lambda f: f.match.start)
    return found
