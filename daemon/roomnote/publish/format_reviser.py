"""A small reviser: "rewrite as <format>" re-composes the note in another format.

It stands in the place of notes.revise.revise_note (same signature) where that is not
available; it is a real reviser, grounded like every note: it re-runs the composer on the
session's redacted transcript. The note keeps its id and counts its version up.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

from ..errors import RoomnoteError
from ..notes import FORMATS, Note, compose_note
from ..transcript import RedactedTranscript

_REWRITE = re.compile(r"^\s*(?:rewrite|redo|recompose)\s+(?:it\s+)?as\s+(?:a\s+)?([a-z]+)(?:\s+note)?\s*\.?\s*$", re.I)


class RevisionError(RoomnoteError):
    pass


def rewrite_format(rt: RedactedTranscript, note: Note, instruction: str) -> Note:
    m = _REWRITE.match(instruction)
    if not m or m.group(1).lower() not in FORMATS:
        raise RevisionError(f"this box understands only \"rewrite as <format>\" with a format of "
                            f"{', '.join(FORMATS)}")
    fresh = compose_note(rt, m.group(1).lower(), note.facts, created_at=datetime.now(timezone.utc))
    return dataclasses.replace(fresh, note_id=note.note_id, version=note.version + 1)
