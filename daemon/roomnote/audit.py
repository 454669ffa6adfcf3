"""The audit log on the box: append-only JSON lines, each holding the hash of the one before.

Entries are content-free by construction: keys are short snake_case names and values are
numbers, booleans, or short tokens without spaces (ids, states, ISO times, counts), so no
sentence from a session can be written here. A record is appended whole or not at all: a
write cut short (full disk) is truncated away at once, and a partial last record left by
a power cut is cut off by the next append, which records an `audit_repaired` entry saying
how many bytes it dropped. Changing, removing or reordering any line
breaks the chain, which `roomnote audit verify` reports; the newest hash is also published
in the status heartbeat, so cutting lines off the end is visible from outside the box.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import AuditError

GENESIS = "0" * 64
_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")  # \Z, not $: a token never ends in a newline
_TOKEN = re.compile(r"[A-Za-z0-9_.:+\-/]{0,80}\Z")  # no spaces: ids, states, times, kinds
_MAX_LIST = 16


def is_content_free_value(v: Any) -> bool:
    if v is None or isinstance(v, (bool, int, float)):
        return True
    if isinstance(v, str):
        return bool(_TOKEN.match(v))
    if isinstance(v, (list, tuple)):
        return len(v) <= _MAX_LIST and all(isinstance(x, str) and _TOKEN.match(x) for x in v)
    return False


def content_free(fields: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the fields that are content-free, the names of those that were dropped)."""
    kept, dropped = {}, []
    for k, v in fields.items():
        if isinstance(k, str) and _KEY.match(k) and is_content_free_value(v):
            kept[k] = list(v) if isinstance(v, tuple) else v
        else:
            dropped.append(k if isinstance(k, str) and _KEY.match(k) else "?")
    return kept, dropped


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class AuditLog:
    """Append-only, hash-chained; safe when several roomnote processes write to one file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise AuditError(f"{self.path.parent}: cannot create the audit directory ({e.strerror}); "
                             "set audit.file to a writable place") from None
        self.head = GENESIS

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one entry; ValueError if a field is not content-free (a programming error)."""
        kept, dropped = content_free(fields)
        if dropped or not _KEY.match(event):
            raise ValueError(f"audit event {event!r}: not content-free: {', '.join(dropped) or 'event name'}")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            dropped = self._drop_partial_record(fd)
            if dropped:  # a write cut short by a full disk or a power cut: said so in the chain itself
                self._write(fd, "audit_repaired", {"dropped_bytes": dropped, "reason": "partial_last_record"})
            return self._write(fd, event, kept)
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, fd: int, event: str, kept: dict[str, Any]) -> dict[str, Any]:
        """Append one whole record, or nothing: a short or failed write is cut off again."""
        size = os.fstat(fd).st_size
        prev, seq = self._last(fd)
        entry = {"seq": seq + 1, "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "event": event, **kept, "prev": prev}
        entry["hash"] = _digest(entry)
        line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            if os.write(fd, line) != len(line):
                raise OSError(errno.ENOSPC, "No space left on device (short write)")
            os.fsync(fd)
        except OSError:
            try:  # shrinking needs no space: the log ends with a whole record again
                os.ftruncate(fd, size)
                os.fsync(fd)
            except OSError:
                pass  # then the next append drops the partial record
            raise
        self.head = entry["hash"]
        return entry

    @staticmethod
    def _drop_partial_record(fd: int) -> int:
        """Cut bytes after the last newline (half a record: a short write or a power cut); their count.

        Only an unterminated tail is cut: a whole line that is damaged is evidence of
        tampering and stays for `roomnote audit verify` to report.
        """
        size = end = os.fstat(fd).st_size
        while end > 0:
            start = max(0, end - 8192)
            nl = os.pread(fd, end - start, start).rfind(b"\n")
            if nl >= 0:
                end = start + nl + 1
                break
            end = start
        if end == size:
            return 0
        os.ftruncate(fd, end)
        os.fsync(fd)
        return size - end

    @staticmethod
    def _last(fd: int) -> tuple[str, int]:
        size = os.fstat(fd).st_size
        if size == 0:
            return GENESIS, 0
        tail = os.pread(fd, min(size, 8192), max(0, size - 8192)).decode("utf-8", "replace")
        line = tail.rstrip("\n").rsplit("\n", 1)[-1]
        try:
            last = json.loads(line)
            return last["hash"], int(last["seq"])
        except (ValueError, KeyError, TypeError):
            raise AuditError("the last line of the audit log is damaged; run `roomnote audit verify` "
                             "and keep a copy before doing anything else") from None


def verify_log(path: str | Path) -> tuple[int, str]:
    """(number of entries, head hash) of an intact chain; AuditError naming the first bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
    except FileNotFoundError:
        raise AuditError(f"{path}: no audit log here; pass the audit.file of the box's configuration") from None
    except (OSError, UnicodeDecodeError) as e:
        raise AuditError(f"{path}: cannot read the audit log ({e.__class__.__name__})") from None
    prev = GENESIS
    for n, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            ok_shape = isinstance(entry, dict) and isinstance(entry.get("hash"), str)
        except ValueError:
            ok_shape = False
        if not ok_shape and n == len(lines) and not text.endswith("\n"):
            raise AuditError(f"{path}: line {n} is an incomplete record (a write cut short by a full disk or a "
                             "power cut); the lines before it are intact, and the box's next audit entry cuts it "
                             "off and records that it did")
        if not ok_shape:
            raise AuditError(f"{path}: line {n} is not an audit entry: the log was altered")
        if entry.get("seq") != n:
            raise AuditError(f"{path}: line {n} has sequence number {entry.get('seq')}: lines were removed or reordered")
        if entry.get("prev") != prev:
            raise AuditError(f"{path}: line {n} does not follow line {n - 1}: the chain is broken there")
        if _digest(entry) != entry["hash"]:
            raise AuditError(f"{path}: line {n} does not match its hash: it was altered")
        kept, dropped = content_free({k: v for k, v in entry.items() if k not in ("hash", "prev")})
        if dropped:
            raise AuditError(f"{path}: line {n} holds a field that is not content-free ({', '.join(dropped)})")
        prev = entry["hash"]
    return len(lines), prev
