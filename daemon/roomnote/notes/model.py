"""The clinical note as data: sections of items, each item tied to its evidence.

Plain dataclasses so composing, revising and rendering are pure functions, and so a note
can be checked mechanically: every claim points at the transcript stretch it came from.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

# Items that state an absence or come from session metadata have no transcript evidence;
# every other kind must carry at least one Evidence.
EVIDENCE_FREE_KINDS = frozenset({"fact", "empty", "no_speech", "risk_not_assessed"})
# kind "assessment" (composer._assessment): presenting concern, change/sustain balance,
# readiness and progress as the client put them; cites its evidence like every other kind.

EMPTY_SECTION = "Nothing in the transcript for this section."
NO_SPEECH = "No speech was captured in this recording."
RISK_NOT_ASSESSED = "Risk not assessed in this session."


@dataclass(frozen=True)
class Evidence:
    """Where an item comes from: a segment and the stretch of it, in seconds from the start.

    Segments carry no word times after redaction, so when an item quotes part of a long
    segment, start/end are estimated by word position inside the segment's time range.
    `cue` is the phrase, verbatim from the segment, that earned the item its label.
    `basis` says how the stretch was judged: "cue" (a lexicon phrase, or the quote itself),
    "encoder" (sentence-encoder similarity `score` to the label's examples, semantic.py),
    "revision" (found for a revision instruction, revise.py) or "context" (the utterance
    right after a risk screening question).
    """

    segment_id: str
    start: float
    end: float
    cue: str | None = None
    basis: str = "cue"
    score: float | None = None


@dataclass
class Item:
    """One line of a note.

    kind: "quote" (client words, verbatim), "goal", "plan", "response" (verbatim quotes),
    "intervention" and "theme" (fixed labels from lexicons.py), "risk" (label plus
    verbatim quote), "fact" (session metadata), and the evidence-free absence kinds
    "empty", "no_speech", "risk_not_assessed".
    category: the machine-readable label behind the item (e.g. "psychoeducation",
    "suicidal_ideation:disclosure"), for later mapping to codes.
    """

    text: str
    evidence: list[Evidence]
    kind: str
    category: str = ""

    @property
    def needs_evidence(self) -> bool:
        return self.kind not in EVIDENCE_FREE_KINDS


@dataclass
class Section:
    key: str
    title: str
    items: list[Item]


@dataclass(frozen=True)
class SessionFacts:
    """What the device itself knows about the session, independent of what was said."""

    session_id: str
    device_id: str
    started_at: datetime
    ended_at: datetime
    duration_s: float  # button press to button press
    speech_s: float  # time the VAD judged to be speech
    engine: str  # recogniser, e.g. "vosk/vosk-model-small-en-us-0.15"
    consent: str | None  # the consent record as captured at start, None if not recorded
    modality: str = "in person"  # the box sits in the office


@dataclass(frozen=True)
class Revision:
    """One revision of a note: its version, what kind of instruction, when.

    The instruction's words are not kept: they may name the client ("remove the part
    about [NAME]") and the note leaves the box.
    """

    version: int
    kind: str  # "detail" | "shorter" | "remove" | "reformat"
    created_at: datetime


@dataclass
class Note:
    note_id: str
    version: int  # 1 when composed; revisions count up under the same note_id
    format: str  # a key of formats.FORMATS
    created_at: datetime
    facts: SessionFacts
    sections: list[Section]
    redaction_counts: dict[str, int]
    no_speech: bool
    cpt_code: str | None = None  # suggested psychotherapy time code, see facts.cpt_code
    speakers_identified: bool = False  # False: quotes are not attributed to anyone
    risk_flags: list[str] = field(default_factory=list)  # risk categories raised, for triage
    encoder: str | None = None  # sentence encoder used, None when cue lexicons alone placed items
    generator: str = "extractive"  # who wrote the items' text (generator.py)
    revisions: list["Revision"] = field(default_factory=list)  # how versions 2.. came about
    # passages per sensitive topic (RedactionReport.topics), whatever the office's action
    topic_counts: dict[str, int] = field(default_factory=dict)  # generalized or kept passages
    removed_passages: int = 0  # dropped by office policy; their topics are not named
    # How roles were assigned: "enrolled voice", "inferred from the talk" (roles.py), "" none.
    speaker_roles: str = ""
    classifier: str | None = None  # utterance classifier used (classify.py), None without encoder

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(f"{self.format} note has no section {key!r}")


_NOTE_NAMESPACE = uuid.UUID("5b0c7d4e-2f7a-4c61-9a53-7d1e3f0c6a10")


def note_id_for(session_id: str, fmt: str) -> str:
    """A stable id: the same session in the same format is always the same note.

    Derived (uuid5) rather than random so re-composing after a restart or a revision keeps
    the id, and so the outbox can deduplicate; unique because session ids are.
    """
    return uuid.uuid5(_NOTE_NAMESPACE, f"{session_id}/{fmt}").hex
