"""systemd's notify protocol (READY, STATUS, WATCHDOG, STOPPING) and journal logging.

Through systemd-python when it is installed; otherwise notify messages are written to
$NOTIFY_SOCKET directly (one datagram each, as sd_notify does) and logs go to stderr.
Outside systemd (no $NOTIFY_SOCKET) notifying does nothing.
"""
from __future__ import annotations

import logging
import os
import socket
import sys


class Notifier:
    def __init__(self, use_libsystemd: bool = True):
        self.socket_path = os.environ.get("NOTIFY_SOCKET", "")
        self.sd = None
        if use_libsystemd:
            try:
                from systemd import daemon

                self.sd = daemon
            except ImportError:
                pass

    def notify(self, *fields: str) -> None:
        if not self.socket_path:
            return
        message = "\n".join(fields)
        if self.sd is not None:
            self.sd.notify(message)
            return
        addr = self.socket_path
        if addr.startswith("@"):
            addr = "\0" + addr[1:]  # abstract namespace
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            try:
                s.sendto(message.encode(), addr)
            except OSError:
                pass  # the manager went away; nothing to tell

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.notify(f"STATUS={status}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self, status: str) -> None:
        self.notify("STOPPING=1", f"STATUS={status}")


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None when not asked for."""
    usec, pid = os.environ.get("WATCHDOG_USEC", ""), os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1e6 / 2


class FieldFormatter(logging.Formatter):
    """stderr lines with the structured fields a journal entry would carry: `message [KEY=value ...]`."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [f"{k}={v}" for k, v in record.__dict__.items() if k.isupper()]
        return f"{text} [{' '.join(fields)}]" if fields else text


def setup_logging(level: int = logging.INFO) -> str:
    """Log to the journal when systemd connected us to it (JOURNAL_STREAM), else to stderr.

    Returns "journal" or "stderr". Structured fields (STATE, SESSION_ID, DURATION_S, ...) come
    from the `extra` of each log call; they hold ids, states, counts and durations, never words.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(level)
    if os.environ.get("JOURNAL_STREAM"):
        try:
            from systemd.journal import JournalHandler

            root.addHandler(JournalHandler(SYSLOG_IDENTIFIER="roomnote"))
            return "journal"
        except ImportError:
            pass
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldFormatter("roomnote: %(message)s"))
    root.addHandler(handler)
    return "stderr"
