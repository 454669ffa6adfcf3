"""Core dumps off for every command that holds audio (promise P1).

A core file of a crashed `roomnote process` held fragments of PCM. The systemd unit sets
LimitCORE=0; the commands run by hand (process, enroll, selftest, run) do the same here,
and also clear the dumpable flag, which stops other processes of the same user from
attaching (ptrace) or reading /proc/PID/mem, and systemd-coredump from taking a core.
"""
from __future__ import annotations

import ctypes
import os
import resource

from .errors import RoomnoteError

PR_SET_DUMPABLE, PR_GET_DUMPABLE = 4, 3


def no_core_dumps() -> None:
    """For every command that holds audio (P1), as the systemd unit does with LimitCORE=0:
    no core file, and no ptrace or /proc/PID/mem reading by other processes of the same user."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise RoomnoteError(f"cannot turn core dumps off (prctl: {os.strerror(ctypes.get_errno())}); "
                            "not processing audio without it")
