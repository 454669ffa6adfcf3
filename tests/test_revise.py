"""Revision by instruction: the next version, grounded in the transcript, or a clear refusal."""
from __future__ import annotations

import copy
import re
from datetime import datetime, timezone

import pytest

from roomnote.errors import RevisionRefused, RoomnoteError
from roomnote.notes import FORMATS, compose_note, revise_note, to_dict
from roomnote.notes.encoder import load_encoder
from roomnote.notes.generator import unsupported_items
from roomnote.notes.revise import parse_instruction
from roomnote.redact.egress import check_egress

from scripted import Scripted, all_sessions

SESSIONS = {s.name[:2]: s for s in all_sessions()}
WHEN = datetime(2025, 5, 7, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def encoder(default_config):
    return load_encoder(None, default_config.models.dir)


def setup(key: str, encoder, fmt: str = "soap", speakers: bool = True):
    s = SESSIONS[key]
    rt = s.transcript(speakers)
    return s, rt, compose_note(rt, fmt, s.facts(), encoder=encoder)


def items(note):
    return [it for s in note.sections for it in s.items]


def texts(note):
    return [it.text for it in items(note)]


def test_include_more_details_adds_the_passages_that_support_it(encoder):
    s, rt, note = setup("16", encoder)
    before = copy.deepcopy(note)
    v2 = revise_note(rt, note, "include more details about how the client noticed their pattern "
                               "of putting their own feelings last", encoder=encoder, created_at=WHEN)
    assert note == before  # the given version is left as it was
    assert (v2.note_id, v2.version, v2.format) == (note.note_id, 2, "soap")
    assert [(r.version, r.kind, r.created_at) for r in v2.revisions] == [(2, "detail", WHEN)]
    added = [it for it in items(v2) if it.category == "detail"]
    assert added and all(it.text not in texts(note) for it in added)
    # the passage on the topic is in the note (as a detail it already held, or added now)
    assert "i was ten and i was the one keeping everyone calm at home" in " ".join(texts(v2))
    segs = {x.id: x for x in rt.segments}
    for it in added:
        (e,) = it.evidence
        assert e.basis == "revision" and e.score > 0
        if it.kind == "detail":  # the therapist's words, said as theirs
            assert it.text.startswith("Therapist said: ") and segs[e.segment_id].speaker == "therapist"
            continue
        assert it.text.strip('"') in segs[e.segment_id].text
        assert segs[e.segment_id].speaker == "client"
        assert it in v2.section("subjective").items
    assert unsupported_items(v2, rt) == []


def test_details_on_something_never_said_are_refused_not_invented(encoder):
    s, rt, note = setup("01", encoder)
    with pytest.raises(RevisionRefused) as e:
        revise_note(rt, note, "include more details about the client's trip to paris", encoder=encoder)
    msg = str(e.value)
    assert "no passage of the transcript supports" in msg and "paris" not in msg and "\n" not in msg
    assert isinstance(e.value, RoomnoteError)


def test_shorter_keeps_risk_interventions_and_facts(encoder):
    s, rt, note = setup("03", encoder)
    v2 = revise_note(rt, note, "Shorter, please.", encoder=encoder)
    assert len(items(v2)) < len(items(note)) and v2.version == 2
    for kind in ("risk", "intervention", "fact"):
        assert [it.text for it in items(v2) if it.kind == kind] == [it.text for it in items(note) if it.kind == kind]
    assert set(texts(v2)) <= set(texts(note))
    v3 = revise_note(rt, v2, "make it shorter", encoder=encoder)
    assert v3.version == 3 and [r.kind for r in v3.revisions] == ["shorter", "shorter"]


def test_shorter_is_refused_when_only_protected_items_are_left(encoder):
    s, rt, note = setup("29", encoder)
    short = note
    with pytest.raises(RevisionRefused, match="cannot be shorter"):
        for _ in range(6):
            short = revise_note(rt, short, "shorter", encoder=encoder)


def test_remove_the_part_about_work(encoder):
    s, rt, note = setup("01", encoder)
    v2 = revise_note(rt, note, "remove the part about work", encoder=encoder)
    assert "work and school" not in {it.category for it in items(v2)}
    assert not any(re.search(r"\b(manager|performance review|deadline)\b", t) for t in texts(v2))
    kept = [it.text for it in items(v2) if it.kind in ("risk", "fact")]
    assert kept == [it.text for it in items(note) if it.kind in ("risk", "fact")]
    assert any(it.kind == "risk" and it.category.endswith(":denial") for it in items(v2))


def test_risk_statements_are_never_removed(encoder):
    s, rt, note = setup("03", encoder)
    v2 = revise_note(rt, note, "remove the part about wanting to kill myself", encoder=encoder)
    risk = lambda n: [it.text for it in items(n) if it.kind == "risk"]
    assert risk(v2) == risk(note) and v2.risk_flags == note.risk_flags == ["suicidal_ideation"]
    s = Scripted("screen", "t", "m", "p", 30, [("therapist", "have you had any thoughts of suicide"),
                                               ("client", "no"), ("client", "i have been sleeping badly")])
    rt = s.transcript()
    note = compose_note(rt, "soap", s.facts(), encoder=encoder)
    with pytest.raises(RevisionRefused, match="risk statements are never removed"):
        revise_note(rt, note, "remove the part about suicide", encoder=encoder)


def test_removing_a_topic_the_note_does_not_hold_is_refused(encoder):
    s, rt, note = setup("08", encoder)
    with pytest.raises(RevisionRefused, match="nothing in the note matches"):
        revise_note(rt, note, "remove the part about the divorce lawyer", encoder=encoder)


@pytest.mark.parametrize("target", FORMATS)
def test_rewrite_in_another_format_keeps_every_item(encoder, target):
    s, rt, note = setup("05", encoder, fmt="soap" if target != "soap" else "birp")
    v2 = revise_note(rt, note, f"rewrite as {target.upper()}", encoder=encoder)
    assert v2.format == target and v2.note_id == note.note_id and v2.version == 2
    assert [(x.key, x.title) for x in v2.sections] == [(x.key, x.title) for x in FORMATS[target]]
    content = lambda n: sorted(it.text for it in items(n) if it.kind not in ("fact", "empty"))
    assert content(v2) == content(note)
    if target in ("soap", "dap"):
        assert any(it.kind == "fact" for it in items(v2))
    assert unsupported_items(v2, rt) == []
    check_egress(to_dict(v2))


def test_revisions_chain_and_keep_earlier_edits(encoder):
    s, rt, note = setup("16", encoder)
    v2 = revise_note(rt, note, "include more details about how the client noticed their pattern "
                               "of putting their own feelings last", encoder=encoder)
    v3 = revise_note(rt, v2, "rewrite as DAP", encoder=encoder)
    v4 = revise_note(rt, v3, "remove the part about the boyfriend", encoder=encoder)
    assert [r.kind for r in v4.revisions] == ["detail", "reformat", "remove"] and v4.version == 4
    assert any(it.category == "detail" for it in items(v4))
    assert v4.format == "dap" and not any("boyfriend" in t for t in texts(v4))
    d = to_dict(v4)
    assert [r["kind"] for r in d["revisions"]] == ["detail", "reformat", "remove"]


def test_rewrite_into_the_same_format_is_refused(encoder):
    s, rt, note = setup("05", encoder)
    with pytest.raises(RevisionRefused, match="already SOAP"):
        revise_note(rt, note, "rewrite as soap", encoder=encoder)


@pytest.mark.parametrize("text, kind, topic, fmt", [
    ("include more details about how the client noticed their pattern", "detail", "how the client noticed their pattern", ""),
    ("Add more about her sister.", "detail", "her sister", ""),
    ("expand on the sleep problems", "detail", "the sleep problems", ""),
    ("shorter", "shorter", "", ""),
    ("Could you make it more concise?", "shorter", "", ""),
    ("remove the part about work", "remove", "work", ""),
    ("please leave out the bit about his brother", "remove", "his brother", ""),
    ("don't mention the divorce", "remove", "divorce", ""),
    ("rewrite as DAP", "reformat", "", "dap"),
    ("convert this to a BIRP note", "reformat", "", "birp"),
    ("GIRP format please", "reformat", "", "girp"),
])
def test_instructions_are_understood(text, kind, topic, fmt):
    ins = parse_instruction(text)
    assert (ins.kind, ins.topic, ins.fmt) == (kind, topic, fmt)


@pytest.mark.parametrize("text", ["", "make it rhyme", "add a diagnosis of depression", "translate to french"])
def test_instructions_it_cannot_act_on_say_what_it_can_do(encoder, text):
    s, rt, note = setup("01", encoder)
    with pytest.raises(RevisionRefused) as e:
        revise_note(rt, note, text, encoder=encoder)
    assert "shorter" in str(e.value) and "rewrite as" in str(e.value)


def test_without_an_encoder_word_overlap_still_grounds_revisions():
    s, rt, note = setup("16", None)
    v2 = revise_note(rt, note, "include more details about how the client noticed their pattern "
                               "of putting their own feelings last", encoder=None)
    assert any(it.category == "detail" for it in items(v2))
    with pytest.raises(RevisionRefused):
        revise_note(rt, note, "include more details about the trip to paris", encoder=None)


def test_the_default_encoder_is_the_shipped_one():
    s, rt, note = setup("16", None)
    v2 = revise_note(rt, note, "include more details about putting her own feelings last")
    assert v2.version == 2 and any(it.category == "detail" for it in items(v2))


def test_the_default_encoder_can_be_set_by_the_caller(encoder):
    from roomnote.notes import revise as revise_module

    saved = revise_module._SHARED.copy()
    try:
        revise_module.set_shared_encoder(None)  # e.g. notes.encoder = "" in the config
        s, rt, note = setup("16", None)
        v2 = revise_note(rt, note, "include more details about putting her own feelings last")
        assert revise_module.shared_encoder() is None
        assert any(it.category == "detail" for it in items(v2))  # found by word overlap
        revise_module.set_shared_encoder(encoder)
        assert revise_module.shared_encoder() is encoder
    finally:
        revise_module._SHARED.clear()
        revise_module._SHARED.update(saved)


def test_the_instruction_s_words_never_reach_the_note_or_a_refusal(encoder):
    """P2: an instruction may name the client; the next version records only its kind, and
    a refusal says what roomnote can do without repeating the instruction."""
    s, rt, note = setup("01", encoder)
    v2 = revise_note(rt, note, "rewrite as DAP for Marisol Okonkwo-Vance", encoder=encoder, created_at=WHEN)
    assert v2.format == "dap" and [r.kind for r in v2.revisions] == ["reformat"]
    wire = repr(to_dict(v2)).lower()
    assert "marisol" not in wire and "okonkwo" not in wire
    check_egress(to_dict(v2))
    for ask in ("remove the part about Marisol Okonkwo-Vance", "make it rhyme for Marisol Okonkwo-Vance",
                "include more details about Marisol Okonkwo-Vance"):
        with pytest.raises(RevisionRefused) as e:
            revise_note(rt, note, ask, encoder=encoder)
        assert "marisol" not in str(e.value).lower() and "okonkwo" not in str(e.value).lower()
