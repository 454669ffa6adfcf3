"""Compose a clinical note from a redacted transcript: extractive, every line grounded.

Nothing is paraphrased. An item is either the transcript's own words in quotes, or a
fixed label (lexicons.py) whose cue phrase is in the item's evidence, or a session fact.

Who said what: with speaker labels, client words are quoted only from client segments
and interventions only come from therapist segments; a segment the attributor was unsure
of ("unknown") is then neither quoted nor used as an intervention. With "unknown" speakers
the cues decide (a chunk that talks about "i" more than "you" and holds no intervention cue
is treated as the client's), and no item says who spoke. Voices told apart without knowing
who the therapist is ("speaker 1", "speaker 2") count as unknown: nobody is the client yet.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Callable

from ..transcript import RedactedTranscript
from .chunks import Chunk
from .facts import cpt_code, fact_items
from .formats import sections_for
from .model import EMPTY_SECTION, NO_SPEECH, Evidence, Item, Note, Section, SessionFacts, note_id_for
from .risk import risk_section
from .semantic import annotate
from .signals import ChunkSignals, read_segment

# How many quotes of each kind a note carries at most; the best-cued ones are kept.
MAX_QUOTES = {"plan": 6, "goals": 5, "responses": 5, "reports": 8}
MIN_REPORT_WORDS = 5  # "my sister i guess" says too little on its own to quote as a report

_QUOTE_KINDS = {"plan": "plan", "goals": "goal", "responses": "response", "reports": "quote"}
_LABELLED_SPEAKERS = frozenset({"client", "therapist"})


def read_transcript(rt: RedactedTranscript) -> list[ChunkSignals]:
    """Every chunk of the session with the cues it holds, in time order."""
    return [sig for seg in sorted(rt.segments, key=lambda s: (s.start, s.id))
            for sig in read_segment(seg)]


def compose_note(rt: RedactedTranscript, fmt: str, facts: SessionFacts, *,
                 created_at: datetime | None = None, encoder=None) -> Note:
    """The note for one session in one format. Pure: same input, same note.

    created_at defaults to the end of the session, which keeps composing deterministic;
    a revision passes its own time. With a sentence encoder (encoder.SentenceEncoder)
    interventions and quotes are also found by meaning (semantic.py); without one, the
    cue lexicons alone decide.
    """
    fmt = fmt.strip().lower() if isinstance(fmt, str) else fmt
    specs = sections_for(fmt)
    identified = any(s.speaker in _LABELLED_SPEAKERS for s in rt.segments)
    signals = read_transcript(rt)
    if encoder is not None and signals:
        annotate(signals, encoder)
    no_speech = not signals

    if no_speech:
        content = defaultdict(list)
        sections = [Section(s.key, s.title, [Item(NO_SPEECH, [], "no_speech")]) for s in specs]
        flags: list[str] = []
    else:
        content, flags = _gather(signals, facts, identified)
        sections = [Section(s.key, s.title,
                            [it for kind in s.contents for it in content[kind]]
                            or [Item(EMPTY_SECTION, [], "empty")])
                    for s in specs]

    return Note(note_id=note_id_for(facts.session_id, fmt), version=1, format=fmt,
                created_at=created_at or facts.ended_at, facts=facts, sections=sections,
                redaction_counts=dict(rt.report.counts), no_speech=no_speech,
                cpt_code=cpt_code(facts.duration_s), speakers_identified=identified,
                risk_flags=flags, encoder=getattr(encoder, "name", None),
                topic_counts=dict(rt.report.topics),
                removed_passages=rt.report.removed)


def _gather(signals: list[ChunkSignals], facts: SessionFacts,
            identified: bool) -> tuple[dict[str, list[Item]], list[str]]:
    """Everything the transcript supports, by content kind (see formats.CONTENT_KINDS)."""
    risk_items, flags = _risk(signals)
    content: dict[str, list[Item]] = {
        "facts": fact_items(facts, identified),
        "themes": _labelled(signals, lambda s: s.themes, _may_discuss, "Theme", "theme", by_count=True),
        "interventions": _labelled(signals, lambda s: s.interventions, lambda s: _may_intervene(s, identified),
                                   "Intervention", "intervention",
                                   semantic=lambda s: s.semantic_interventions),
        "risk": risk_items,
    }
    content.update(_quotes(signals, identified))
    return content, flags


# --- who may have said it -------------------------------------------------------------

def _may_be_client(s: ChunkSignals, identified: bool = False) -> bool:
    return s.role == "client" or (s.role == "unknown" and not identified and s.sounds_like_client)


def _may_intervene(s: ChunkSignals, identified: bool = False) -> bool:
    return s.role == "therapist" or (s.role == "unknown" and not identified)


def _may_discuss(s: ChunkSignals) -> bool:
    return s.role in ("client", "therapist", "unknown")


# --- quotes -----------------------------------------------------------------------------

def _quote_kind(s: ChunkSignals, identified: bool = False) -> str | None:
    """The one quote kind a chunk is used as, so no words appear twice in a note.

    Plans outrank goals, goals responses, responses plain reports ("i'll try that next
    week" is a plan before it is a response). Risk talk is quoted under risk, and a
    client's risk statement also as a report (it is their account): never as a goal
    ("i want to ..."), a plan or a response.
    """
    if not _may_discuss(s):
        return None
    if s.risks:
        long_enough = s.chunk.hi - s.chunk.lo >= MIN_REPORT_WORDS
        asked = any(f.stance == "screening" for f in s.risks)
        return "reports" if _may_be_client(s, identified) and long_enough and not asked else None
    if s.plans or "homework assignment" in s.interventions:
        return "plan"
    if not _may_be_client(s, identified):
        return None
    if s.goals:
        return "goals"
    if s.responses:
        return "responses"
    if (s.reports or s.themes) and s.chunk.hi - s.chunk.lo >= MIN_REPORT_WORDS:
        return "reports"
    if s.semantic_kind and not s.interventions and not s.semantic_interventions:
        return s.semantic_kind[0]  # placed by meaning (semantic.py): no cue matched
    return None


def _score(s: ChunkSignals, kind: str) -> int:
    if kind == "plan":
        return len(s.plans) + 2 * ("homework assignment" in s.interventions)
    if kind == "reports":
        return len({m.cue for m in s.reports}) + len(s.themes)
    return len(getattr(s, kind))


def _first_cue(s: ChunkSignals, kind: str) -> str | None:
    matches = {"plan": s.plans, "goals": s.goals, "responses": s.responses,
               "reports": s.reports or [m for ms in s.themes.values() for m in ms]}[kind]
    return min(matches, key=lambda m: m.start).cue if matches else None


def _quote_evidence(s: ChunkSignals, kind: str) -> Evidence:
    cue = _first_cue(s, kind)
    if cue is None and s.semantic_kind and s.semantic_kind[0] == kind:
        return s.chunk.evidence(None, "encoder", s.semantic_kind[1])
    return s.chunk.evidence(cue)


_REFERRAL_CUES = frozenset({"referral", "refer you"})
_APPOINTMENT_CUES = frozenset({"next week", "next session", "next time", "see you on", "see you next",
                               "see you in", "meet again", "let's meet", "before we meet"})


def _plan_category(s: ChunkSignals) -> str:
    """What kind of plan a plan quote is: referral, homework, next appointment (or "")."""
    cues = {m.cue for m in s.plans}
    if cues & _REFERRAL_CUES:
        return "referral"
    if "homework assignment" in s.interventions or "homework" in cues:
        return "homework"
    if cues & _APPOINTMENT_CUES:
        return "next_appointment"
    return ""


def quote(chunk: Chunk) -> str:
    return f'"{chunk.text}"'


def _quotes(signals: list[ChunkSignals], identified: bool = False) -> dict[str, list[Item]]:
    by_kind: dict[str, list[tuple[int, ChunkSignals]]] = defaultdict(list)
    for order, s in enumerate(signals):
        kind = _quote_kind(s, identified)
        if kind:
            by_kind[kind].append((order, s))
    out = {}
    for kind, limit in MAX_QUOTES.items():
        ranked = sorted(by_kind[kind], key=lambda p: (-_score(p[1], kind), p[0]))[:limit]
        out[kind] = [Item(quote(s.chunk), [_quote_evidence(s, kind)], _QUOTE_KINDS[kind],
                          _plan_category(s) if kind == "plan" else "")
                     for _, s in sorted(ranked, key=lambda p: p[0])]
    return out


# --- labels (themes, interventions) -----------------------------------------------------

def _labelled(signals: list[ChunkSignals], hits: Callable[[ChunkSignals], dict],
              allowed: Callable[[ChunkSignals], bool], prefix: str, kind: str,
              by_count: bool = False, semantic: Callable[[ChunkSignals], dict] | None = None) -> list[Item]:
    """One item per label, its evidence every chunk where one of the label's cues was heard
    (and, with an encoder, every chunk whose meaning is close to the label's examples)."""
    evidence: dict[str, list[Evidence]] = {}
    for s in signals:
        if not allowed(s):
            continue
        for label, matches in hits(s).items():
            evidence.setdefault(label, []).append(s.chunk.evidence(matches[0].cue))
        for label, score in (semantic(s) if semantic else {}).items():
            evidence.setdefault(label, []).append(s.chunk.evidence(None, "encoder", score))
    labels = list(evidence)  # first heard first
    if by_count:
        labels.sort(key=lambda lb: -len(evidence[lb]))
    return [Item(f"{prefix}: {lb}", evidence[lb], kind, lb) for lb in labels]


# --- risk (the rules live in risk.py) ------------------------------------------------------

def _risk(signals: list[ChunkSignals]) -> tuple[list[Item], list[str]]:
    """Risk items, and the categories flagged for clinician review (risk.risk_section)."""
    return risk_section(list(dict.fromkeys(s.chunk.segment for s in signals)))
