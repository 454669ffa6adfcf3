"""The scripted sessions of tests/data/sessions as redacted transcripts, and how a note is
scored against what each session says a good note must contain (tests and bench/notes.py)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from roomnote.notes import Note, SessionFacts
from roomnote.notes.model import RISK_NOT_ASSESSED
from roomnote.notes.roles import INFERRED
from roomnote.transcript import RedactedSegment, RedactedTranscript, RedactionReport

SESSIONS_DIR = Path(__file__).parent / "data" / "sessions"
# Written after the lexicons and encoder examples were frozen, and never tuned on: the bench's
# out-of-sample figures. Tests do not hold them to the targets.
HELDOUT_DIR = Path(__file__).parent / "data" / "heldout"
T0 = datetime(2025, 5, 6, 10, 0, tzinfo=timezone.utc)
WORDS_PER_S = 2.5
SPEAKERS = {"T": "therapist", "C": "client"}
# CPT psychotherapy time codes as the issue states them, kept apart from facts.py on purpose.
CPT_RULES = ((16, 37, "90832"), (38, 52, "90834"), (53, 10_000, "90837"))


@dataclass
class Scripted:
    name: str
    title: str
    modality: str
    problem: str
    minutes: int
    turns: list[tuple[str, str]]
    expect: dict = field(default_factory=dict)

    def transcript(self, speakers: bool = True, repeat: int = 1, gap: float = 1.0) -> RedactedTranscript:
        segs, t = [], 2.0
        for i, (who, text) in enumerate(self.turns * repeat):
            dur = round(max(1.0, len(text.split()) / WORDS_PER_S), 2)
            segs.append(RedactedSegment(f"s{i + 1:04d}", round(t, 2), round(t + dur, 2), text,
                                        who if speakers else "unknown"))
            t += dur + gap
        speech = sum(s.end - s.start for s in segs)
        return RedactedTranscript(segs, RedactionReport({}), t, speech, "script/test")

    def facts(self, minutes: int | None = None) -> SessionFacts:
        m = self.minutes if minutes is None else minutes
        return SessionFacts(session_id=f"script-{self.name}", device_id="box-test", started_at=T0,
                            ended_at=T0 + timedelta(minutes=m), duration_s=m * 60.0,
                            speech_s=m * 40.0, engine="script/test",
                            consent="verbal consent given at start, recorded by the device")

    @property
    def expected_cpt(self) -> str | None:
        return next((c for lo, hi, c in CPT_RULES if lo <= self.minutes <= hi), None)


def load(path: Path) -> Scripted:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    turns = []
    for line in raw["turns"]:
        who, _, text = line.partition(": ")
        turns.append((SPEAKERS[who], text))
    return Scripted(path.stem, raw["title"], raw["modality"], raw["problem"], raw["minutes"],
                    turns, raw.get("expect", {}))


def all_sessions() -> list[Scripted]:
    return [load(p) for p in sorted(SESSIONS_DIR.glob("*.toml"))]


def heldout_sessions() -> list[Scripted]:
    return [load(p) for p in sorted(HELDOUT_DIR.glob("*.toml"))]


def _items(note: Note):
    return [it for s in note.sections for it in s.items]


@dataclass
class Score:
    expected: int = 0
    found: int = 0
    missing: list[str] = field(default_factory=list)
    risk_expected: int = 0
    risk_found: int = 0
    invented_denials: int = 0
    not_assessed_ok: bool = True


def score(note: Note, s: Scripted) -> Score:
    """Coverage of the session's expected facts, and the risk rules."""
    items = _items(note)
    text = "\n".join(it.text for it in items)
    plan_text = "\n".join(it.text for it in items if it.kind == "plan" or it.category == "detail")
    categories = {it.category for it in items}
    checks = ([(f"theme {t}", t in categories) for t in s.expect.get("themes", [])]
              + [(f"intervention {i}", i in categories) for i in s.expect.get("interventions", [])]
              + [(f"quote {q}", q in text) for q in s.expect.get("quotes", [])]
              + [(f"plan {p}", p in plan_text) for p in s.expect.get("plan", [])]
              + [("cpt", note.cpt_code == s.expected_cpt)])
    risk = s.expect.get("risk", [])
    # a bare "no" is a denial only when we know who said it: voices named by an enrolled
    # profile, not roles inferred from the talk (risk.py reads the recorded labels only)
    if not note.speakers_identified or note.speaker_roles == INFERRED:
        risk = s.expect.get("risk_unlabelled", risk)
    risk_checks = [(f"risk {r}", r in categories) for r in risk]
    sc = Score(expected=len(checks) + len(risk_checks),
               found=sum(ok for _, ok in checks + risk_checks),
               missing=[n for n, ok in checks + risk_checks if not ok],
               risk_expected=len(risk), risk_found=sum(ok for _, ok in risk_checks))
    sc.invented_denials = sum(1 for it in items if it.kind == "risk" and it.category.endswith(":denial")
                              and it.category not in risk)
    if not risk:
        kinds = [it.kind for it in items if it.kind in ("risk", "risk_not_assessed")]
        sc.not_assessed_ok = kinds == ["risk_not_assessed"] and RISK_NOT_ASSESSED in text
    return sc
