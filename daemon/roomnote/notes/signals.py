"""Read one segment: cut it into chunks and note which cues each chunk holds.

This is the only place that looks at words. The composer decides from these signals what
goes into the note; a later classifier (sentence encoder, speaker labels) can produce the
same ChunkSignals and leave the composer as it is.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..transcript import RedactedSegment
from .chunks import Chunk, chunk_segment
from .details import Finding, find_details
from .lexicons import GOALS, INTERVENTIONS, PLAN, REPORT, RESPONSE, RESPONSE_EXCLUDE, THEMES
from .matching import CueIndex, Match, Tokens
from .mi import shape
from .risk import RISK_LEXICONS, RiskFinding, classify_risk

# Every lexicon in one index, named "kind" or "kind:label"; risk names are "category:stance".
_FLAT = {"reports": REPORT, "responses": RESPONSE, "goals": GOALS, "plans": PLAN}
_INDEX = CueIndex({
    **{kind: (cues, RESPONSE_EXCLUDE if kind == "responses" else ()) for kind, cues in _FLAT.items()},
    **{f"theme:{label}": (cues, ()) for label, cues in THEMES.items()},
    **{f"intervention:{label}": (cues, ()) for label, cues in INTERVENTIONS.items()},
    **RISK_LEXICONS,
})

_FIRST_PERSON = frozenset({"i", "i'm", "i've", "i'd", "i'll", "im", "me", "my", "myself", "mine"})
_SECOND_PERSON = frozenset({"you", "you're", "you've", "you'd", "you'll", "your", "yourself", "yours"})
_FILLERS_AFTER_YOU = frozenset({"know", "mean", "see"})


@dataclass
class ChunkSignals:
    chunk: Chunk
    reports: list[Match] = field(default_factory=list)
    responses: list[Match] = field(default_factory=list)
    goals: list[Match] = field(default_factory=list)
    plans: list[Match] = field(default_factory=list)
    themes: dict[str, list[Match]] = field(default_factory=dict)
    interventions: dict[str, list[Match]] = field(default_factory=dict)
    risks: list[RiskFinding] = field(default_factory=list)
    first_person: int = 0  # words like "i", "my"
    second_person: int = 0  # words like "you", "your", not counting "you know"
    # Set by semantic.annotate when a sentence encoder is used (label -> similarity).
    semantic_interventions: dict[str, float] = field(default_factory=dict)
    semantic_kind: tuple[str, float] | None = None  # quote kind by meaning, with similarity
    # The turn's form (mi.shape: open/closed question, reflection) and the details it holds.
    shape: dict[str, list[Match]] = field(default_factory=dict)
    details: list[Finding] = field(default_factory=list)
    # Set by the composer with an utterance classifier: head -> label -> probability.
    probs: dict[str, dict[str, float]] | None = None

    def top(self, head: str) -> tuple[str, float] | None:
        """The classifier's best label for this chunk on a head, or None if not classified."""
        if self.probs is None:
            return None
        label = max(self.probs[head], key=self.probs[head].get)
        return label, self.probs[head][label]

    @property
    def is_question(self) -> bool:
        return bool(self.shape.get("open question") or self.shape.get("closed question")) or "?" in self.chunk.text

    inferred_role: str | None = None  # set by roles.infer_roles when no voice was enrolled

    @property
    def speaker(self) -> str:
        return self.inferred_role or self.chunk.segment.speaker

    @property
    def role(self) -> str:
        """client | therapist | other | unknown; voices told apart without knowing who the
        therapist is ("speaker 1") are unknown: nobody is the client yet."""
        s = self.speaker
        return s if s in ("client", "therapist", "other") else "unknown"

    @property
    def sounds_like_client(self) -> bool:
        """Talk about oneself rather than to someone: what a client's statement sounds like."""
        return self.first_person > self.second_person and not self.interventions


def _person_counts(words: tuple[str, ...]) -> tuple[int, int]:
    first = sum(w in _FIRST_PERSON for w in words)
    second = sum(w in _SECOND_PERSON and not (w == "you" and nxt in _FILLERS_AFTER_YOU)
                 for w, nxt in zip(words, (*words[1:], "")))
    return first, second


def read_segment(segment: RedactedSegment) -> list[ChunkSignals]:
    tokens = Tokens.of(segment.text)
    if not tokens.words:
        return []
    hits = _INDEX.find(tokens)
    flat = {kind: hits[kind] for kind in _FLAT}
    themes = {label: hits[f"theme:{label}"] for label in THEMES}
    interventions = {label: hits[f"intervention:{label}"] for label in INTERVENTIONS}
    risks = classify_risk(tokens.words, hits)
    # Cut chunks around every cue, so each cue sits whole in one chunk.
    chunks = chunk_segment(segment, tokens, [(m.start, m.end) for ms in hits.values() for m in ms])

    details = find_details(tokens)
    out = []
    for chunk in chunks:
        def inside(ms: list[Match]) -> list[Match]:
            return [m for m in ms if chunk.lo <= m.start < chunk.hi]

        first, second = _person_counts(tokens.words[chunk.lo:chunk.hi])
        out.append(ChunkSignals(
            chunk=chunk,
            reports=inside(flat["reports"]), responses=inside(flat["responses"]),
            goals=inside(flat["goals"]), plans=inside(flat["plans"]),
            themes={k: v for k, v in ((k, inside(ms)) for k, ms in themes.items()) if v},
            interventions={k: v for k, v in ((k, inside(ms)) for k, ms in interventions.items()) if v},
            risks=[r for r in risks if chunk.lo <= r.match.start < chunk.hi],
            first_person=first, second_person=second,
            shape=shape(tokens, chunk.lo, chunk.hi),
            details=[d for d in details if chunk.lo <= d.match.start < chunk.hi],
        ))
    return out
