"""Who is the therapist, when no therapist voice is enrolled: read it from the talk.

Therapists ask and reflect; clients report. With voices told apart but not named
("speaker 1", "speaker 2") each voice is judged as a whole: the role classifier's mean
probability over its turns, nudged by the share of its turns shaped as questions or
reflections (mi.py); the voice that is clearly most therapist-like is the therapist, the
voice with the most words among the others the client, the rest "other". With no voices at
all ("unknown" everywhere) each segment is judged alone and only a clear judgement assigns
a role; the rest stay "unknown", and are never quoted as the client's nor taken as an
intervention. The note says how roles were assigned (Note.speaker_roles).
"""
from __future__ import annotations

import re


LABELLED = "enrolled voice"  # the attributor named therapist and client
INFERRED = "inferred from the talk"
NONE = ""  # not identified (no classifier, or nothing clear to go on)

VOICE_MARGIN = 0.12  # the therapist voice's score must beat the next voice's by this much
SEGMENT_THERAPIST = 0.75  # a lone segment is the therapist's at or above this score ...
SEGMENT_CLIENT = 0.30  # ... and the client's at or below this one
SHAPE_NUDGE = 0.12
_VOICE = re.compile(r"^speaker \d+$")
_FIRST = frozenset({"i", "i'm", "i've", "i'd", "i'll", "me", "my", "myself"})


def needs_inference(speakers: set[str]) -> bool:
    return not (speakers & {"therapist", "client"})


def _shape_score(s) -> float:
    """+1 for a question or reflection, -1 for talk about oneself, 0 otherwise."""
    if s.shape.get("open question") or s.shape.get("closed question") or s.shape.get("reflection"):
        return 1.0
    return -1.0 if s.first_person >= 2 and s.first_person > s.second_person else 0.0


def infer_roles(signals: list, by_segment: bool = False) -> str:
    """Set ChunkSignals.inferred_role from the classifier's role head (ChunkSignals.probs)
    where no voice was enrolled; returns how roles were assigned."""
    speakers = {s.chunk.segment.speaker for s in signals}
    if not needs_inference(speakers):
        return LABELLED if speakers else NONE
    scored = [s for s in signals if s.probs is not None]
    if not scored:
        return NONE

    def score(s) -> float:
        return min(1.0, max(0.0, s.probs["role"]["therapist"] + SHAPE_NUDGE * _shape_score(s)))

    voices = sorted(sp for sp in speakers if _VOICE.match(sp))
    if len(voices) >= 2 and not by_segment:
        mean, words = {}, {}
        for v in voices:
            mine = [s for s in scored if s.chunk.segment.speaker == v]
            n = [s.chunk.hi - s.chunk.lo for s in mine]
            mean[v] = sum(score(s) * k for s, k in zip(mine, n)) / sum(n) if mine else 0.0
            words[v] = sum(s.chunk.hi - s.chunk.lo for s in signals if s.chunk.segment.speaker == v)
        ranked = sorted(voices, key=lambda v: -mean[v])
        if mean[ranked[0]] - mean[ranked[1]] < VOICE_MARGIN:
            return NONE  # no voice is clearly the therapist: attribute nothing
        therapist = ranked[0]
        client = max((v for v in voices if v != therapist), key=lambda v: words[v])
        role = {v: "therapist" if v == therapist else "client" if v == client else "other" for v in voices}
        for s in signals:
            s.inferred_role = role.get(s.chunk.segment.speaker, "unknown")
        return INFERRED
    # no voices: segment by segment, the mean over its chunks, weighted by words
    segments: dict[str, list] = {}
    for s in scored:
        if s.chunk.segment.speaker == "unknown" or _VOICE.match(s.chunk.segment.speaker):
            segments.setdefault(s.chunk.segment.id, []).append(s)
    role = {}
    for sid, chunks in segments.items():
        n = [c.chunk.hi - c.chunk.lo for c in chunks]
        p = sum(score(c) * k for c, k in zip(chunks, n)) / sum(n)
        role[sid] = "therapist" if p >= SEGMENT_THERAPIST else "client" if p <= SEGMENT_CLIENT else "unknown"
    if not any(r != "unknown" for r in role.values()):
        return NONE
    for s in signals:
        if s.chunk.segment.speaker not in ("therapist", "client", "other"):
            s.inferred_role = role.get(s.chunk.segment.id, "unknown")
    return INFERRED


def segment_roles(rt, encoder, classifier) -> dict[str, str]:
    """Segment id -> role as the composer would infer it (for revisions)."""
    from .composer import classify_signals, read_transcript

    signals = read_transcript(rt)
    classify_signals(signals, encoder, classifier, everything=True)
    infer_roles(signals)
    return {s.chunk.segment.id: s.speaker for s in signals}
