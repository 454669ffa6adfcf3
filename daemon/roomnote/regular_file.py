"""Open an input file once, as a regular file, and use that descriptor from then on.

Checking a path and then opening it again lets the file change in between; opening a FIFO
blocks until someone writes to it; a device can be endless. So inputs (WAV files, configs,
manifests, model files) are opened here with O_NONBLOCK, checked with fstat on the open
descriptor, and everything after that reads the descriptor, never the path.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFile(OSError):
    """The path names a FIFO, device, socket or directory, not a regular file."""


def kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | Path) -> int:
    """A read-only descriptor of a regular file (blocking mode), or NotRegularFile / OSError.

    O_NONBLOCK makes opening a FIFO with no writer return at once instead of hanging; it is
    cleared again for the regular file, where it has no effect anyway.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"{path}: {kind_of(st.st_mode)}")
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, max_bytes: int = 16 << 20) -> bytes:
    """The whole content of a small regular file (configs, manifests); OSError beyond max_bytes."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(f"{path}: larger than {max_bytes >> 20} MiB")
    return data
