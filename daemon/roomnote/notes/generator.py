"""Who writes the words of a note, and the check every writer's output must pass.

The default writer is the extractive composer (composer.py): quotes and fixed labels, so
every line is the transcript's own words or a label whose cue is in its evidence. A box
with a provisioned local language model (onnxruntime-genai on a Jetson) can plug in a
Generator that rewrites a section's items as prose. Whatever a generator writes:

- it sees only the redacted text of the segments the section's items cite;
- risk items and session facts are never handed to it: they stay exactly as composed;
- each item it returns must cite segments of this transcript (evidence), and its words
  must be found in what it cites (support_problem); an item that fails is dropped, and a
  section left empty falls back to the extractive items;
- its text is redacted again (redact_text) and the finished note passes the egress check
  (check_egress) before it is returned.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

from ..redact import redact_text
from ..redact.egress import check_egress
from ..transcript import RedactedTranscript
from .composer import compose_note
from .lexicons import INTERVENTIONS, THEMES
from .model import Item, Note, Section, SessionFacts
from .prose import sentence_problem
from .render import to_dict
from .revise import stem

SUPPORT_MIN = 0.6  # share of a prose item's content words that must occur in its evidence
# Words a summary may use without the transcript saying them (framing, not content).
FRAMING = frozenset(stem(w) for w in """
client therapist reported reports described describes stated states said says expressed
discussed discussed talked explored noted shared session sessions their they them the a an
and or but of to in on at for with about that this was were is are has have had be been
feeling feelings felt feels also during which who while when how what
""".split())
_RISK_WORDS = re.compile(r"\b(suicid\w*|kill\w*|self.?harm\w*|den(y|ies|ied)|overdos\w*|abus\w*|harm\w*|unsafe)\b")
_QUOTED = re.compile(r'"([^"]+)"')
_LABELS = {"intervention": INTERVENTIONS, "theme": THEMES}
PROTECTED_KINDS = frozenset({"fact", "risk", "risk_not_assessed", "empty", "no_speech"})


class Generator(Protocol):
    """Writes a section's items; `passages` maps segment id to its redacted text."""

    name: str

    def write(self, section: Section, passages: dict[str, str]) -> list[Item]: ...


class ExtractiveGenerator:
    """The default: the composer's own items, unchanged."""

    name = "extractive"

    def write(self, section: Section, passages: dict[str, str]) -> list[Item]:
        return list(section.items)


def support_problem(item: Item, segments: dict[str, str], times: dict[str, tuple[float, float]],
                    prose: bool = False) -> str | None:
    """Why the transcript does not support item, or None when it does.

    segments: segment id -> redacted text; times: segment id -> (start, end).
    """
    if not item.needs_evidence:
        return "not an evidence-free kind" if item.evidence and item.kind != "risk" else None
    if not item.evidence:
        return "no evidence"
    for e in item.evidence:
        if e.segment_id not in segments:
            return "cites a segment that is not in the transcript"
        lo, hi = times[e.segment_id]
        if not (lo - 0.01 <= e.start <= e.end <= hi + 0.01):
            return "cites a time outside its segment"
        if e.cue is not None and f" {e.cue} " not in f" {segments[e.segment_id]} ":
            return "its cue is not in the segment it cites"
    cited = " ".join(segments[e.segment_id] for e in item.evidence)
    for q in _QUOTED.findall(item.text):
        if q not in cited:
            return "quotes words the cited segments do not hold"
    if item.kind in _LABELS and not prose:
        if item.category not in _LABELS[item.kind]:
            return "a label outside the documented taxonomy"
        if not any(e.cue or e.basis == "encoder" for e in item.evidence):
            return "a label with neither a cue nor an encoder judgement"
    if item.kind not in PROTECTED_KINDS:
        problem = sentence_problem(item.text, cited)
        if problem:
            return problem
    if prose:
        if _RISK_WORDS.search(_QUOTED.sub(" ", item.text).lower()):
            return "a generator may not write about risk (risk is reported verbatim by the composer)"
        words = {stem(w) for w in re.findall(r"[a-z']+", _QUOTED.sub(" ", item.text.lower()))} - FRAMING
        cited_words = {stem(w) for w in cited.split()}
        if words and sum(w in cited_words for w in words) / len(words) < SUPPORT_MIN:
            return "states things the cited segments do not say"
    return None


def _segment_maps(rt: RedactedTranscript) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    """support_problem's view of rt: segment id -> text, segment id -> (start, end)."""
    return {s.id: s.text for s in rt.segments}, {s.id: (s.start, s.end) for s in rt.segments}


def unsupported_items(note: Note, rt: RedactedTranscript) -> list[tuple[Item, str]]:
    """Every item of note without support in rt, with the reason (the bench's target is none)."""
    segments, times = _segment_maps(rt)
    prose = note.generator != "extractive"
    out = []
    for s in note.sections:
        for it in s.items:
            problem = support_problem(it, segments, times, prose and it.kind not in PROTECTED_KINDS)
            if problem:
                out.append((it, problem))
    return out


def generate_note(rt: RedactedTranscript, fmt: str, facts: SessionFacts,
                  generator: Generator | None = None, *, encoder=None) -> tuple[Note, int]:
    """Compose, let the generator write, check and redact; returns the note and how many
    generated items were dropped for lack of support."""
    note = compose_note(rt, fmt, facts, encoder=encoder)
    if generator is None or isinstance(generator, ExtractiveGenerator):
        return note, 0
    segments, times = _segment_maps(rt)
    dropped, sections = 0, []
    for sec in note.sections:
        kept = [it for it in sec.items if it.kind in PROTECTED_KINDS]
        writable = [it for it in sec.items if it.kind not in PROTECTED_KINDS]
        if not writable:
            sections.append(sec)
            continue
        cited = {e.segment_id for it in writable for e in it.evidence}
        written = generator.write(Section(sec.key, sec.title, writable),
                                  {sid: segments[sid] for sid in sorted(cited)})
        good = []
        for it in written:
            if support_problem(it, segments, times, prose=True) is None:
                good.append(replace(it, text=redact_text(it.text)[0]))
            else:
                dropped += 1
        sections.append(Section(sec.key, sec.title, (good or writable) + kept))
    out = replace(note, sections=sections, generator=generator.name)
    check_egress(to_dict(out))
    return out, dropped
