"""One session: its consent record, audio in, a redacted note out, and nothing left after.

Audio blocks arrive from the microphone's thread and are queued in memory; one worker
thread turns them into 16 kHz frames and recognises them live (`LiveRecognition`), so when
the therapist stops only the tail is left to do. At the end the worker redacts, composes
and posts the note to the appliance; on a withdrawal it drops everything instead (P4).
Every audio buffer is zeroed once used or dropped (P1).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from .audio.resample import FrameAssembler
from .audio.resample import wipe
from .config import Config
from .notes import Note, SessionFacts
from .pipeline import Engines, LiveRecognition, new_session_id, redact_and_compose
from .transcript import RedactedTranscript

log = logging.getLogger("roomnote.session")


@dataclass(frozen=True)
class ConsentRecord:
    """How consent was given for one session, as the note records it."""

    mode: str  # "clinician": attested with the first press; "external": sent by the practice system
    at: datetime
    ref: str = ""  # external: the practice system's reference for the session

    def describe(self) -> str:
        at = self.at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.mode == "clinician":
            return f"attested by the clinician at {at}"
        return f"given in the practice system (ref {self.ref}), received at {at}"


@dataclass(frozen=True)
class NoteReady:
    session_id: str
    note: Note
    rt: RedactedTranscript


@dataclass(frozen=True)
class SessionFailed:
    session_id: str
    reason: str


_END, _DISCARD = object(), object()


class Session:
    def __init__(self, engines: Engines, cfg: Config, consent: ConsentRecord, post):
        self.id = new_session_id()
        self.engines, self.cfg, self.consent, self.post = engines, cfg, consent, post
        self.blocks: queue.SimpleQueue = queue.SimpleQueue()
        self.worker: threading.Thread | None = None
        self.assembler: FrameAssembler | None = None
        self.rec: LiveRecognition | None = None
        self.started_at = self.ended_at = datetime.now(timezone.utc)
        self.t0 = time.monotonic()
        self.discarded = False
        self.over = False  # the worker has finished: what is queued now is wiped by feed()
        self.frames = 0  # 16 kHz frames recognised

    def feed(self, block: np.ndarray) -> None:
        """From the microphone's thread: queue a block (the session owns it from now)."""
        self.blocks.put(block)
        if self.over:  # a late block (a microphone slow to close): nobody else would wipe it
            self._drain()

    def start(self, rate: int, channels: int) -> None:
        self.assembler = FrameAssembler(rate, channels)
        self.rec = LiveRecognition(self.engines, self.cfg)
        self.started_at, self.t0 = datetime.now(timezone.utc), time.monotonic()
        self.worker = threading.Thread(target=self._work, name=f"session-{self.id}", daemon=True)
        self.worker.start()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def finish(self) -> None:
        """The microphone has closed: recognise what is queued, then compose and post the note."""
        self.ended_at = datetime.now(timezone.utc)
        self.blocks.put(_END)

    def discard(self, timeout: float = 10.0) -> None:
        """Drop the audio, the words and any note in the making (a withdrawal)."""
        self.discarded = True
        self.blocks.put(_DISCARD)
        if self.worker is not None and self.worker is not threading.current_thread():
            self.worker.join(timeout)
        else:
            self.over = True
            self._drain()

    def _work(self) -> None:
        try:
            while True:
                block = self.blocks.get()
                if block is _END or block is _DISCARD:
                    break
                if self.discarded:
                    wipe(block)
                    continue
                for frame in self.assembler.push(block):
                    self.rec.push(frame)
                    self.frames += 1
                wipe(block)
            if self.discarded:
                self.rec.discard()
                return
            for frame in self.assembler.flush():
                self.rec.push(frame)
                self.frames += 1
            note, rt = self._compose()
            if not self.discarded:
                self.post(NoteReady(self.id, note, rt))
        except Exception as e:  # an engine failure must not take the appliance down
            log.error("session failed", extra={"SESSION_ID": self.id, "ERROR": e.__class__.__name__})
            try:
                self.rec.discard()
            except Exception:
                pass  # the engine is broken already; what it held goes with the session
            self.post(SessionFailed(self.id, f"recognition failed ({e.__class__.__name__})"))
        finally:
            self.assembler.wipe()
            self.over = True
            self._drain()

    def _compose(self) -> tuple[Note, RedactedTranscript]:
        transcript = self.rec.finish()
        facts = SessionFacts(  # before redact_and_compose, which wipes the raw transcript (P1)
            session_id=self.id, device_id=self.cfg.device.id, started_at=self.started_at,
            ended_at=self.ended_at, duration_s=round((self.ended_at - self.started_at).total_seconds(), 1),
            speech_s=transcript.speech, engine=transcript.engine, consent=self.consent.describe())
        # the office's topic policy and the note encoder, as `roomnote process` uses them
        note, rt = redact_and_compose(transcript, self.cfg.notes.format, facts, self.engines.encoder,
                                      self.engines.policy)
        log.info("session recognised", extra={"SESSION_ID": self.id, "SEGMENTS": len(rt.segments),
                                              "SPEECH_S": rt.speech, "AUDIO_S": rt.duration})
        return note, rt

    def _drain(self) -> None:
        while True:
            try:
                block = self.blocks.get_nowait()
            except queue.Empty:
                return
            if isinstance(block, np.ndarray):
                wipe(block)
