"""Redaction of PHI from speech transcripts, on the box, before anything is composed.

Input is recogniser output in either form: spoken (vosk/pocketsphinx: lowercase,
unpunctuated, numbers as words, with recognition errors) or written (Whisper: cased,
punctuated, digits). Lists are broad where lists are right (names and places of the world,
every top-level domain) and words are also judged by position and capitals; see
docs/redaction.md. Detected kinds (spans.KINDS, the spoken Safe Harbor identifiers) become typed
placeholders ("[PHONE]", "[PLACE]", ...; names "[Person A]" in a note); touching tokens of one
kind collapse into one placeholder. Sensitive topics follow the office's policy (topics.py).
Reports carry counts per kind and per topic, never values.

find_phi also serves as the egress re-scan (promise P2): it accepts typed text with
punctuation and capitals, and placeholders in it are not PHI.
"""
from __future__ import annotations

from collections import Counter

from ..transcript import RedactedSegment, RedactedTranscript, RedactionReport, Transcript
from .redactor import count_kinds, detect, pseudonyms, render, span_index
from .spans import KINDS, PLACEHOLDERS, Span, normalize
from .topics import ACTIONS, DEFAULT_ACTIONS, TOPICS, RedactionPolicy, decide_all

__all__ = ["ACTIONS", "DEFAULT_ACTIONS", "KINDS", "PLACEHOLDERS", "TOPICS", "RedactionPolicy", "Span",
           "find_phi", "redact_text", "redact_transcript"]


def find_phi(text: str) -> list[Span]:
    """PHI spans as token indices over text.split(), in order, non-overlapping."""
    return detect(text.split())


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """text with each PHI span replaced by its placeholder, and the count per kind."""
    tokens = text.split()
    spans = detect(tokens)
    return render(tokens, span_index(spans, len(tokens)), spans, 0, len(tokens)), count_kinds(spans)


def redact_transcript(t: Transcript, policy: RedactionPolicy | None = None) -> RedactedTranscript:
    """Redact every segment, detecting over the whole session so that a phone number split
    by a pause, or a name introduced in one segment and repeated in another, is caught; then
    apply the office's topic policy passage by passage (policy None: the defaults).

    Names become pseudonyms ("[Person A]") that stay the same for one person across the
    note when policy.pseudonyms is on; every other kind a typed placeholder. A span that
    crosses a segment boundary leaves a placeholder in each segment it touches but counts
    once in the report.
    """
    policy = policy or RedactionPolicy()
    tokens: list[str] = []
    bounds: list[tuple[int, int]] = []
    for seg in t.segments:
        lo = len(tokens)
        for w in seg.words:
            tokens.extend(w.text.split())
        bounds.append((lo, len(tokens)))
    spans = detect(tokens)
    owner = span_index(spans, len(tokens))
    names = pseudonyms(tokens, spans) if policy.pseudonyms else {}
    topic_counts: Counter[str] = Counter()
    removed = 0
    segments = []
    decisions = decide_all([[normalize(w) for w in tokens[lo:hi]] for lo, hi in bounds], policy)
    for seg, (lo, hi), decided in zip(t.segments, bounds, decisions):
        pieces: list[str] = []
        for p in decided:
            if p.action == "remove":
                removed += 1
                continue
            topic_counts.update(p.topics)
            if p.action == "generalize":
                if not pieces or pieces[-1] != p.label:
                    pieces.append(p.label)
                continue
            text = render(tokens, owner, spans, lo + p.lo, lo + p.hi, names)
            if text:
                pieces.append(text)
        segments.append(RedactedSegment(id=seg.id, start=seg.start, end=seg.end,
                                        text=" ".join(pieces), speaker=seg.speaker))
    return RedactedTranscript(
        segments=segments,
        report=RedactionReport(counts=count_kinds(spans), topics=dict(topic_counts),
                               removed=removed),
        duration=t.duration,
        speech=t.speech,
        engine=t.engine,
        language=t.language,
    )
