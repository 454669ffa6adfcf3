"""Redaction of PHI from speech transcripts, on the box, before anything is composed.

Input is recogniser output: lowercase, unpunctuated, numbers as words, with recognition
errors. Detected kinds and their placeholders: NAME, PHONE, DATE, ADDRESS, NUMBER (other
long digit runs: codes, SSNs, accounts), EMAIL -> "[NAME]", "[PHONE]", ... Touching tokens of
one kind collapse into one placeholder. Reports carry counts per kind, never values.

find_phi also serves as the egress re-scan (promise P2): it accepts typed text with
punctuation and capitals, and placeholders in it are not PHI.
"""
from __future__ import annotations

from ..transcript import RedactedSegment, RedactedTranscript, RedactionReport, Transcript
from .redactor import count_kinds, detect, render, span_index
from .spans import KINDS, PLACEHOLDERS, Span

__all__ = ["KINDS", "PLACEHOLDERS", "Span", "find_phi", "redact_text", "redact_transcript"]


def find_phi(text: str) -> list[Span]:
    """PHI spans as token indices over text.split(), in order, non-overlapping."""
    return detect(text.split())


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """text with each PHI span replaced by its placeholder, and the count per kind."""
    tokens = text.split()
    spans = detect(tokens)
    return render(tokens, span_index(spans, len(tokens)), spans, 0, len(tokens)), count_kinds(spans)


def redact_transcript(t: Transcript) -> RedactedTranscript:
    """Redact every segment, detecting over the whole session so that a phone number split
    by a pause, or a name introduced in one segment and repeated in another, is caught.

    A span that crosses a segment boundary leaves a placeholder in each segment it touches
    but counts once in the report.
    """
    tokens: list[str] = []
    bounds: list[tuple[int, int]] = []
    for seg in t.segments:
        lo = len(tokens)
        for w in seg.words:
            tokens.extend(w.text.split())
        bounds.append((lo, len(tokens)))
    spans = detect(tokens)
    owner = span_index(spans, len(tokens))
    segments = [
        RedactedSegment(
            id=seg.id,
            start=seg.start,
            end=seg.end,
            text=render(tokens, owner, spans, lo, hi),
            speaker=seg.speaker,
        )
        for seg, (lo, hi) in zip(t.segments, bounds)
    ]
    return RedactedTranscript(
        segments=segments,
        report=RedactionReport(counts=count_kinds(spans)),
        duration=t.duration,
        speech=t.speech,
        engine=t.engine,
        language=t.language,
    )
