"""The scripted risk exchanges of tests/data/risk_exchanges.toml as redacted transcripts, and how
a session's risk lines are scored (tests/test_risk.py and bench/risk.py)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from roomnote.notes.risk import CLIENT_STANCES, RiskLine
from roomnote.transcript import RedactedSegment, RedactedTranscript, RedactionReport

EXCHANGES_FILE = Path(__file__).parent / "data" / "risk_exchanges.toml"
ROLES = {"T": "therapist", "C": "client", "O": "other", "U": "unknown", "S1": "speaker 1", "S2": "speaker 2"}
WORDS_PER_S = 2.5


@dataclass
class Exchange:
    id: str
    form: str
    turns: list[tuple[str, str]]  # (speaker label, text)
    risk: list[str]
    flags: list[str]
    line: str = ""
    summary: str = ""
    client_disclosure: list[str] = field(default_factory=list)
    failure: str = ""

    def segments(self, labelled: bool = True) -> list[RedactedSegment]:
        return segments_of(self.turns, labelled)

    def transcript(self, labelled: bool = True) -> RedactedTranscript:
        segs = self.segments(labelled)
        speech = sum(s.end - s.start for s in segs)
        return RedactedTranscript(segs, RedactionReport({}), segs[-1].end + 1.0, speech, "script/test")


def segments_of(turns: list[tuple[str, str]], labelled: bool = True, t0: float = 2.0,
                gap: float = 1.0) -> list[RedactedSegment]:
    """Segments timed as speech at 2.5 words per second; labelled=False: every speaker unknown."""
    segs, t = [], t0
    for i, (who, text) in enumerate(turns):
        dur = round(max(1.0, len(text.split()) / WORDS_PER_S), 2)
        segs.append(RedactedSegment(f"s{i + 1:04d}", round(t, 2), round(t + dur, 2), text,
                                    who if labelled else "unknown"))
        t += dur + gap
    return segs


def load_exchanges(path: Path = EXCHANGES_FILE) -> list[Exchange]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for e in raw["exchange"]:
        turns = []
        for t in e["turns"]:
            who, _, text = t.partition(": ")
            turns.append((ROLES[who], text))
        out.append(Exchange(e["id"], e["form"], turns, e["risk"], e["flags"], e.get("line", ""),
                            e.get("summary", ""), e.get("client_disclosure", []), e.get("failure", "")))
    return out


def stance_from_therapist(lines: list[RiskLine], true_roles: dict[str, str]) -> int:
    """Lines that give a stance of the client's own (disclosure, denial, past) whose own words
    (evidence other than the question shown as context) were a therapist's: target 0."""
    return sum(1 for ln in lines if ln.stance in CLIENT_STANCES
               and any(true_roles.get(e.segment_id) == "therapist" for e in ln.evidence if e.basis != "context"))
