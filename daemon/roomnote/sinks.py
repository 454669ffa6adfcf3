"""Where the appliance hands finished notes and content-free events by default.

`NoteDirectory` writes each redacted note as `<note_id>.json` and `<note_id>.md` (the same
files `roomnote process` writes), atomically, into a directory of the state directory.
`log_event` writes events to the log. The publishing side replaces both (an encrypted
outbox and MQTT status events) through the same two interfaces.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from .errors import RoomnoteError
from .notes import Note, to_dict, to_markdown
from .storage import write_atomic
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


def log_event(event: dict) -> None:
    """The default event sink: one log line with the event's fields (all content-free).
    State changes are logged by the appliance already, so their events only at debug level."""
    level = logging.DEBUG if event.get("event") == "state" else logging.INFO
    log.log(level, "event %s", event.get("event", "?"),
            extra={k.upper(): v for k, v in event.items() if k != "event"} | {"EVENT": event.get("event")})
