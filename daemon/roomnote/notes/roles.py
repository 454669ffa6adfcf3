"""Who is the therapist, when no therapist voice is enrolled: read it from the talk.

Therapists ask and reflect; clients report. With voices told apart but not named
("speaker 1", "speaker 2") each voice is judged as a whole: the role classifier's mean
probability over its turns, plus the share of its turns shaped as questions or reflections
(mi.py); the voice that is clearly most therapist-like is the therapist, the voice with the
most words among the others the client, the rest "other". With no voices at all
("unknown" everywhere) each segment is judged alone and only a clear judgement assigns a
role; the rest stay "unknown" and are never quoted as the client's nor taken as an
intervention. The note says how roles were assigned (Note.speaker_roles).
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from ..transcript import RedactedTranscript
from .matching import Tokens
from .mi import shape

LABELLED = "enrolled voice"  # the attributor named therapist and client
INFERRED = "inferred from the talk"
NONE = ""  # not identified (no encoder, or nothing to go on)

VOICE_MARGIN = 0.12  # the therapist voice's score must beat the next voice's by this much
SEGMENT_THERAPIST = 0.72  # a lone segment is the therapist's at or above this score ...
SEGMENT_CLIENT = 0.30  # ... and the client's at or below this one
MIN_WORDS = 3  # "yeah", "mm-hmm" say nothing about who spoke
MAX_WORDS = 60  # a segment is judged by its first words (keeps an hour fast)
SAMPLE = 40  # turns per voice judged
_VOICE = re.compile(r"^speaker \d+$")
_FIRST = frozenset({"i", "i'm", "i've", "i'd", "i'll", "me", "my", "myself"})


def _shape_score(text: str) -> float:
    """+1 for a question or reflection, -1 for talk about oneself, 0 otherwise."""
    tokens = Tokens.of(text)
    if not tokens.words:
        return 0.0
    s = shape(tokens, 0, len(tokens))
    if s["open question"] or s["closed question"] or s["reflection"]:
        return 1.0
    first = sum(w in _FIRST for w in tokens.words)
    return -1.0 if first >= 2 else 0.0


def _head(text: str) -> str:
    return " ".join(text.split()[:MAX_WORDS])


def _therapist_scores(texts: list[str], encoder, classifier) -> np.ndarray:
    """Per text: the classifier's P(therapist), nudged by the turn's shape."""
    if not texts:
        return np.zeros(0)
    p = classifier.predict(encoder.encode([_head(t) for t in texts])).p("role", "therapist")
    return np.clip(p + 0.12 * np.array([_shape_score(t) for t in texts]), 0.0, 1.0)


def assign_roles(rt: RedactedTranscript, encoder, classifier) -> tuple[RedactedTranscript, str]:
    """rt with roles filled in where the talk says them clearly, and how they were assigned."""
    speakers = {s.speaker for s in rt.segments}
    if speakers & {"therapist", "client"}:
        return rt, LABELLED
    if encoder is None or classifier is None:
        return rt, NONE
    voices = sorted(sp for sp in speakers if _VOICE.match(sp))
    if len(voices) >= 2:
        roles = _by_voice(rt, voices, encoder, classifier)
        if roles is None:
            return rt, NONE
        return replace(rt, segments=[replace(s, speaker=roles.get(s.speaker, "unknown")) for s in rt.segments]), INFERRED
    todo = [s for s in rt.segments if s.speaker == "unknown" and len(s.text.split()) >= MIN_WORDS]
    scores = _therapist_scores([s.text for s in todo], encoder, classifier)
    role = {s.id: ("therapist" if p >= SEGMENT_THERAPIST else "client" if p <= SEGMENT_CLIENT else "unknown")
            for s, p in zip(todo, scores)}
    if not any(r != "unknown" for r in role.values()):
        return rt, NONE
    return replace(rt, segments=[replace(s, speaker=role.get(s.id, s.speaker)) for s in rt.segments]), INFERRED


def _by_voice(rt: RedactedTranscript, voices: list[str], encoder, classifier) -> dict[str, str] | None:
    score, words = {}, {}
    for v in voices:
        segs = [s for s in rt.segments if s.speaker == v and len(s.text.split()) >= MIN_WORDS]
        words[v] = sum(len(s.text.split()) for s in rt.segments if s.speaker == v)
        segs = sorted(segs, key=lambda s: -len(s.text.split()))[:SAMPLE]
        score[v] = float(_therapist_scores([s.text for s in segs], encoder, classifier).mean()) if segs else 0.0
    ranked = sorted(voices, key=lambda v: -score[v])
    if score[ranked[0]] - score[ranked[1]] < VOICE_MARGIN:
        return None  # no voice is clearly the therapist: attribute nothing
    therapist = ranked[0]
    client = max((v for v in voices if v != therapist), key=lambda v: words[v])
    return {v: "therapist" if v == therapist else "client" if v == client else "other" for v in voices}
