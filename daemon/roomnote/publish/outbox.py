"""The durable outbox of promise P7: a directory of encrypted messages waiting for PUBACK.

One file per message, named <sequence>.<message id>.msg, so the directory listing is the
send order and a message that is already queued is not queued twice. Each file is
AES-256-GCM under the outbox key with the file name as associated data (a file renamed or
swapped with another fails to open). Writing is write, fsync, rename, fsync the directory:
after put() returns, the message survives kill -9 and power loss; a half-written file is
only ever a hidden temporary, removed at the next start.

Only RedactedNote and Receipt objects are accepted (P2): both are egress-checked when made,
and again here when read back.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag

from ..errors import PublishError, RoomnoteError
from ..storage import fsync_dir, write_atomic
from .keys import seal, unseal
from .messages import Receipt, RedactedNote

log = logging.getLogger("roomnote.outbox")

SUFFIX = ".msg"
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}

Message = RedactedNote | Receipt


class OutboxFullError(PublishError):
    """The outbox could not be written because the disk (or quota) is full."""


class OutboxCorruptError(PublishError):
    pass


@dataclass(frozen=True)
class Entry:
    name: str
    seq: int
    message_id: str


def list_entries(directory: Path) -> list[Entry]:
    """The queued messages in send order; needs no key (names only)."""
    out = []
    for p in Path(directory).iterdir():
        name = p.name
        if name.endswith(SUFFIX) and name[:12].isdigit() and name[12:13] == ".":
            out.append(Entry(name, int(name[:12]), name[13:-len(SUFFIX)]))
    return sorted(out, key=lambda e: e.seq)


class Outbox:
    def __init__(self, directory: str | Path, key: bytes):
        self.dir = Path(directory)
        self._key = key
        self._lock = threading.Lock()
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            for stray in self.dir.glob(".*"):  # write_atomic's temporary: a put() that never returned
                stray.unlink()
        except OSError as e:
            raise PublishError(f"{self.dir}: cannot use the outbox directory ({e.strerror}); "
                               "set outbox.dir to a writable place") from None
        entries = self.entries()
        self._seq = entries[-1].seq if entries else 0

    def entries(self) -> list[Entry]:
        return list_entries(self.dir)

    def __len__(self) -> int:
        return len(self.entries())

    def find(self, message_id: str) -> Entry | None:
        return next((e for e in self.entries() if e.message_id == message_id), None)

    def put(self, msg: Message) -> Entry:
        """Store msg durably; returns its entry (the existing one if it is already queued)."""
        if not isinstance(msg, (RedactedNote, Receipt)):
            raise TypeError(f"the outbox takes only RedactedNote or Receipt, not {type(msg).__name__}")
        with self._lock:
            existing = self.find(msg.message_id)
            if existing:
                return existing
            seq = self._seq + 1
            entry = Entry(f"{seq:012d}.{msg.message_id}{SUFFIX}", seq, msg.message_id)
            plain = json.dumps({"kind": msg.kind, "payload": msg.payload.decode("utf-8")}).encode("utf-8")
            blob = seal(self._key, plain, entry.name.encode())
            try:
                write_atomic(self.dir / entry.name, blob)
            except OSError as e:
                if e.errno in _FULL:
                    raise OutboxFullError(f"{self.dir}: the disk is full, the outbox cannot store {msg.message_id}; "
                                          "it is kept in memory and sent when the broker is reachable; free disk space "
                                          "so it is safe across a restart") from None
                raise PublishError(f"{self.dir}: cannot write to the outbox ({e.strerror}); the message is kept in "
                                   "memory; check the directory's permissions") from None
            self._seq = seq
            return entry

    def read(self, entry: Entry) -> Message:
        """Decrypt one entry. A damaged one is moved to quarantine/ (never deleted) and reported."""
        path = self.dir / entry.name
        blob = path.read_bytes()
        try:
            d = json.loads(unseal(self._key, blob, entry.name.encode()))
        except (InvalidTag, ValueError):
            q = self._quarantine(entry)
            raise OutboxCorruptError(f"outbox entry {entry.name} cannot be decrypted with this box's outbox key "
                                     f"(damaged, or written under another key); moved to {q}") from None
        cls = RedactedNote if d.get("kind") == "notes" else Receipt
        try:
            return cls(d["payload"].encode("utf-8"))  # egress check again (P2)
        except RoomnoteError as e:
            q = self._quarantine(entry)
            raise OutboxCorruptError(f"outbox entry {entry.name} was refused ({e}); moved to {q}, not sent") from None

    def _quarantine(self, entry: Entry) -> Path:
        """Kept for IT to look at (still encrypted), never sent, never silently deleted."""
        q = self.dir / "quarantine"
        q.mkdir(exist_ok=True, mode=0o700)
        os.replace(self.dir / entry.name, q / entry.name)
        return q

    def remove(self, entry: Entry) -> None:
        """Called only after the broker acknowledged the message (PUBACK)."""
        with self._lock:
            try:
                (self.dir / entry.name).unlink()
            except FileNotFoundError:
                return
            fsync_dir(self.dir)

    def remove_note(self, note_id: str) -> int:
        """Drop every queued version of one note (a discard); returns how many."""
        gone = 0
        for e in self.entries():
            if e.message_id.startswith(f"{note_id}.v"):
                self.remove(e)
                gone += 1
        return gone
