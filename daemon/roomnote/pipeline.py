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
from .audio.vad import SegmentEnd, SegmentStart, SileroVad, SpeechAudio, SpeechGate, load_vad
from .config import Config
from .models import Manifest, load_manifest
from .notes import Note, SessionFacts, compose_note
from .redact import RedactionPolicy, redact_transcript
from .redact.topics import policy_from_config
from .speakers import SpeakerModel, load_speaker_model
from .transcript import RedactedTranscript, Segment, Transcript


@dataclass
class Engines:
    vad: SileroVad
    transcriber: Transcriber
    speakers: SpeakerModel | None = None  # None: segments stay "unknown" (speakers.enabled = false)
    encoder: object | None = None  # the note's sentence encoder (notes.encoder; None: cue lexicons only)
    policy: RedactionPolicy | None = None  # the office's topic policy ([redaction]; None: the defaults)

    def close(self) -> None:
        self.vad.wipe()
        self.transcriber.close()
        if self.speakers:
            self.speakers.wipe()


def load_engines(cfg: Config, manifest: Manifest | None = None) -> Engines:
    """Verify every model against the manifest (P6), then load it."""
    manifest = manifest or load_manifest(cfg.models.manifest or None)
    vad = load_vad(manifest, cfg.models.dir)
    transcriber = load_transcriber(cfg, manifest)
    speakers = load_speaker_model(cfg, manifest) if cfg.speakers.enabled else None
    encoder = load_note_encoder(cfg, manifest)
    return Engines(vad, transcriber, speakers, encoder, policy_from_config(cfg.redaction, encoder))


def transcribe(frames: Iterable[np.ndarray], engines: Engines, cfg: Config,
               on_partial: Callable[[str], None] | None = None) -> Transcript:
    """Feed frames through the VAD into the recogniser; silence is never recognised."""
    rec = LiveRecognition(engines, cfg, on_partial)
    try:
        for frame in frames:
            rec.push(frame)
    except BaseException:
        rec.discard()  # e.g. a WAV that breaks off: nothing of it is kept (P1)
        raise
    return rec.finish()


class LiveRecognition:
    """Recognition of one recording, one frame at a time, as the audio arrives.

    push(frame) for every 16 kHz frame, then finish() for the transcript, or discard()
    to drop everything (a withdrawal). The gate's three events each have their own
    method (segment start, speech audio, segment end), the places to extend.
    """

    def __init__(self, engines: Engines, cfg: Config, on_partial: Callable[[str], None] | None = None):
        self.gate = SpeechGate(cfg.vad.threshold, cfg.vad.min_silence_ms, cfg.vad.pad_ms, cfg.vad.max_segment_s)
        self.vad, self.asr = engines.vad, engines.transcriber
        self.vad.reset()
        self.language = cfg.asr.language
        self.on_partial = on_partial
        self.segments: list[Segment] = []
        self.start = 0.0  # start of the open segment
        # engines that recognise on a worker (whisper) give words at finish(): (id, start, end)
        self.deferred = getattr(self.asr, "deferred", False)
        self.pending: list[tuple[str, float, float]] = []
        # speaker attribution: voices are embedded live, labels settled at finish()
        self.who = engines.speakers.new_session() if engines.speakers else None

    def push(self, frame: np.ndarray) -> None:
        self._handle(self.gate.push(frame, self.vad(frame)))

    def finish(self) -> Transcript:
        """End of audio: close an open segment and return everything recognised."""
        try:
            self._handle(self.gate.flush())
            if self.deferred:
                self._collect()
            if self.who:
                self.segments = self.who.label(self.segments)  # final labels
        finally:
            self.vad.wipe()  # P1: the last frame's audio, kept as the next frame's context
            self._wipe_voices()
        return Transcript(self.segments, round(self.gate.duration, 3), round(self.gate.speech, 3),
                          self.asr.name, self.language)

    def discard(self) -> None:
        """Drop the audio and every word recognised so far (P4); the engines stay usable."""
        if self.gate.in_speech:
            self.asr.end_segment().clear()
        if self.deferred:
            self.asr.discard()
            self.pending.clear()
        self.gate.flush()
        self.vad.wipe()
        for seg in self.segments:
            seg.words.clear()
        self.segments.clear()
        self._wipe_voices()

    def _wipe_voices(self) -> None:
        """Zero the session's voice audio and vectors (P1); safe to call twice."""
        if self.who:
            self.who.wipe()

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
        if self.who:
            self.who.start_segment(ev.at)

    def _on_audio(self, ev: SpeechAudio) -> None:
        self.asr.feed(ev.pcm)
        if self.who:
            self.who.feed(ev.pcm)  # copies what it keeps
        ev.pcm.fill(0)  # P1: the gate's copy is not needed any more
        if self.on_partial and not self.deferred:  # whisper has no partial results
            self.on_partial(self.asr.partial())

    def _on_end(self, ev: SegmentEnd) -> None:
        words = self.asr.end_segment()
        if self.deferred:  # words come at finish(); the voice is embedded now, while its audio is here
            seg_id = f"s{len(self.pending) + 1:04d}"
            self.pending.append((seg_id, round(self.start, 3), round(ev.at, 3)))
            if self.who:
                self.who.end_segment(seg_id)
            return
        seg_id = f"s{len(self.segments) + 1:04d}"
        if self.who:
            self.who.end_segment(seg_id if words else None)
        if words:
            self.segments.append(Segment(seg_id, round(self.start, 3), round(ev.at, 3), words))


    def _collect(self) -> None:
        """Wait for the worker and build the segments that have words (ids kept, so the
        voices embedded live still match them)."""
        for (seg_id, start, end), words in zip(self.pending, self.asr.results(), strict=True):
            if words:
                self.segments.append(Segment(seg_id, start, end, words))
        self.pending.clear()

    def backlog(self) -> float:
        """Seconds of speech the recogniser has not got to yet (0 for streaming engines)."""
        return self.asr.backlog() if self.deferred else 0.0


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
