"""Where the appliance hands finished notes and content-free events by default.

`NoteDirectory` writes each redacted note as `<note_id>.json` and `<note_id>.md` (the same
files `roomnote process` writes), atomically, into a directory of the state directory.
`log_event` writes events to the log. The publishing side replaces both (an encrypted
outbox and MQTT status events) through the same two interfaces.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from .errors import RoomnoteError
from .notes import Note, to_dict, to_markdown
from .transcript import RedactedTranscript

log = logging.getLogger("roomnote.events")


class SinkError(RoomnoteError):
    pass


class NoteDirectory:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def put(self, note: Note, rt: RedactedTranscript) -> None:
        """Store the note; the redacted transcript is not kept here (revisions need an outbox)."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            markdown = to_markdown(note)
            write_atomic(self.path / f"{note.note_id}.json",
                         json.dumps(to_dict(note), indent=2, ensure_ascii=False) + "\n")
            write_atomic(self.path / f"{note.note_id}.md", markdown + "\n")
        except OSError as e:
            raise SinkError(f"{self.path}: cannot write note {note.note_id} ({e.strerror}); "
                            "free some space or fix the state directory's permissions") from None


def write_atomic(path: Path, text: str) -> None:
    """Write, fsync, rename, fsync the directory: a reader never sees half a note, and a
    note that was written survives a power cut."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def log_event(event: dict) -> None:
    """The default event sink: one log line with the event's fields (all content-free).
    State changes are logged by the appliance already, so their events only at debug level."""
    level = logging.DEBUG if event.get("event") == "state" else logging.INFO
    log.log(level, "event %s", event.get("event", "?"),
            extra={k.upper(): v for k, v in event.items() if k != "event"} | {"EVENT": event.get("event")})
