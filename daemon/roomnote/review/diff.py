"""What changed between two versions of a note, word by word (difflib), for highlighting.

Items are matched across the whole note, not per section, so a format switch (items moving
from Subjective to Data) shows as no change in wording. An item whose text is new is matched
to the most similar unmatched item of the previous version; if they are alike enough the
words inserted and deleted are marked, otherwise the whole item is new. Items of the previous
version left unmatched are listed as removed.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..notes.model import Item, Note
from ..notes.render import _lead_in

SIMILAR = 0.5  # SequenceMatcher ratio over words for "the same item, reworded"
PLACEHOLDER_KINDS = frozenset({"empty", "no_speech"})  # "Nothing in the transcript for this section." and the like


@dataclass
class ItemChange:
    kind: str  # "same" | "new" | "changed"
    parts: list[tuple[str, str]] = field(default_factory=list)  # (op, text): op is eq | ins | del


@dataclass
class NoteChanges:
    base_version: int
    items: dict[tuple[int, int], ItemChange]  # (section index, item index) of the new note
    removed: list[str]
    format_from: str | None  # the previous format when it changed

    @property
    def counts(self) -> dict[str, int]:
        kinds = [c.kind for c in self.items.values()]
        return {"new": kinds.count("new"), "changed": kinds.count("changed"), "removed": len(self.removed)}


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    a, b = old.split(), new.split()
    parts: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(("eq", " ".join(b[j1:j2])))
            continue
        if op in ("delete", "replace"):
            parts.append(("del", " ".join(a[i1:i2])))
        if op in ("insert", "replace"):
            parts.append(("ins", " ".join(b[j1:j2])))
    return parts


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False).ratio()


def note_changes(old: Note, new: Note) -> NoteChanges:
    old_items: list[str] = [_lead_in(it) for s in old.sections for it in s.items if it.kind not in PLACEHOLDER_KINDS]
    used = [False] * len(old_items)
    changes: dict[tuple[int, int], ItemChange] = {}
    pending: list[tuple[tuple[int, int], str]] = []
    for si, s in enumerate(new.sections):
        for ii, it in enumerate(s.items):
            text = _lead_in(it)
            if it.kind in PLACEHOLDER_KINDS:  # "Nothing in the transcript for this section." is no change
                changes[(si, ii)] = ItemChange("same", [("eq", text)])
                continue
            for k, o in enumerate(old_items):
                if not used[k] and o == text:
                    used[k] = True
                    changes[(si, ii)] = ItemChange("same", [("eq", text)])
                    break
            else:
                pending.append(((si, ii), text))
    for pos, text in pending:  # reworded or new: the most similar old item left over
        best, best_k = 0.0, -1
        for k, o in enumerate(old_items):
            if not used[k]:
                r = _ratio(o, text)
                if r > best:
                    best, best_k = r, k
        if best >= SIMILAR:
            used[best_k] = True
            changes[pos] = ItemChange("changed", word_diff(old_items[best_k], text))
        else:
            changes[pos] = ItemChange("new", [("ins", text)])
    removed = [o for k, o in enumerate(old_items) if not used[k]]
    return NoteChanges(old.version, changes, removed, old.format if old.format != new.format else None)


def item_text(it: Item) -> str:
    return _lead_in(it)
