"""What may leave the box: a RedactedNote, a signed Receipt, and content-free events (P2).

A RedactedNote can only exist for a payload that passed the egress check: the check runs
when one is made, again when the outbox reads it back, and again right before it is sent.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import PublishError
from ..notes import Note, to_dict
from ..notes.render import SCHEMA as NOTE_SCHEMA
from ..redact.egress import check_egress
from .keys import canonical_json, key_id, sign, verify

RECEIPT_SCHEMA = "roomnote.receipt/1"
EVENT_SCHEMA = "roomnote.event/1"
_HEX_ID = re.compile(r"[0-9a-f]{8,64}\Z")  # \Z: "$" would accept a trailing newline


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class RedactedNote:
    """One version of a finished, redacted note, as the bytes that are published."""

    payload: bytes
    note_id: str = field(init=False)
    version: int = field(init=False)
    session_id: str = field(init=False)

    def __post_init__(self):
        try:
            d = json.loads(self.payload)
        except (ValueError, UnicodeDecodeError):
            raise PublishError("a note payload is not valid JSON; it was not queued") from None
        if not isinstance(d, dict) or d.get("schema") != NOTE_SCHEMA:
            raise PublishError(f"a note payload is not a {NOTE_SCHEMA} note; it was not queued")
        note_id, version = d.get("note_id"), d.get("version")
        if not (isinstance(note_id, str) and _HEX_ID.match(note_id)) or not isinstance(version, int) or version < 1:
            raise PublishError("a note payload has no valid note_id and version; it was not queued")
        check_egress(d)  # P2: raises EgressError (kinds and counts only) on any identifier
        object.__setattr__(self, "note_id", note_id)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "session_id", str(d.get("session", {}).get("session_id", "")))

    @classmethod
    def from_note(cls, note: Note) -> "RedactedNote":
        return cls(json.dumps(to_dict(note), ensure_ascii=False).encode("utf-8"))

    @property
    def message_id(self) -> str:
        return f"{self.note_id}.v{self.version}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    kind = "notes"


@dataclass(frozen=True)
class Receipt:
    """A signed statement that a session's transcript and key were destroyed."""

    payload: bytes
    receipt_id: str = field(init=False)

    def __post_init__(self):
        d = json.loads(self.payload)
        if not isinstance(d, dict) or d.get("schema") != RECEIPT_SCHEMA or "signature" not in d:
            raise PublishError("not a signed roomnote receipt")
        if not (isinstance(d.get("receipt_id"), str) and _HEX_ID.match(d["receipt_id"])):
            raise PublishError("a receipt's receipt_id is not a hex id")  # it becomes an outbox file name
        check_egress(d)
        object.__setattr__(self, "receipt_id", d["receipt_id"])

    @property
    def message_id(self) -> str:
        return f"receipt.{self.receipt_id}"

    kind = "receipts"


def make_receipt(key: Ed25519PrivateKey, *, office: str, device: str, note_id: str, note_version: int,
                 note_sha256: str, session_id: str, action: str, destroyed: list[str],
                 destroyed_at: str | None = None) -> Receipt:
    """action: finalized | ttl_expired | discarded | restart | shutdown."""
    body = {
        "schema": RECEIPT_SCHEMA,
        "receipt_id": uuid.uuid4().hex,
        "office": office,
        "device_id": device,
        "session_id": session_id,
        "note_id": note_id,
        "note_version": note_version,
        "note_sha256": note_sha256,
        "action": action,
        "destroyed": list(destroyed),
        "destroyed_at": destroyed_at or utc_now(),
        "key_id": key_id(key.public_key()),
    }
    body["signature"] = {"alg": "Ed25519", "value": sign(key, canonical_json(body))}
    return Receipt(json.dumps(body, ensure_ascii=False).encode("utf-8"))


def verify_receipt(data: bytes, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The receipt's fields when its signature is good; PublishError saying why otherwise."""
    try:
        d = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise PublishError("the receipt is not valid JSON; it may be truncated or altered") from None
    if not isinstance(d, dict) or d.get("schema") != RECEIPT_SCHEMA:
        raise PublishError(f"not a {RECEIPT_SCHEMA} receipt")
    sig = d.pop("signature", None)
    if not isinstance(sig, dict) or sig.get("alg") != "Ed25519" or not isinstance(sig.get("value"), str):
        raise PublishError("the receipt carries no Ed25519 signature")
    if d.get("key_id") != key_id(public_key):
        raise PublishError(f"the receipt was signed by key {d.get('key_id')}, not by the given key "
                           f"{key_id(public_key)}; check that you passed this device's public key")
    if not verify(public_key, sig["value"], canonical_json(d)):
        raise PublishError("the receipt's signature does not match its content: it was altered or not made by this device")
    return d
