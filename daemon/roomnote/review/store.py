"""The inbox folder as the review page reads it, and the therapist's own versions.

Layout (the inbox writes the first three; this module adds edits/ and local/):
    <note id>.v<N>.json | .md | .txt    every version the box published, never changed here
    devices.json                        note id -> the box that sent it
    receipts/<receipt id>.json          signed deletion receipts (receipts/failed/: signature did not verify)
    edits/<note id>.json                the therapist's own version (text, based on version N)
    local/<note id>.json                the therapist's label for the session and what was asked for
                                        each revision: kept on this workstation only, never sent
Folders are kept 0700 and files 0600 (write_atomic creates them so): notes are health records.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import PublishError
from ..notes.facts import duration_text
from ..notes.formats import FORMAT_TITLES
from ..notes.model import Note
from ..notes.render import from_dict
from ..publish.inbox import FAILED_RECEIPTS, read_devices
from ..publish.keys import load_public_key
from ..publish.messages import verify_receipt
from ..storage import write_atomic
from .security import ReviewError

_VERSION_FILE = re.compile(r"^([0-9a-f]{32})\.v(\d+)\.json$")
NOTE_ID = re.compile(r"[0-9a-f]{32}\Z")  # \Z: "$" would accept an id ending in a newline
_RECEIPT_ID = re.compile(r"[0-9a-f]{8,64}\Z")
_DEVICE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")  # config.py's rule for device ids; becomes a key file name
MAX_EDIT_CHARS = 200_000
MAX_LABEL_CHARS = 60
# receipt action -> the note's status once it is there
_CLOSED = {"finalized": "finalised", "discarded": "discarded", "ttl_expired": "expired",
           "shutdown": "expired", "restart": "expired"}
STATUS_TEXT = {"new": "New", "revised": "Revised", "finalised": "Finalised", "discarded": "Discarded",
               "expired": "Transcript expired", "unverified": "Receipt not verified"}


def make_private(folder: Path) -> None:
    """Create the folder 0700, or tighten an existing one (its files are health records)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_mode & 0o077:
        os.chmod(folder, 0o700)


@dataclass(frozen=True)
class _Index:
    """One look at the folder, for rendering the whole list."""

    versions: dict[str, list[int]]  # note id -> its versions, oldest first
    devices: dict[str, str]  # note id -> the box that sent it (devices.json)
    receipts: dict[str, list[dict]]  # note id -> its receipts, oldest first


@dataclass(frozen=True)
class ReceiptCheck:
    receipt: dict
    state: str  # "verified" | "failed" | "no_key"
    message: str


def first_theme(d: dict) -> str:
    """The note's first theme label ("sleep"): fixed words from the theme lexicon, never session words."""
    for s in d.get("sections", []):
        for it in s.get("items", []):
            if it.get("kind") == "theme":
                return str(it.get("text", "")).removeprefix("Theme:").strip()
    return ""


def status_of(closing: ReceiptCheck | None, latest_version: int) -> str:
    """A note's status from its closing receipt (if any) and its newest version."""
    if closing is not None:
        # only a receipt whose signature verifies is proof of what the box did
        return _CLOSED[closing.receipt["action"]] if closing.state == "verified" else "unverified"
    return "revised" if latest_version > 1 else "new"


class Store:
    def __init__(self, folder: Path, device_keys: Path | None = None):
        self.dir = Path(folder).expanduser()
        self.device_keys = Path(device_keys).expanduser() if device_keys else None
        for d in (self.dir, self.dir / "receipts", self.dir / "edits", self.dir / "local"):
            make_private(d)
        self._cache: dict[Path, dict] = {}  # published versions and receipts never change
        self._lock = threading.Lock()

    # ---- notes ---------------------------------------------------------------------------

    def _json(self, path: Path) -> dict:
        with self._lock:
            hit = self._cache.get(path)
        if hit is None:
            hit = json.loads(path.read_bytes())
            with self._lock:
                self._cache[path] = hit
        return hit

    def versions(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for name in os.listdir(self.dir):
            m = _VERSION_FILE.match(name)
            if m:
                out.setdefault(m.group(1), []).append(int(m.group(2)))
        return {k: sorted(v) for k, v in out.items()}

    def note_versions(self, note_id: str) -> list[int]:
        return self.versions().get(note_id, [])  # [] for anything not a note id too: no path is built from it

    def note_dict(self, note_id: str, version: int | None = None) -> dict:
        versions = self.note_versions(note_id)
        if not versions:
            raise KeyError(note_id)
        v = versions[-1] if version is None else version
        if v not in versions:
            raise KeyError(f"{note_id}.v{v}")
        return self._json(self.dir / f"{note_id}.v{v}.json")

    def note(self, note_id: str, version: int | None = None) -> Note:
        return from_dict(self.note_dict(note_id, version))

    def _devices(self) -> dict[str, str]:
        return read_devices(self.dir)

    def device(self, note_id: str) -> str:
        return self._devices().get(note_id) or self.note_dict(note_id)["session"]["device_id"]

    def _owner(self, note_id: str, devices: dict[str, str]) -> str | None:
        """The box a note belongs to (the one whose topic it arrived on); None if we have no such note."""
        try:
            return devices.get(note_id) or str(self.note_dict(note_id)["session"]["device_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def status(self, note_id: str, latest_version: int) -> str:
        return status_of(self.closing_receipt(note_id), latest_version)

    def _index(self) -> _Index:
        return _Index(self.versions(), self._devices(), self._receipts_by_note())

    def row(self, note_id: str, office: str, index: _Index | None = None) -> dict:
        """What the list shows of one note (its newest version); no note text."""
        ix = index or self._index()
        versions = ix.versions.get(note_id)
        if not versions:
            raise KeyError(note_id)
        d = self._json(self.dir / f"{note_id}.v{versions[-1]}.json")
        s = d["session"]
        start = datetime.fromisoformat(s["started_at"]).astimezone()  # the workstation's time zone
        end = datetime.fromisoformat(s["ended_at"]).astimezone()
        status = status_of(self._closing(ix.receipts.get(note_id, [])), d["version"])
        return {"note_id": note_id, "version": d["version"], "format": d["format"],
                "format_title": FORMAT_TITLES.get(d["format"], d["format"].upper()),
                "started_at": s["started_at"], "date": start.date().isoformat(),
                "time": f"{start:%H:%M}\u2013{end:%H:%M}", "duration_min": s.get("duration_min"),
                "office": office, "device": ix.devices.get(note_id) or s["device_id"], "status": status,
                "status_text": STATUS_TEXT[status], "risk": bool(d.get("risk_flags")),
                "edited": (self.dir / "edits" / f"{note_id}.json").exists(),
                # what tells four sessions of one morning apart: length, first theme, the therapist's label
                "duration": duration_text(float(s.get("duration_s") or 0)), "theme": first_theme(d),
                "label": self.local(note_id).get("label", "")}

    def rows(self, office: str) -> list[dict]:
        ix = self._index()  # the folder is listed once per render, not once per note
        rows = []
        for note_id in ix.versions:
            try:
                rows.append(self.row(note_id, office, ix))
            except (OSError, ValueError, KeyError):
                continue  # a damaged file is skipped, not fatal; the inbox logged it
        return sorted(rows, key=lambda r: r["started_at"], reverse=True)

    # ---- receipts ------------------------------------------------------------------------

    def _receipts_by_note(self) -> dict[str, list[dict]]:
        """note id -> its receipts, oldest first."""
        out: dict[str, list[dict]] = {}
        for p in sorted([*(self.dir / "receipts").glob("*.json"), *(self.dir / FAILED_RECEIPTS).glob("*.json")]):
            try:
                d = self._json(p)
            except (OSError, ValueError):
                continue
            if isinstance(d, dict) and isinstance(d.get("note_id"), str):
                out.setdefault(d["note_id"], []).append(d)
        for found in out.values():
            found.sort(key=lambda d: str(d.get("destroyed_at", "")))
        return out

    def receipts(self, note_id: str) -> list[dict]:
        return self._receipts_by_note().get(note_id, [])

    def check_receipt(self, receipt_id: str) -> ReceiptCheck | None:
        if not _RECEIPT_ID.match(receipt_id):
            return None
        path = self.dir / "receipts" / f"{receipt_id}.json"
        if not path.exists():
            path = self.dir / FAILED_RECEIPTS / f"{receipt_id}.json"  # the inbox's signature check failed
        if not path.exists():
            return None
        data = path.read_bytes()
        d = json.loads(data)
        device = str(d.get("device_id", ""))
        # bound to the box that owns the note: another box's valid signature proves nothing about it
        owner = self._owner(str(d.get("note_id", "")), self._devices())
        if (owner is not None and device != owner) or not _DEVICE.match(device):
            return ReceiptCheck(d, "failed", f"This receipt names {device[:64]!r}, but the note came from "
                                f"{owner!r}: it proves nothing about this note.")
        key = self.device_keys / f"{device}.pub.pem" if self.device_keys else None
        if key is None or not key.is_file():
            where = f"{self.device_keys}/{device}.pub.pem" if self.device_keys else "review.device_keys"
            return ReceiptCheck(d, "no_key", f"No public key for device {device} ({where}); the signature was "
                                "not checked. Ask IT for the box's key (roomnote keys init prints where it is).")
        try:
            verify_receipt(data, load_public_key(key, "device public key"))
        except PublishError as e:
            return ReceiptCheck(d, "failed", f"The signature does NOT verify with {device}'s key: {e}")
        return ReceiptCheck(d, "verified", f"Signature verified with {device}'s key ({d.get('key_id', '')}).")

    def closing_receipt(self, note_id: str) -> ReceiptCheck | None:
        return self._closing(self.receipts(note_id))

    def _closing(self, receipts: list[dict]) -> ReceiptCheck | None:
        closed = [r for r in receipts if r.get("action") in _CLOSED]
        return self.check_receipt(closed[-1]["receipt_id"]) if closed else None

    # ---- the therapist's own version -----------------------------------------------------

    def edit(self, note_id: str) -> dict | None:
        self._check_id(note_id)
        path = self.dir / "edits" / f"{note_id}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def save_edit(self, note_id: str, text: str, based_on: int) -> dict:
        self._check_id(note_id)
        if based_on not in self.note_versions(note_id):
            raise ReviewError(f"note {note_id} has no version {based_on}; reload the page")
        if not isinstance(text, str) or not text.strip():
            raise ReviewError("your version is empty; write the note text, or leave the box's version as it is")
        if len(text) > MAX_EDIT_CHARS:
            raise ReviewError(f"your version is over {MAX_EDIT_CHARS} characters; shorten it")
        d = {"note_id": note_id, "based_on_version": based_on, "text": text,
             "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        write_atomic(self.dir / "edits" / f"{note_id}.json", json.dumps(d, ensure_ascii=False).encode())
        return d

    # ---- kept on this workstation only: the session's label, what each revision asked ------

    def local(self, note_id: str) -> dict:
        self._check_id(note_id)
        path = self.dir / "local" / f"{note_id}.json"
        try:
            d = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError):
            return {}
        return d if isinstance(d, dict) else {}

    def _save_local(self, note_id: str, **changes) -> dict:
        with self._lock:
            d = {**self.local(note_id), **changes}
            write_atomic(self.dir / "local" / f"{note_id}.json", json.dumps(d, ensure_ascii=False).encode())
        return d

    def save_label(self, note_id: str, label) -> str:
        self._check_id(note_id)
        if not self.note_versions(note_id):
            raise KeyError(note_id)
        if not isinstance(label, str):
            raise ReviewError("the label must be text")
        label = " ".join(label.split())
        if len(label) > MAX_LABEL_CHARS or not label.isprintable():
            raise ReviewError(f"a label is at most {MAX_LABEL_CHARS} printable characters, e.g. \"couple, 10:00\"")
        self._save_local(note_id, label=label)
        return label

    def save_request(self, note_id: str, version: int, instruction: str) -> None:
        """What the therapist asked for, by the version it produced (the box keeps no instruction)."""
        asked = {**self.local(note_id).get("asked", {}), str(version): instruction[:1000]}
        self._save_local(note_id, asked=asked)

    @staticmethod
    def _check_id(note_id: str) -> None:
        if not NOTE_ID.match(note_id):
            raise KeyError(note_id)
