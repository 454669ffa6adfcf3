"""Revision instructions as therapists type them (tests/data/revision_instructions.toml): each
is read as the intended intent and either applied or refused, never invented."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from roomnote.errors import RevisionRefused
from roomnote.notes import compose_note, revise_note
from roomnote.notes.encoder import load_encoder
from roomnote.notes.generator import unsupported_items
from roomnote.notes.revise import parse_instruction
from scripted import all_sessions

CASES = tomllib.loads((Path(__file__).parent / "data" / "revision_instructions.toml").read_text())["instructions"]


@pytest.fixture(scope="module")
def encoder(default_config):
    return load_encoder(None, default_config.models.dir)


@pytest.fixture(scope="module")
def notes(encoder):
    out = {}
    for s in all_sessions():
        key = s.name[:2]
        rt = s.transcript()
        out[key] = (rt, compose_note(rt, "soap", s.facts(), encoder=encoder))
    return out


def test_there_are_at_least_fifty_instructions():
    assert len(CASES) >= 50 and {c["intent"] for c in CASES} >= {"detail", "shorter", "remove", "less",
                                                                  "reformat", "plainer", "clinical"}


@pytest.mark.parametrize("case", CASES, ids=[c["text"] for c in CASES])
def test_instruction_is_read_and_applied_or_refused(case, notes, encoder):
    rt, note = notes[case["session"]]
    if case["intent"] == "refuse":
        with pytest.raises(RevisionRefused):
            parse_instruction(case["text"], encoder)
    else:
        assert parse_instruction(case["text"], encoder).kind == case["intent"]
    if case["outcome"] == "refused":
        with pytest.raises(RevisionRefused) as e:
            revise_note(rt, note, case["text"], encoder=encoder)
        assert "\n" not in str(e.value)
        return
    try:
        v2 = revise_note(rt, note, case["text"], encoder=encoder)
    except RevisionRefused as e:  # short sessions: the note may already quote every passage on it
        assert case["intent"] == "detail" and "already in the note" in str(e)
        return
    assert v2.version == 2 and unsupported_items(v2, rt) == []
    risk = lambda n: [it.text for x in n.sections for it in x.items if it.kind == "risk"]
    assert risk(v2) == risk(note)  # risk lines are never removed
