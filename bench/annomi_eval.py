"""AnnoMI dev sessions for bench/notes.py: load them at run time, compose notes, score them.

Never copies AnnoMI text anywhere: transcripts are read from ../shared/data/annomi-dev.csv
each run; the checklists in tests/data/annomi_checklists.toml hold transcript ids and
keywords only. Figures on this file are development figures (see its README).
"""
from __future__ import annotations

import csv
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from roomnote.notes import SessionFacts, compose_note
from roomnote.notes.generator import unsupported_items
from roomnote.notes.transcript_file import parse_transcript
from roomnote.redact import redact_transcript

REPO = Path(__file__).resolve().parents[1]
CHECKLISTS = REPO / "tests" / "data" / "annomi_checklists.toml"
DATA_CANDIDATES = [REPO.parent / "shared" / "data" / "annomi-dev.csv",
                   REPO.parent.parent / "shared" / "data" / "annomi-dev.csv"]
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
# MI skills of the taxonomy and the AnnoMI therapist behaviour each one claims.
MI_LABELS = {"open questions": {"question"}, "eliciting change talk": {"question"},
             "reflections": {"reflection"}, "summaries": {"reflection"},
             "information with permission": {"therapist_input", "question"},
             # validation ("that must be hard") is AnnoMI's "other"; its reflections are "reflection"
             "reflective listening and validation": {"reflection", "other"}}
CLIENT_KINDS = ("quote", "goal", "response")


def data_path() -> Path | None:
    return next((p for p in DATA_CANDIDATES if p.is_file()), None)


@dataclass
class Session:
    tid: str
    rows: list[dict]

    def transcript_json(self, speakers: str) -> dict:
        """speakers: "labelled" (therapist/client), "voices" (speaker 1/2), "unknown"."""
        segs, t = [], 0.0
        first = self.rows[0]["interlocutor"]
        for i, r in enumerate(self.rows):
            dur = max(1.0, len(r["utterance_text"].split()) / 2.5)
            who = r["interlocutor"]
            sp = {"labelled": who, "unknown": "unknown",
                  "voices": "speaker 1" if who == first else "speaker 2"}[speakers]
            segs.append({"id": f"u{i:04d}", "speaker": sp, "start": round(t, 2), "end": round(t + dur, 2),
                         "text": r["utterance_text"]})
            t += dur + 0.5
        return {"segments": segs}

    def label(self, seg_id: str) -> tuple[str, str]:
        r = self.rows[int(seg_id[1:])]
        return r["interlocutor"], r["main_therapist_behaviour"]


def load_sessions(ids: list[str] | None = None) -> list[Session]:
    path = data_path()
    if path is None:
        return []
    by: dict[str, list[dict]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["utterance_text"].strip():
                by[r["transcript_id"]].append(r)
    for rows in by.values():
        rows.sort(key=lambda r: int(r["utterance_id"]))
    return [Session(t, by[t]) for t in (ids or sorted(by, key=int)) if t in by]


def checklists() -> dict[str, list[dict]]:
    raw = tomllib.loads(CHECKLISTS.read_text(encoding="utf-8"))
    return {s["id"]: s["facts"] for s in raw["session"]}


def compose(session: Session, speakers: str, encoder, fmt: str = "soap"):
    tf = parse_transcript(session.transcript_json(speakers), f"annomi-{session.tid}")
    t = tf.transcript
    rt = redact_transcript(t)
    facts = SessionFacts(f"annomi-{session.tid}", "bench", T0, T0 + timedelta(seconds=t.duration), t.duration,
                         t.speech, "annomi/transcript", None)
    return compose_note(rt, fmt, facts, encoder=encoder), rt


def note_text(note) -> str:
    return "\n".join(it.text for s in note.sections for it in s.items if it.kind != "fact").lower()


def coverage(note, facts: list[dict]) -> tuple[int, list[str]]:
    text = note_text(note)
    missed = [f["what"] for f in facts if not any(k in text for k in f["any"])]
    return len(facts) - len(missed), missed


@dataclass
class Tally:
    covered: int = 0
    expected: int = 0
    unsupported: int = 0
    items: int = 0
    therapist_as_client: int = 0
    client_items: int = 0
    roles_right: int = 0
    roles_assigned: int = 0
    segments: int = 0


def evaluate(sessions: list[Session], lists: dict[str, list[dict]], encoder, speakers: str,
             mi: dict | None = None, misses: list | None = None) -> Tally:
    t = Tally()
    for s in sessions:
        note, rt = compose(s, speakers, encoder)
        if s.tid in lists:
            got, missed = coverage(note, lists[s.tid])
            t.covered += got
            t.expected += len(lists[s.tid])
            if misses is not None and missed:
                misses.append(f"  {s.tid}: missed {'; '.join(missed)}")
        t.unsupported += len(unsupported_items(note, rt))
        t.items += sum(len(x.items) for x in note.sections)
        for it in (it for x in note.sections for it in x.items if it.kind in CLIENT_KINDS):
            t.client_items += 1
            t.therapist_as_client += any(s.label(e.segment_id)[0] == "therapist" for e in it.evidence)
        if mi is not None:
            for it in (it for x in note.sections for it in x.items if it.kind == "intervention"):
                if it.category in MI_LABELS:
                    for e in it.evidence:
                        who, beh = s.label(e.segment_id)
                        ok = who == "therapist" and beh in MI_LABELS[it.category]
                        mi.setdefault(it.category, [0, 0])
                        mi[it.category][0] += ok
                        mi[it.category][1] += 1
                        mi.setdefault(("cited", beh), set()).add((s.tid, e.segment_id))
            for i, r in enumerate(s.rows):
                if r["interlocutor"] == "therapist" and r["main_therapist_behaviour"] in ("question", "reflection"):
                    mi.setdefault(("total", r["main_therapist_behaviour"]), set()).add((s.tid, f"u{i:04d}"))
    return t
