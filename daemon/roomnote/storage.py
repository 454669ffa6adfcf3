"""Atomic file writes: a reader never sees half a file, and a file that was written survives
a power cut (notes, outbox entries, sealed transcripts, the voice profile, inbox files)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, *, durable: bool = True) -> None:
    """Write data to a temporary file beside path (mode 0600), then rename it over path.

    durable: fsync the file before the rename and the directory after it, so the new file
    survives a power cut; False only for files that are useless after a crash anyway.
    Raises OSError (the temporary file is removed); callers turn it into their own message.
    """
    blob = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in this directory durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
