"""Risk documented exactly as it was said: who said it, what they said, never the opposite.

Two layers, both pure functions (the decision rules are in docs/risk.md):

1. Words (read_cue): a cue phrase of risk_cues.py and the words of its clause say what the
   phrase is about: asked of the listener ("have you thought of hurting yourself", any
   second-person cue, or a question), about the speaker ("i", "me", "my", or no subject at
   all), about someone else ("my friend killed herself"), or the topic only ("a show about
   suicide"); and whether it is affirmed, negated ("i'd never") or past ("i used to cut,
   not since march").
2. Speakers and exchanges (assess_risk): a therapist's words are only ever a screening,
   never a disclosure or a denial. A client's answer is read with the question it answers:
   its own risk words decide when it has some, else its yes or no ("no, never" after "any
   thoughts of suicide?" is a denial; "sometimes" a disclosure; "i don't know" is shown,
   not interpreted). When speakers are not identified the line says so and shows question
   and reply together: a reply is never called the client's denial.

When in doubt the rules lean to disclosure, the safer error: no denial is ever inferred
from a reply that is not a clear "no" to a risk question asked by the therapist, or from
explicit negated risk words.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from ..transcript import RedactedSegment
from .chunks import Chunk, cut_points
from .matching import CueIndex, Match, Tokens
from .model import RISK_NOT_ASSESSED, Evidence, Item
from .risk_cues import (ASKED_ABOUT, CATEGORIES, EXCLUDE, LABELS, PLAN_QUESTION, RISK_CUES, SI_INTENT,
                        SI_MEANS, SI_PLAN_ABSENT, SI_PLAN_PRESENT)

STANCES = ("disclosure", "denial", "past", "screening", "third_party", "mention")
CLIENT_STANCES = frozenset({"disclosure", "denial", "past"})  # what the client said of their own risk
RAISED_STANCES = frozenset({"disclosure", "past"})  # flagged for clinician review
ANSWER_WINDOW_S = 20.0  # a reply starting this soon after a question is read with it
MAX_LINES = 8  # per category and stance, except disclosures (all are kept)

# --- words -------------------------------------------------------------------------------

_CLAUSE_WINDOW = 10  # words looked at before a cue, back to its subject
_FIRST_PERSON_SUBJECTS = frozenset({"i", "i'm", "i've", "i'd", "i'll", "im", "ive", "id"})
_FIRST_PERSON = _FIRST_PERSON_SUBJECTS | {"me", "my", "myself", "mine"}
_SECOND_PERSON = frozenset({"you", "you're", "you've", "you'd", "you'll", "your", "yourself", "yours",
                            "youre", "youve", "ya"})
_OTHER_SUBJECTS = frozenset({"we", "we're", "he", "he's", "he'd", "she", "she's", "she'd", "they", "they're",
                             "they'd", "there", "there's", "people", "someone", "somebody", "everyone"})
_SUBJECTS = _FIRST_PERSON_SUBJECTS | {"you", "you're", "you've", "you'd", "you'll"} | _OTHER_SUBJECTS
_CLAUSE_BREAKS = frozenset({"but", "and", "so", "because", "cause", "though", "although", "except",
                            "if", "when", "then", "whether", "while"})  # not "or": "no x or y"
_NEGATORS = frozenset({"no", "not", "never", "don't", "doesn't", "didn't", "haven't", "hasn't", "hadn't",
                       "won't", "wouldn't", "isn't", "wasn't", "aren't", "weren't", "nor", "without", "can't",
                       "cannot", "couldn't", "dont", "didnt", "wont", "wouldnt", "havent", "hasnt", "isnt",
                       "wasnt", "cant", "ain't"})
_FILLER_AFTER = frozenset({"know", "mean", "see", "guess"})  # "you know", "i mean", "don't know"
_POSSESSIVES = frozenset({"my", "his", "her", "their", "our", "a", "the"})
_PERSONS = frozenset({"husband", "wife", "partner", "boyfriend", "girlfriend", "ex", "dad", "father", "mom",
                      "mum", "mother", "stepdad", "stepfather", "stepmom", "stepmother", "parents", "brother",
                      "sister", "uncle", "aunt", "grandfather", "grandmother", "grandpa", "grandma", "son",
                      "daughter", "boss", "roommate", "friend", "friends", "coach", "teacher", "cousin",
                      "neighbor", "neighbour", "classmate", "kid", "guy", "girl", "man", "woman", "[name]",
                      "buddy", "colleague", "coworker"})
_THIRD_NAMES = frozenset({"[name]", "he", "she", "they"})
# A cue inside talk about a film, a class or a hotline is the topic, not anyone's risk.
_TOPIC_WORDS = frozenset({"show", "shows", "movie", "movies", "film", "documentary", "series", "episode",
                          "book", "novel", "article", "news", "podcast", "video", "game", "song", "class",
                          "lecture", "training", "hotline", "prevention", "awareness", "statistics",
                          "research", "story", "stories", "character", "tv", "netflix"})
_NOT_NEGATED = frozenset({"stop", "help", "shake", "quit", "wait", "escape", "believe", "ignore", "control",
                          "sure", "only", "just"})  # the word after a negator, seen from the cue
_RAISED_NEGATION = frozenset({("not", "like"), ("isn't", "like"), ("don't", "think"), ("not", "think"),
                              ("don't", "believe"), ("dont", "think")})
_UNSURE = frozenset({("know", "if"), ("know", "whether"), ("sure", "if"), ("sure", "whether"), ("not", "sure"),
                     ("wonder", "if"), ("wondering", "if")})
_PAST_AFTER = frozenset({"anymore", "since", "any"})  # "i don't cut anymore", "haven't since march"
_PAST_PHRASES = ("used to", "when i was", "years ago", "months ago", "a year ago", "long time ago",
                 "not since", "haven't since", "back in", "back then", "as a kid", "as a teenager",
                 "as a child", "in high school", "in college", "in the past", "last year", "i once",
                 "the last time i", "growing up", "when i was younger", "a while ago", "not anymore",
                 "don't anymore", "stopped", "quit", "i was younger")
_CURRENT_PHRASES = ("again", "still", "lately", "this week", "right now", "these days", "last night",
                    "every day", "recently", "yesterday", "this morning", "at the moment", "nowadays")
_QUESTION_STARTS = frozenset({"have", "has", "do", "does", "did", "are", "is", "were", "was", "would",
                              "could", "will", "any", "ever", "anyone", "anybody", "how", "what", "when"})
_AUX = frozenset({"have", "has", "do", "does", "did", "are", "is", "were", "was", "would", "could", "will"})
_LEAD_FILLERS = frozenset({"so", "and", "okay", "ok", "um", "uh", "well", "now", "also", "just", "right",
                           "alright", "then", "but", "mm", "hmm", "i", "wonder", "if", "can", "ask", "to"})


@dataclass(frozen=True)
class CueReading:
    """What one cue phrase in one stretch of talk says, from its words alone."""

    category: str  # a key of risk_cues.LABELS
    kind: str  # the cue's lexicon kind (passive, active, attempt, victim, perpetrator, ...)
    form: str  # asked | self | third | topic
    polarity: str  # affirmed | negated | past
    match: Match


@dataclass(frozen=True)
class RiskFinding:
    """A cue with the stance its words alone suggest (for the composer's quote choices)."""

    category: str
    stance: str
    match: Match


def _key(word: str) -> str:
    return word.lower().replace("\u2019", "'").strip(".,!?;:\"()[]{}-\u2014\u2013\u2026'") or word.lower()


def _destutter(word: str) -> str:
    """"the-the", "i-i": a transcribed stutter is the word once."""
    head, sep, tail = word.partition("-")
    return head if sep and head == tail else word


def tokens_of(text: str) -> Tokens:
    """Words of spoken or written text: lowercase, apostrophes straight, edge punctuation off
    ("[NAME]" keeps its brackets so it reads as a person)."""
    t = Tokens.of(text)
    return Tokens(t.text, tuple(_word(w) for w in t.words), t.spans)


def _word(w: str) -> str:
    return w if w.startswith("[") and w.endswith("]") else _destutter(_key(w))


_LEXICONS = {name: (cues, EXCLUDE.get(name.split(":")[0], ())) for name, cues in RISK_CUES.items()}
_INDEX = CueIndex(_LEXICONS)
_SI_DETAIL = CueIndex({"plan_absent": (SI_PLAN_ABSENT, ()), "plan_present": (SI_PLAN_PRESENT, ()),
                       "means": (SI_MEANS, ()), "intent": (SI_INTENT, ()),
                       "plan_question": (PLAN_QUESTION, ())})


def _clause_before(words: Sequence[str], index: int, lo: int) -> list[str]:
    """Words before `index` (not before `lo`), back to the clause's subject or a clause break."""
    out: list[str] = []
    for j in range(index - 1, max(lo - 1, index - 1 - _CLAUSE_WINDOW), -1):
        w = words[j]
        if w in _CLAUSE_BREAKS:
            break
        nxt = words[j + 1] if j + 1 < len(words) else ""
        if nxt in _FILLER_AFTER:  # "you know", "don't know": fillers, not meaning
            continue
        out.append(w)
        if w in _SUBJECTS or w in _THIRD_NAMES or (w in _POSSESSIVES and nxt in _PERSONS):
            break
    return out


def _has_phrase(words: Sequence[str], phrases: Sequence[str]) -> bool:
    text = f" {' '.join(words)} "
    return any(f" {p} " in text for p in phrases)


def _is_question(words: Sequence[str], ends_with_q: bool) -> bool:
    if ends_with_q:
        return True
    lead = [w for w in words[:6] if w not in _LEAD_FILLERS]
    if lead and lead[0] in _QUESTION_STARTS and any(w in _SECOND_PERSON or w in {"anyone", "anybody", "any", "there"}
                                                    for w in words[:8]):
        return True
    # Spoken form has no question marks: "... have you had thoughts like that"
    return any(a in _AUX and b in {"you", "anyone", "anybody"} and (i == 0 or words[i - 1] not in _FIRST_PERSON)
               for i, (a, b) in enumerate(zip(words, words[1:])))


_CONTRAST = frozenset({"but", "now", "though", "although", "however", "anyway", "today", "currently"})


def _time_window(words: Sequence[str], m: Match, lo: int, hi: int) -> list[str]:
    """The cue and the words around it that say when: back to a contrast ("but now"), at most
    ten words, and forward to the next clause, at most eight ("i used to cut, not since march")."""
    a = m.start
    while a > max(lo, m.start - 10) and words[a - 1] not in _CONTRAST:
        a -= 1
    b = m.end
    while b < min(hi, m.end + 8) and words[b] not in _CONTRAST and words[b] != "and":
        b += 1
    return list(words[a:b])


def read_cue(words: Sequence[str], m: Match, name: str, lo: int, hi: int, question: bool) -> CueReading:
    """What the cue `m` (of lexicon `name`) means in the unit words[lo:hi]."""
    category, kind = name.split(":")
    cue_words = words[m.start:m.end]
    clause = _clause_before(words, m.start, lo)
    after = words[m.end:hi]
    if any(w in _SECOND_PERSON for w in cue_words) or any(w in _SECOND_PERSON for w in clause):
        form = "asked"
    elif question and not (set(clause) | set(cue_words)) & _FIRST_PERSON:
        form = "asked"  # "any thoughts of suicide?"
    else:
        subject = clause[-1] if clause else None
        third_subject = subject is not None and (subject in _OTHER_SUBJECTS or subject in _THIRD_NAMES
                                                 or subject in _POSSESSIVES or subject in _PERSONS)
        about_me = any(w in _FIRST_PERSON for w in cue_words) or (after[:1] and after[0] in {"me", "us"})
        if kind == "third":
            form = "third"
        elif kind == "dependent":
            form = "self"  # a child or dependent adult hurt or neglected: the client's report to act on
        elif not about_me and (_TOPIC_WORDS & set(clause) or (clause and clause[0] in {"the", "a", "an", "that", "this"})):
            form = "topic"
        elif about_me or (subject in _FIRST_PERSON_SUBJECTS):
            form = "self"
        elif third_subject:
            form = "third"
        else:
            form = "self"  # "been cutting again": no subject, the speaker's own
    # A negation inside the cue ("don't want to live") is part of what it says; one that
    # negates another verb ("i can't stop thinking about killing myself") is no denial.
    negated = any(w in _NEGATORS and not (j > 0 and clause[j - 1] in _NOT_NEGATED)
                  and not (w == "no" and j > 0 and clause[j - 1] == "one")
                  for j, w in enumerate(clause))
    start = m.start - len(clause)  # "it's not like i'm ...", "i don't think i'd ever ..."
    before = tuple(words[max(lo, start - 2):start])
    if not negated and before in _RAISED_NEGATION:
        negated = True
    if before in _UNSURE:  # "i don't know if i can keep myself safe": doubt is never a denial
        negated = kind == "safe"
    if kind == "safe":  # "i feel safe at home" states the absence of the risk
        negated = not negated
    window = _time_window(words, m, lo, hi)
    past = _has_phrase(window, _PAST_PHRASES) and not _has_phrase(window, _CURRENT_PHRASES)
    if kind == "attempt":  # an event: past unless told as recent ("last night i took a bunch of pills")
        past = not _has_phrase(window, _CURRENT_PHRASES)
    if negated and kind == "attempt":
        polarity = "negated"  # "i have never attempted suicide"
    elif negated and (after[:1] and after[0] in _PAST_AFTER or past):
        polarity = "past"  # "i haven't cut since march": it happened, it is not current
    elif negated:
        polarity = "negated"
    elif past:
        polarity = "past"
    else:
        polarity = "affirmed"
    return CueReading(category, kind, form, polarity, m)


# --- units: sentences of written text, bounded stretches of spoken text -------------------

@dataclass(frozen=True)
class Unit:
    chunk: Chunk
    question: bool
    readings: tuple[CueReading, ...]

    @property
    def text(self) -> str:
        return self.chunk.text


def _sentence_bounds(tokens: Tokens) -> list[int]:
    ends = []
    for i, (a, b) in enumerate(tokens.spans):
        raw = tokens.text[a:b].rstrip("\"')]\u201d\u2019")
        if raw.endswith((".", "?", "!")) and i + 1 < len(tokens.spans):
            ends.append(i + 1)
    return ends


def segment_units(segment: RedactedSegment) -> list[Unit]:
    """One segment cut into sentences (written form) or, without punctuation, kept whole;
    stretches longer than a quote may be are cut at discourse words, never through a cue."""
    tokens = tokens_of(segment.text)
    if not tokens.words:
        return []
    hits = _INDEX.find(tokens)
    protected = [(m.start, m.end) for ms in hits.values() for m in ms]
    bounds = [0, *_sentence_bounds(tokens), len(tokens.words)]
    pieces: list[tuple[int, int]] = []
    for a, b in zip(bounds, bounds[1:]):
        if b <= a:
            continue
        inner = [a + c for c in cut_points(b - a, [(s - a, e - a) for s, e in protected if a <= s < b],
                                            tokens.words[a:b])]
        edges = [a, *inner, b]
        pieces.extend(zip(edges, edges[1:]))
    units = []
    starts = sorted(a for a, _ in protected)
    for lo, hi in pieces:
        question, readings = False, []
        if any(lo <= a < hi for a in starts):  # only talk with a cue needs reading
            raw_last = tokens.text[tokens.spans[hi - 1][0]:tokens.spans[hi - 1][1]].rstrip("\"')]\u201d\u2019")
            question = _is_question(tokens.words[lo:hi], raw_last.endswith("?"))
            readings = _readings(tokens.words, hits, lo, hi, question)
        units.append(Unit(Chunk(segment, tokens, lo, hi), question, tuple(readings)))
    return units


def _readings(words, hits, lo, hi, question) -> list[CueReading]:
    """One reading per category and stretch of words: the longest cue wins an overlap."""
    found: list[CueReading] = []
    cands = sorted(((m, name) for name, ms in hits.items() for m in ms if lo <= m.start < hi),
                   key=lambda p: (p[0].start, -(p[0].end - p[0].start)))
    for m, name in cands:
        category = name.split(":")[0]
        if any(r.category == category and r.match.start < m.end and m.start < r.match.end for r in found):
            continue
        found.append(read_cue(words, m, name, lo, hi, question))
    return found


# --- kept for the composer's quote choices (signals.py) -----------------------------------

RISK_LEXICONS = _LEXICONS


def classify_risk(words: tuple[str, ...], hits: dict[str, list[Match]]) -> list[RiskFinding]:
    """Risk cues of one segment with the stance their words suggest, speaker unknown."""
    words = tuple(_word(w) for w in words)
    readings = _readings(words, {k: v for k, v in hits.items() if k in _LEXICONS}, 0, len(words), False)
    stance = {"asked": "screening", "third": "third_party", "topic": "mention"}
    out = [RiskFinding(r.category, stance.get(r.form) or _SELF_STANCE[r.polarity], r.match) for r in readings]
    return sorted(out, key=lambda f: f.match.start)


_SELF_STANCE = {"affirmed": "disclosure", "negated": "denial", "past": "past"}

# --- answers ------------------------------------------------------------------------------

_YES = ("yes", "yeah", "yep", "yup", "yea", "mm-hmm", "mhm", "uh-huh", "mm hmm", "uh huh", "sometimes",
        "i have", "i do", "i did", "a little", "kind of", "kinda", "sort of", "once", "a few times",
        "maybe", "lately", "crossed my mind", "every day", "a lot", "i think so", "probably", "often",
        "now and then", "occasionally", "at times", "here and there", "i guess so", "more than once",
        "some days", "it has", "it does", "they have", "he does", "she does", "he has", "she has",
        "i am", "i was", "honestly yes", "a bit", "on and off")
_NO = ("no", "nope", "nah", "never", "not really", "not at all", "i haven't", "i have not", "i don't",
       "i do not", "i wouldn't", "i would not", "i would never", "i'd never", "absolutely not",
       "no way", "of course not", "definitely not", "not me", "i'm not", "i am not", "not ever",
       "i'm safe", "i am safe", "i feel safe", "nothing like that", "i'm good", "i'm fine", "no no")
_PAST_ANSWER = ("not anymore", "not since", "used to", "in the past", "years ago", "not for a long time",
                "a long time ago", "not lately but", "when i was")
_FILLER_PHRASES = ("i don't know", "i dont know", "you know", "i mean", "i don't think so i mean")
_TURNS = re.compile(r"\b(but|well|although|though|except|actually)\b")


def answer_polarity(text: str) -> str:
    """yes | no | past | unclear: what a reply with no risk words of its own says to a risk
    question. A reply holding both a yes and a no ("no... well, sometimes") is a yes."""
    words = " ".join(tokens_of(text).words)
    for f in _FILLER_PHRASES:
        words = words.replace(f, " ")
    padded = f" {' '.join(words.split())} "
    if not padded.strip():
        return "unclear"
    if any(f" {p} " in padded for p in _PAST_ANSWER):
        return "past"
    yes = any(f" {p} " in padded for p in _YES)
    no = any(f" {p} " in padded for p in _NO)
    if yes:
        return "yes"
    return "no" if no else "unclear"


# --- speakers and exchanges -----------------------------------------------------------------

@dataclass
class RiskLine:
    """One risk line of a note: what it says, on what evidence."""

    category: str  # a key of risk_cues.LABELS
    stance: str  # one of STANCES
    text: str  # the line as the note shows it
    evidence: list[Evidence]
    detail: str = ""  # the cue kind (passive, active, attempt, victim, ...) or "answer"
    speaker_known: bool = True  # False: the line says speakers were not identified
    asked: bool = False  # a disclosure or denial given in answer to a question
    kinds: tuple[str, ...] = ()  # every cue kind heard in the line's words

    def __post_init__(self):
        self.kinds = self.kinds or (self.detail,)

    @property
    def key(self) -> str:
        return f"{self.category}:{self.stance}"


def _role(segment: RedactedSegment) -> str:
    s = segment.speaker
    return s if s in ("client", "therapist", "other") else "unknown"


def quote(text: str) -> str:
    return f'"{text}"'


def _label(category: str, detail: str = "") -> str:
    extra = {"passive": "passive", "active": "active", "attempt": "attempt", "victim": "toward the client",
             "perpetrator": "by the client", "dependent": "toward a child or dependent"}.get(detail, "")
    return f"{LABELS[category]}, {extra}" if extra else LABELS[category]


_HEADS = {"disclosure": "Risk statement", "denial": "Denial", "past": "Past risk, not described as current",
          "third_party": "Someone else's risk, not the client's", "mention": "Risk topic mentioned"}


def _line(category: str, stance: str, detail: str, unit: Unit, who: str, question: Unit | None,
          cue: str | None) -> RiskLine:
    """who: client | unknown | other."""
    head = f"{_HEADS[stance]} ({_label(category, detail if stance in RAISED_STANCES else '')})"
    if who != "client":  # nobody is known to be the client: the speaker is who the words are about
        head = head.replace("the client", "the speaker").replace("the client's", "the speaker's")
    evidence = [unit.chunk.evidence(cue)]
    if who == "client":
        said = f"client said: {quote(unit.text)}"
        text = f"{head}: asked about {ASKED_ABOUT[category]}; {said}" if question else f"{head}: {said}"
    elif who == "other":
        text = f"{head}: said by another person present: {quote(unit.text)}"
    else:
        head += ", speakers not identified"
        text = (f"{head}: asked: {quote(question.text)}; reply: {quote(unit.text)}" if question
                else f"{head}: {quote(unit.text)}")
    if question is not None:
        evidence.insert(0, question.chunk.evidence(None, "context"))
    return RiskLine(category, stance, text, evidence, detail, who == "client", question is not None)


def _answer(units: list[list[Unit]], roles: list[str], i: int, k: int,
            identified: bool) -> tuple[int, list[int]] | None:
    """Where the reply to question unit k of segment i is: (segment, its first units, at most
    MAX_REPLY_WORDS words). The next segment (the client's, when speakers are identified)
    starting within ANSWER_WINDOW_S, before the therapist speaks again; with unidentified
    speakers, the rest of the same segment if it goes on."""
    if not identified and k + 1 < len(units[i]):
        return i, _reply_units(units[i], k + 1)
    seg_end = units[i][k].chunk.segment.end
    for j in range(i + 1, len(units)):
        if not units[j]:
            continue
        if units[j][0].chunk.segment.start - seg_end > ANSWER_WINDOW_S or roles[j] == "therapist":
            return None
        if roles[j] in ("client", "unknown"):  # an unsure label is shown as "reply", unattributed
            return j, _reply_units(units[j], 0)
    return None


MAX_REPLY_WORDS = 30


def _reply_units(su: list[Unit], first: int) -> list[int]:
    out, n = [], 0
    for k in range(first, len(su)):
        n += su[k].chunk.hi - su[k].chunk.lo
        if out and n > MAX_REPLY_WORDS:
            break
        out.append(k)
    return out


def _merged(su: list[Unit], ks: list[int]) -> Unit:
    first, last = su[ks[0]], su[ks[-1]]
    chunk = Chunk(first.chunk.segment, first.chunk.tokens, first.chunk.lo, last.chunk.hi)
    return Unit(chunk, False, tuple(r for k in ks for r in su[k].readings))


def assess_risk(segments: Sequence[RedactedSegment]) -> list[RiskLine]:
    """Every risk line of a session, in time order (see the module docstring for the rules)."""
    segs = sorted(segments, key=lambda s: (s.start, s.id))
    units = [segment_units(s) for s in segs]
    roles = [_role(s) for s in segs]
    identified = any(r in ("client", "therapist") for r in roles)
    lines: list[RiskLine] = []
    answered: set[tuple[int, int, str]] = set()  # (segment, unit, category) read as an answer
    by_unit: dict[tuple[int, int, str, str], RiskLine] = {}  # one line per unit, category, stance
    for i, (su, role) in enumerate(zip(units, roles)):
        for k, unit in enumerate(su):
            for r in unit.readings:
                if (i, k, r.category) in answered:
                    continue
                if role == "therapist" or (role == "unknown" and r.form == "asked"):
                    if (i, k, r.category, "screening") in by_unit:
                        by_unit[(i, k, r.category, "screening")].kinds += (r.kind,)
                        continue
                    new = _screening(units, roles, i, k, r, identified, answered)
                elif role == "client" and r.form == "asked" and unit.question:
                    new = [_line(r.category, "mention", r.kind, unit, "client", None, r.match.cue)]
                else:
                    new = [_statement(r, unit, role, None)]
                for ln in new:
                    key = (i, k, ln.category, ln.stance == "screening")
                    old = by_unit.get(key)
                    if ln is new[0] and old is not None:  # one line per stretch of talk and category
                        if _PRIORITY[ln.stance] < _PRIORITY[old.stance]:  # the safer reading wins
                            lines[lines.index(old)] = ln
                            by_unit[key] = ln
                        elif ln.stance == old.stance:
                            old.kinds += (ln.detail,)
                        continue
                    by_unit.setdefault(key, ln)
                    lines.append(ln)
    return lines


# When one stretch of talk reads two ways for one category, the first of these is kept:
# "i don't want to kill myself but sometimes i want to die" is a disclosure.
_PRIORITY = {s: n for n, s in enumerate(("disclosure", "past", "denial", "screening", "third_party", "mention"))}


def _statement(r: CueReading, unit: Unit, role: str, question: Unit | None) -> RiskLine:
    who = {"client": "client", "other": "other"}.get(role, "unknown")
    if role == "other":
        stance = "mention"  # another person's words are neither the client's stance nor surely about someone else
    elif r.form == "third":
        stance = "third_party"
    elif r.form == "topic":
        stance = "mention"
    else:
        stance = _SELF_STANCE[r.polarity]
    return _line(r.category, stance, r.kind, unit, who, question, r.match.cue)


def _screening(units, roles, i, k, r: CueReading, identified: bool, answered: set) -> list[RiskLine]:
    """A risk question (or a therapist's risk words), and the reply read with it."""
    unit = units[i][k]
    where = _answer(units, roles, i, k, identified)
    plan_question = bool(_SI_DETAIL.find(unit.chunk.tokens)["plan_question"]) and r.category == "suicidal_ideation"
    known = roles[i] == "therapist"
    verb = "asked" if unit.question else "said"
    if known:
        text = f"Risk screening ({LABELS[r.category]}): therapist {verb}: {quote(unit.text)}"
    else:
        what = "Risk question" if unit.question else "Risk raised"
        text = f"{what} ({LABELS[r.category]}), speakers not identified: {quote(unit.text)}"
    evidence = [unit.chunk.evidence(r.match.cue)]
    lines: list[RiskLine] = []
    if where is not None:
        j, ks = where
        reply = _merged(units[j], ks)
        own = [x for x in reply.readings if x.category == r.category and x.form in ("self", "third")]
        polarity = "unclear"
        if unit.question and not reply.readings and (known and roles[j] == "client" or not identified and j != i):
            polarity = answer_polarity(reply.text)
            if r.kind == "safe" and polarity in ("yes", "no"):  # "do you feel safe at home?" "no"
                polarity = {"yes": "no", "no": "yes"}[polarity]
            if plan_question and polarity == "no":
                polarity = "unclear"  # "no" to "do you have a plan" is no plan, not no ideation
            if not known and polarity == "no":
                polarity = "unclear"  # who said "no" is not known: shown, never a denial
        if own:  # the reply's own risk words decide
            for ka in ks:
                answered.add((j, ka, r.category))
            lines.extend(_statement(x, reply, roles[j], unit) for x in own[:1])
        elif polarity != "unclear":
            stance = {"yes": "disclosure", "no": "denial", "past": "past"}[polarity]
            lines.append(_line(r.category, stance, "answer", reply, "client" if known else "unknown", unit, None))
        else:
            text += f"; {'client said' if known and roles[j] == 'client' else 'reply'}: {quote(reply.text)}"
            evidence.append(reply.chunk.evidence(None, "context"))
    return [RiskLine(r.category, "screening", text, evidence, r.kind, known), *lines]


# --- the note's risk section -------------------------------------------------------------

def si_summary(lines: list[RiskLine], segments: Sequence[RedactedSegment]) -> Item | None:
    """Suicidal ideation in the client's own terms: "passive thoughts of death; no plan, as the
    client stated". From the client's (or an unidentified speaker's) own disclosures, and what
    was said of a plan in the same exchanges; a plan never mentioned is "not discussed"."""
    disclosed = [ln for ln in lines if ln.category == "suicidal_ideation" and ln.stance in ("disclosure", "past")]
    if not disclosed:
        return None
    kinds = {k for ln in disclosed if ln.stance == "disclosure" for k in ln.kinds}
    parts = []
    if "passive" in kinds:
        parts.append("passive thoughts of death")
    if "active" in kinds or "answer" in kinds:
        parts.append("active thoughts of suicide" if "active" in kinds else "thoughts of suicide (answer to a question)")
    if any("attempt" in ln.kinds and ln.stance == "disclosure" for ln in disclosed):
        parts.append("a recent attempt described")
    elif any("attempt" in ln.kinds for ln in disclosed):
        parts.append("a past attempt described")
    elif not parts:
        parts.append("past thoughts of suicide, not described as current")
    found: dict[str, list[Evidence]] = defaultdict(list)
    ids = {e.segment_id for ln in lines if ln.category == "suicidal_ideation" for e in ln.evidence}
    for seg in segments:
        if seg.id not in ids or _role(seg) == "therapist":
            continue
        hits = _SI_DETAIL.find(tokens_of(seg.text))
        for name in ("plan_absent", "plan_present", "means", "intent"):
            if hits[name]:
                found[name].append(Evidence(seg.id, seg.start, seg.end, hits[name][0].cue))
    if found["plan_present"]:
        plan, plan_ev = "a plan or method mentioned by the client", found["plan_present"]
    elif found["plan_absent"]:
        plan, plan_ev = "no plan, as the client stated", found["plan_absent"]
    else:
        plan, plan_ev = "plan not discussed", []
    extra = []
    if found["means"]:
        extra.append("means named by the client")
    if found["intent"]:
        extra.append("intent words used by the client")
    evidence = sorted([e for ln in disclosed for e in ln.evidence if e.basis != "context"] + plan_ev
                      + found["means"] + found["intent"], key=lambda e: (e.start, e.segment_id))
    text = f"Suicidal ideation as discussed: {' and '.join(parts)}; {plan}"
    text += f"; {', '.join(extra)}." if extra else "."
    return Item(text, evidence, "risk", "suicidal_ideation:summary")


def risk_section(segments: Sequence[RedactedSegment]) -> tuple[list[Item], list[str]]:
    """The note's risk items and the categories flagged for clinician review.

    Nothing about the client's risk said: "Risk not assessed in this session." (after any
    line about someone else's risk or a mention of the topic). A denial appears only as said.
    """
    lines = assess_risk(segments)
    shown: dict[str, int] = defaultdict(int)
    items: list[Item] = []
    for ln in lines:
        if ln.stance != "disclosure" and shown[ln.key] >= MAX_LINES:
            continue
        shown[ln.key] += 1
        items.append(Item(ln.text, ln.evidence, "risk", ln.key))
    raised = [c for c in CATEGORIES if any(ln.category == c and ln.stance in RAISED_STANCES for ln in lines)]
    summary = si_summary(lines, segments)
    if summary is not None:
        items.insert(0, summary)
    if raised:
        labels = ", ".join(LABELS[c] for c in raised)
        ev = sorted((e for ln in lines if ln.category in raised and ln.stance in RAISED_STANCES
                     for e in ln.evidence if e.basis != "context"), key=lambda e: (e.start, e.segment_id))
        items.insert(0, Item(f"Risk flagged for clinician review: {labels}.", ev, "risk", "flag"))
    if not any(ln.stance in CLIENT_STANCES or ln.stance == "screening" for ln in lines):
        items.append(Item(RISK_NOT_ASSESSED, [], "risk_not_assessed"))
    return items, raised
