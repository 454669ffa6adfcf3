"""The egress check of promise P2: every outgoing payload is re-scanned before it is sent.

Only text that came from the session (the note's items) can carry PHI; the structured facts
the box writes itself (ids, times, codes, counts) are not scanned, so the date of service in
the session block does not trip the check. Item text is always scanned, also of the box's own
"fact" items (facts.py keeps the date of service out of them). A hit refuses the send.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from ..errors import RoomnoteError
from .redactor import count_kinds, detect

# Keys of a payload whose string values come from the box, not from the session's words.
# An evidence cue is a phrase of the (redacted) transcript, so it is scanned like the items.
BOX_FIELDS = frozenset({
    # notes (roomnote.note/2)
    "schema", "note_id", "version", "format", "format_title", "created_at", "session",
    "risk_flags", "redaction_counts", "topic_counts", "key", "kind", "category", "segment_id",
    "basis", "speakers_identified", "no_speech", "title", "composer", "revisions",
    # deletion receipts (roomnote.receipt/1): ids, hashes, times, a signature
    "receipt_id", "office", "device_id", "session_id", "note_version", "note_sha256", "action",
    "destroyed", "destroyed_at", "key_id", "signature",
    # heartbeats (status): the audit log's newest hash, hex that reads like a letter-digit code
    "audit_head",
})


class EgressError(RoomnoteError):
    """A payload still holds PHI. The message names the kinds and counts, never the values."""

    def __init__(self, counts: dict[str, int]):
        self.counts = dict(counts)
        kinds = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
        super().__init__(f"egress check refused a payload that still holds identifiers ({kinds}); "
                         "nothing was sent")


def session_texts(payload: Any) -> Iterable[str]:
    """Every string in payload except the values of BOX_FIELDS."""
    if isinstance(payload, str):
        yield payload
    elif isinstance(payload, dict):
        for key, value in payload.items():
            if key not in BOX_FIELDS:
                yield from session_texts(value)
    elif isinstance(payload, (list, tuple)):
        for value in payload:
            yield from session_texts(value)


def scan_payload(payload: Any) -> dict[str, int]:
    """Counts per PHI kind found in the session text of payload (empty when clean)."""
    counts: Counter[str] = Counter()
    for text in session_texts(payload):
        counts.update(count_kinds(detect(text.split())))
    return dict(counts)


def check_egress(payload: Any) -> None:
    """Raise EgressError when payload (a note dict, or text) still holds PHI."""
    counts = scan_payload(payload)
    if counts:
        raise EgressError(counts)
