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


class PartialWriteError(OSError):
    """write_all_or_nothing failed on `path`; none of the files were left behind."""

    def __init__(self, path: Path, cause: OSError):
        super().__init__(cause.errno, cause.strerror)
        self.path = path


def write_all_or_nothing(files: dict[Path, bytes | str]) -> None:
    """Write several files so that either all of them exist afterwards or none do.

    Each is written to a temporary file beside it and fsynced first (a full disk fails
    here, before any file appears); only then are they renamed into place, and a rename that
    fails removes the ones already renamed. Meant for new names (a note's files are named by
    its unique id): a file that already existed under one of the names is replaced.
    Raises PartialWriteError naming the file that failed.
    """
    temps: list[tuple[str, Path]] = []
    done: list[Path] = []
    try:
        for path, data in files.items():
            blob = data.encode("utf-8") if isinstance(data, str) else data
            try:
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
                temps.append((tmp, path))
                with os.fdopen(fd, "wb") as f:
                    f.write(blob)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                raise PartialWriteError(path, e) from None
        for tmp, path in temps:
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise PartialWriteError(path, e) from None
            done.append(path)
        for parent in {p.parent for p in files}:
            fsync_dir(parent)
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        for path in done:
            path.unlink(missing_ok=True)
        raise
