"""Redacted transcripts kept for revisions until finalise or time-to-live (promise P5).

Each session's redacted transcript is written AES-GCM-encrypted under a key of its own that
exists only in this process's memory. Destroying a session deletes the file and zeroes the
key. If the process dies, the key dies with it: the file left behind can never be read, and
the next start deletes it and says so with a receipt (action "restart"). A content-free
sidecar (<note id>.meta.json: ids, versions, hash, times) is what makes that receipt possible.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import PublishError
from ..notes import Note
from ..storage import write_atomic
from ..transcript import RedactedSegment, RedactedTranscript, RedactionReport
from .keys import seal, unseal

DESTROYED = ["redacted_transcript", "session_key"]


def transcript_to_json(rt: RedactedTranscript) -> bytes:
    return json.dumps({
        "segments": [{"id": s.id, "start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker}
                     for s in rt.segments],
        "counts": dict(rt.report.counts), "duration": rt.duration, "speech": rt.speech,
        "engine": rt.engine, "language": rt.language,
    }, ensure_ascii=False).encode("utf-8")


def transcript_from_json(data: bytes) -> RedactedTranscript:
    d = json.loads(data)
    return RedactedTranscript([RedactedSegment(**s) for s in d["segments"]], RedactionReport(dict(d["counts"])),
                              d["duration"], d["speech"], d["engine"], d["language"])


@dataclass
class Held:
    note: Note  # the newest version
    note_sha256: str  # of the newest version's published bytes
    key: bytearray  # this session's key; memory only
    expires_at: float  # unix time

    @property
    def note_id(self) -> str:
        return self.note.note_id


class SessionStore:
    def __init__(self, directory: str | Path, ttl_s: float):
        self.dir = Path(directory)
        self.ttl_s = ttl_s
        self._held: dict[str, Held] = {}
        self._lock = threading.RLock()
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise PublishError(f"{self.dir}: cannot create the session directory ({e.strerror}); "
                               "set retention.dir to a writable place") from None

    def __contains__(self, note_id: str) -> bool:
        return note_id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def get(self, note_id: str) -> Held | None:
        return self._held.get(note_id)

    def orphans(self) -> list[dict]:
        """Sessions left by a process that died (their keys died with it): delete, return their metadata."""
        found = []
        for p in self.dir.iterdir():
            if p.name.endswith(".meta.json") and p.name[:-10] not in self._held:
                try:
                    found.append(json.loads(p.read_text()))
                except (OSError, ValueError):
                    found.append({"note_id": p.name[:-10]})
                self._unlink(p.name[:-10])
            elif p.name.startswith("."):  # write_atomic's temporary, cut short
                p.unlink(missing_ok=True)
        for p in self.dir.glob("*.rt"):  # a transcript whose sidecar never got written
            if p.stem not in self._held:
                p.unlink(missing_ok=True)
        return found

    def hold(self, note: Note, rt: RedactedTranscript, note_sha256: str, now: float | None = None) -> Held:
        now = time.time() if now is None else now
        with self._lock:
            old = self._held.get(note.note_id)
            key = bytearray(os.urandom(32))
            # no fsync: after a crash this file is unreadable anyway (its key was in memory only)
            write_atomic(self.dir / f"{note.note_id}.rt", seal(key, transcript_to_json(rt), note.note_id.encode()),
                         durable=False)
            held = Held(note, note_sha256, key, old.expires_at if old else now + self.ttl_s)
            self._write_meta(held)
            if old:
                old.key[:] = bytes(len(old.key))
            self._held[note.note_id] = held
            return held

    def transcript(self, note_id: str) -> RedactedTranscript:
        held = self._held[note_id]
        blob = (self.dir / f"{note_id}.rt").read_bytes()
        return transcript_from_json(unseal(held.key, blob, note_id.encode()))

    def update(self, note: Note, note_sha256: str) -> None:
        """A new version of a held note (a revision)."""
        with self._lock:
            held = self._held[note.note_id]
            held.note, held.note_sha256 = note, note_sha256
            self._write_meta(held)

    def destroy(self, note_id: str) -> Held | None:
        with self._lock:
            held = self._held.pop(note_id, None)
            self._unlink(note_id)
            if held:
                held.key[:] = bytes(len(held.key))
            return held

    def expired(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        return [h.note_id for h in list(self._held.values()) if h.expires_at <= now]

    def note_ids(self) -> list[str]:
        return list(self._held)

    def _write_meta(self, held: Held) -> None:
        f = held.note.facts
        write_atomic(self.dir / f"{held.note_id}.meta.json", json.dumps({
            "note_id": held.note_id, "note_version": held.note.version, "note_sha256": held.note_sha256,
            "session_id": f.session_id, "expires_at": held.expires_at}).encode())

    def _unlink(self, note_id: str) -> None:
        for name in (f"{note_id}.rt", f"{note_id}.meta.json"):
            (self.dir / name).unlink(missing_ok=True)
