"""One session from frames to a note.

The edges (audio in, models) are here; the middle (transcript -> redaction -> note) is
pure functions on dataclasses in redact/ and notes/.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

import numpy as np

from .asr.base import Transcriber
from .asr.select import load_transcriber
from .audio.vad import SegmentEnd, SegmentStart, SileroVad, SpeechAudio, SpeechGate
from .config import Config
from .models import Manifest, load_manifest, verify_model
from .notes import Note, SessionFacts, compose_note
from .redact import redact_transcript
from .transcript import Segment, Transcript


@dataclass
class Engines:
    vad: SileroVad
    transcriber: Transcriber

    def close(self) -> None:
        self.vad.wipe()
        self.transcriber.close()


def load_engines(cfg: Config, manifest: Manifest | None = None) -> Engines:
    """Verify every model against the manifest (P6), then load it."""
    manifest = manifest or load_manifest(cfg.models.manifest or None)
    vad_root = verify_model(manifest.get("silero-vad"), cfg.models.dir)
    transcriber = load_transcriber(cfg, manifest)
    return Engines(SileroVad(vad_root), transcriber)


def transcribe(frames: Iterable[np.ndarray], engines: Engines, cfg: Config,
               on_partial: Callable[[str], None] | None = None) -> Transcript:
    """Feed frames through the VAD into the recogniser; silence is never recognised."""
    rec = LiveRecognition(engines, cfg, on_partial)
    for frame in frames:
        rec.push(frame)
    return rec.finish()


class LiveRecognition:
    """Recognition of one recording, one frame at a time, as the audio arrives.

    push(frame) for every 16 kHz frame, then finish() for the transcript, or discard()
    to drop everything (a withdrawal). The gate's three events each have their own
    method (segment start, speech audio, segment end), the places to extend.
    """

    def __init__(self, engines: Engines, cfg: Config, on_partial: Callable[[str], None] | None = None):
        self.gate = SpeechGate(cfg.vad.threshold, cfg.vad.min_silence_ms, cfg.vad.pad_ms)
        self.vad, self.asr = engines.vad, engines.transcriber
        self.vad.reset()
        self.language = cfg.asr.language
        self.on_partial = on_partial
        self.segments: list[Segment] = []
        self.start = 0.0  # start of the open segment

    def push(self, frame: np.ndarray) -> None:
        self._handle(self.gate.push(frame, self.vad(frame)))

    def finish(self) -> Transcript:
        """End of audio: close an open segment and return everything recognised."""
        self._handle(self.gate.flush())
        return Transcript(self.segments, round(self.gate.duration, 3), round(self.gate.speech, 3),
                          self.asr.name, self.language)

    def discard(self) -> None:
        """Drop the audio and every word recognised so far (P4); the engines stay usable."""
        if self.gate.in_speech:
            self.asr.end_segment().clear()
        self.gate.flush()
        self.vad.wipe()
        for seg in self.segments:
            seg.words.clear()
        self.segments.clear()

    def _handle(self, events: list) -> None:
        for ev in events:
            if isinstance(ev, SpeechAudio):
                self._on_audio(ev)
            elif isinstance(ev, SegmentStart):
                self._on_start(ev)
            elif isinstance(ev, SegmentEnd):
                self._on_end(ev)

    def _on_start(self, ev: SegmentStart) -> None:
        self.start = ev.at
        self.asr.start_segment(ev.at)

    def _on_audio(self, ev: SpeechAudio) -> None:
        self.asr.feed(ev.pcm)
        ev.pcm.fill(0)  # P1: the gate's copy is not needed any more
        if self.on_partial:
            self.on_partial(self.asr.partial())

    def _on_end(self, ev: SegmentEnd) -> None:
        words = self.asr.end_segment()
        if words:
            self.segments.append(Segment(f"s{len(self.segments) + 1:04d}", round(self.start, 3),
                                         round(ev.at, 3), words))


def new_session_id() -> str:
    return uuid.uuid4().hex[:16]


def session_facts(cfg: Config, transcript: Transcript, ended_at: datetime, session_id: str,
                  consent: str | None = None) -> SessionFacts:
    started_at = ended_at - timedelta(seconds=transcript.duration)
    return SessionFacts(session_id=session_id, device_id=cfg.device.id, started_at=started_at,
                        ended_at=ended_at, duration_s=transcript.duration, speech_s=transcript.speech,
                        engine=transcript.engine, consent=consent)


def note_from_transcript(transcript: Transcript, fmt: str, facts: SessionFacts) -> Note:
    """Redact, compose, then drop the raw transcript (P1): only the note survives."""
    try:
        return compose_note(redact_transcript(transcript), fmt, facts)
    finally:
        transcript.wipe()
