"""A note as JSON-ready data (schema roomnote.note/2, docs/note-schema.md), as Markdown for
the clinician, and as plain text that pastes cleanly into an EHR (fhir.py has the FHIR form)."""
from __future__ import annotations

from datetime import datetime

from .facts import duration_text, whole_minutes
from .formats import FORMAT_TITLES
from .model import Evidence, Item, Note, Revision, Section, SessionFacts

SCHEMA = "roomnote.note/2"
_EVIDENCE_SHOWN = 3  # markdown lists this many evidence spans per item, then "+N more"
# Quotes of these kinds share sections with plain reports; a lead-in tells them apart.
_LEAD_INS = {"goal": "Goal", "response": "Response"}
_PLAN_LEAD_INS = {"referral": "Referral", "homework": "Homework", "next_appointment": "Next appointment"}


def _lead_in(it: Item) -> str:
    """The item's text with the lead-in a reader needs to tell it from its neighbours."""
    if not it.text.startswith('"'):  # a clinical sentence says what it is
        return it.text
    if it.kind in _LEAD_INS:
        return f"{_LEAD_INS[it.kind]}: {it.text}"
    if it.kind == "plan" and it.category in _PLAN_LEAD_INS:
        return f"{_PLAN_LEAD_INS[it.category]}: {it.text}"
    if it.category == "detail":
        return f"More detail: {it.text}"
    return it.text


def _evidence_dict(e: Evidence) -> dict:
    return {"segment_id": e.segment_id, "start": e.start, "end": e.end, "cue": e.cue,
            "basis": e.basis, "score": e.score}


def _item_dict(it: Item) -> dict:
    return {"text": it.text, "kind": it.kind, "category": it.category,
            "evidence": [_evidence_dict(e) for e in it.evidence]}


def to_dict(note: Note) -> dict:
    f = note.facts
    return {
        "schema": SCHEMA,
        "note_id": note.note_id,
        "version": note.version,
        "format": note.format,
        "format_title": FORMAT_TITLES.get(note.format, note.format.upper()),
        "created_at": note.created_at.isoformat(),
        "no_speech": note.no_speech,
        "session": {
            "session_id": f.session_id,
            "device_id": f.device_id,
            "date": f.started_at.date().isoformat(),
            "started_at": f.started_at.isoformat(),
            "ended_at": f.ended_at.isoformat(),
            "duration_s": f.duration_s,
            "duration_min": whole_minutes(f.duration_s),
            "speech_s": f.speech_s,
            "modality": f.modality,
            "engine": f.engine,
            "consent": f.consent,
            "cpt_code": note.cpt_code,
        },
        "speakers_identified": note.speakers_identified,
        "speaker_roles": note.speaker_roles,
        "risk_flags": list(note.risk_flags),
        "sections": [{"key": s.key, "title": s.title, "items": [_item_dict(it) for it in s.items]}
                     for s in note.sections],
        "redaction_counts": dict(note.redaction_counts),
        "topic_counts": dict(note.topic_counts),
        "removed_passages": note.removed_passages,
        "composer": {"generator": note.generator, "encoder": note.encoder, "classifier": note.classifier},
        "revisions": [{"version": r.version, "kind": r.kind, "created_at": r.created_at.isoformat()}
                      for r in note.revisions],
    }


def from_dict(d: dict) -> Note:
    """The inverse of to_dict, so a receiver (the inbox) renders exactly what the box does."""
    s = d["session"]
    facts = SessionFacts(session_id=s["session_id"], device_id=s["device_id"],
                         started_at=datetime.fromisoformat(s["started_at"]),
                         ended_at=datetime.fromisoformat(s["ended_at"]), duration_s=s["duration_s"],
                         speech_s=s["speech_s"], engine=s["engine"], consent=s.get("consent"),
                         modality=s.get("modality", "in person"))
    sections = [Section(sec["key"], sec["title"],
                        [Item(it["text"], [Evidence(e["segment_id"], e["start"], e["end"], e.get("cue"),
                                                    e.get("basis", "cue"), e.get("score"))
                                           for e in it["evidence"]], it["kind"], it.get("category", ""))
                         for it in sec["items"]]) for sec in d["sections"]]
    composer = d.get("composer", {})
    return Note(d["note_id"], d["version"], d["format"], datetime.fromisoformat(d["created_at"]), facts,
                sections, dict(d.get("redaction_counts", {})), d["no_speech"], s.get("cpt_code"),
                d.get("speakers_identified", False), list(d.get("risk_flags", [])),
                encoder=composer.get("encoder"), generator=composer.get("generator", "extractive"),
                revisions=[Revision(r["version"], r["kind"], datetime.fromisoformat(r["created_at"]))
                           for r in d.get("revisions", [])],
                topic_counts=dict(d.get("topic_counts", {})),
                removed_passages=d.get("removed_passages", 0),
                speaker_roles=d.get("speaker_roles", ""), classifier=composer.get("classifier"))


def clock(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def evidence_text(evidence: list[Evidence]) -> str:
    """Compactly: "(00:01:12–00:01:20, seg s0007; ...; +2 more)"."""
    if not evidence:
        return ""
    parts = [f"{clock(e.start)}\u2013{clock(e.end)}, seg {e.segment_id}" for e in evidence[:_EVIDENCE_SHOWN]]
    if len(evidence) > _EVIDENCE_SHOWN:
        parts.append(f"+{len(evidence) - _EVIDENCE_SHOWN} more")
    return f"({'; '.join(parts)})"


def topic_summary(note: Note) -> str:
    """One line of counts: passages removed by office policy (topics unnamed), then the
    generalized or kept passages per topic; "" when the session touched no topic."""
    parts = []
    if note.removed_passages:
        parts.append(f"{note.removed_passages} removed by office policy")
    if note.topic_counts:
        parts.append("generalized or kept: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(note.topic_counts.items())))
    return f"Sensitive-topic passages: {'; '.join(parts)}" if parts else ""


def to_markdown(note: Note) -> str:
    f = note.facts
    title = FORMAT_TITLES.get(note.format, note.format.upper())
    start, end = f.started_at, f.ended_at
    code = note.cpt_code or "none (under 16 min)"
    lines = [
        f"# {title} note",
        "",
        f"- Date: {start.date().isoformat()}, {start:%H:%M}\u2013{end:%H:%M} "
        f"({duration_text(f.duration_s)}; speech {duration_text(f.speech_s)})",
        f"- Modality: {f.modality}",
        f"- Suggested CPT code: {code}",
        f"- Consent: {f.consent or 'not recorded'}",
        f"- Device: {f.device_id}; recogniser: {f.engine}",
        f"- Session: {f.session_id}; note {note.note_id} v{note.version}",
    ]
    if not note.no_speech and not note.speakers_identified:
        lines.append("- Speakers not identified: statements are not attributed")
    elif not note.no_speech and note.speaker_roles == "inferred from the talk":
        lines.append("- Speaker roles inferred from the talk (no enrolled voice): check attributions")
    if note.risk_flags:
        lines.append("- **Risk flagged for review**")
    for s in note.sections:
        lines += ["", f"## {s.title}", ""]
        for it in s.items:
            text = _lead_in(it)
            ev = evidence_text(it.evidence)
            lines.append(f"- {text} {ev}" if ev else f"- {text}")
    counts = note.redaction_counts
    lines += ["", "## Redactions", ""]
    if counts:
        lines.append(", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
                     + f" (total {sum(counts.values())})")
    else:
        lines.append("None.")
    topics = topic_summary(note)
    if topics:
        lines += ["", topics]
    return "\n".join(lines) + "\n"


_ASCII = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'",
                        "\u201c": '"', "\u201d": '"', "\u2026": "..."})
TEXT_WIDTH = 78


def to_text(note: Note) -> str:
    """Plain text for pasting into an EHR's note field: ASCII, no markup, no evidence links.

    Headings in capitals, one item per "- " line wrapped at 78 columns with a hanging
    indent, lead-ins for goals and responses, the header facts first. Evidence stays in the
    JSON on the box; the text says which version of which note it is.
    """
    import textwrap

    f = note.facts
    title = FORMAT_TITLES.get(note.format, note.format.upper())
    start, end = f.started_at, f.ended_at
    head = [
        f"{title} PSYCHOTHERAPY NOTE",
        f"Date of service: {start.date().isoformat()}, {start:%H:%M}-{end:%H:%M} ({duration_text(f.duration_s)})",
        f"Modality: {f.modality}",
        f"Suggested CPT code: {note.cpt_code or 'none (under 16 min)'} (confirm face-to-face time)",
        f"Consent: {f.consent or 'not recorded'}",
        f"Composed on device {f.device_id}; note {note.note_id} version {note.version}",
    ]
    if note.risk_flags:
        head.append("RISK FLAGGED FOR CLINICIAN REVIEW")
    lines = list(head)
    for s in note.sections:
        lines += ["", f"{s.title.upper()}:"]
        for it in s.items:
            text = _lead_in(it)
            lines += textwrap.wrap(text, TEXT_WIDTH, initial_indent="- ", subsequent_indent="  ",
                                   break_long_words=False, break_on_hyphens=False)
    counts = note.redaction_counts
    lines += ["", "Identifiers removed on the device: "
              + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) if counts else "none")]
    topics = topic_summary(note)
    if topics:
        lines += textwrap.wrap(topics, TEXT_WIDTH, subsequent_indent="  ", break_long_words=False)
    return "\n".join(line.translate(_ASCII).rstrip() for line in lines) + "\n"
