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
from .redact import RedactionPolicy, redact_transcript
from .speakers import SpeakerModel, load_speaker_model
from .transcript import RedactedTranscript, Segment, Transcript


@dataclass
class Engines:
    vad: SileroVad
    transcriber: Transcriber
    speakers: SpeakerModel | None = None  # None: segments stay "unknown" (speakers.enabled = false)

    def close(self) -> None:
        self.vad.wipe()
        self.transcriber.close()
        if self.speakers:
            self.speakers.wipe()


def load_engines(cfg: Config, manifest: Manifest | None = None) -> Engines:
    """Verify every model against the manifest (P6), then load it."""
    manifest = manifest or load_manifest(cfg.models.manifest or None)
    vad_root = verify_model(manifest.get("silero-vad"), cfg.models.dir)
    transcriber = load_transcriber(cfg, manifest)
    speakers = load_speaker_model(cfg, manifest) if cfg.speakers.enabled else None
    return Engines(SileroVad(vad_root), transcriber, speakers)


def transcribe(frames: Iterable[np.ndarray], engines: Engines, cfg: Config,
               on_partial: Callable[[str], None] | None = None) -> Transcript:
    """Feed frames through the VAD into the recogniser; silence is never recognised."""
    gate = SpeechGate(cfg.vad.threshold, cfg.vad.min_silence_ms, cfg.vad.pad_ms)
    engines.vad.reset()
    asr = engines.transcriber
    who = engines.speakers.new_session() if engines.speakers else None  # speaker attribution
    segments: list[Segment] = []
    start = 0.0

    def handle(events: list) -> None:
        nonlocal start
        for ev in events:
            if isinstance(ev, SpeechAudio):
                asr.feed(ev.pcm)
                if who:
                    who.feed(ev.pcm)
                ev.pcm.fill(0)  # P1: the gate's copy is not needed any more
                if on_partial:
                    on_partial(asr.partial())
            elif isinstance(ev, SegmentStart):
                start = ev.at
                asr.start_segment(ev.at)
                if who:
                    who.start_segment(ev.at)
            elif isinstance(ev, SegmentEnd):
                words = asr.end_segment()
                seg_id = f"s{len(segments) + 1:04d}"
                if who:
                    who.end_segment(seg_id if words else None)
                if words:
                    segments.append(Segment(seg_id, round(start, 3), round(ev.at, 3), words))

    try:
        for frame in frames:
            handle(gate.push(frame, engines.vad(frame)))
        handle(gate.flush())
        if who:
            segments = who.label(segments)  # final labels; wipes the session's voice vectors
    finally:
        if who:
            who.wipe()
    return Transcript(segments, round(gate.duration, 3), round(gate.speech, 3), asr.name, cfg.asr.language)


def new_session_id() -> str:
    return uuid.uuid4().hex[:16]


def session_facts(cfg: Config, transcript: Transcript, ended_at: datetime, session_id: str,
                  consent: str | None = None) -> SessionFacts:
    started_at = ended_at - timedelta(seconds=transcript.duration)
    return SessionFacts(session_id=session_id, device_id=cfg.device.id, started_at=started_at,
                        ended_at=ended_at, duration_s=transcript.duration, speech_s=transcript.speech,
                        engine=transcript.engine, consent=consent)


def redact_and_compose(transcript: Transcript, fmt: str, facts: SessionFacts, encoder=None,
                       policy: RedactionPolicy | None = None) -> tuple[Note, RedactedTranscript]:
    """Redact (with the office's topic policy; None: the defaults) and drop the raw
    transcript (P1), then compose. The redacted transcript is returned for revisions."""
    try:
        rt = redact_transcript(transcript, policy)
    finally:
        transcript.wipe()
    return compose_note(rt, fmt, facts, encoder=encoder), rt


def note_from_transcript(transcript: Transcript, fmt: str, facts: SessionFacts, encoder=None,
                         policy: RedactionPolicy | None = None) -> Note:
    """Only the note survives: the raw transcript is wiped, the redacted one dropped."""
    return redact_and_compose(transcript, fmt, facts, encoder, policy)[0]


def load_note_encoder(cfg: Config, manifest: Manifest | None = None):
    """The sentence encoder named by notes.encoder, verified against the manifest (P6);
    None when notes.encoder is "" (the cue lexicons alone then compose the note)."""
    if not cfg.notes.encoder:
        return None
    from .notes.encoder import load_encoder

    return load_encoder(manifest or load_manifest(cfg.models.manifest or None), cfg.models.dir,
                        cfg.notes.encoder)
