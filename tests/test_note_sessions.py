"""The composer on the 30+ scripted sessions of tests/data: sections, evidence, risk rules,
session facts. Notes are composed with the real sentence encoder, as the box does."""
from __future__ import annotations

import json
import re

import pytest

from roomnote.notes import FORMATS, compose_note, to_dict, to_markdown, to_text
from roomnote.notes.encoder import load_encoder
from roomnote.notes.generator import unsupported_items
from roomnote.notes.model import RISK_NOT_ASSESSED

from scripted import all_sessions, heldout_sessions, score

SESSIONS = all_sessions()
IDS = [s.name for s in SESSIONS]


@pytest.fixture(scope="module")
def encoder(default_config):
    return load_encoder(None, default_config.models.dir)


@pytest.fixture(scope="module")
def notes(encoder):
    """Every session in every format, speakers labelled and not."""
    return {(s.name, fmt, speakers): compose_note(s.transcript(speakers), fmt, s.facts(), encoder=encoder)
            for s in SESSIONS for fmt in FORMATS for speakers in (True, False)}


def items(note):
    return [it for s in note.sections for it in s.items]


def test_the_data_set_is_broad_enough():
    assert len(SESSIONS) >= 30
    assert len({s.modality for s in SESSIONS}) >= 8
    assert len({s.problem for s in SESSIONS}) >= 20
    risk = [s.expect["risk"] for s in SESSIONS]
    assert sum(any(r.endswith(":disclosure") for r in rs) for rs in risk) >= 6
    assert sum(any(r.endswith(":denial") for r in rs) for rs in risk) >= 4
    assert sum(rs == [] for rs in risk) >= 12
    assert {r.split(":")[0] for rs in risk for r in rs} == {"suicidal_ideation", "self_harm",
                                                            "harm_to_others", "abuse_neglect"}
    for s in SESSIONS:
        assert {t[0] for t in s.turns} == {"therapist", "client"}, s.name
        assert s.expect.get("quotes") and s.expect.get("plan"), s.name


@pytest.mark.parametrize("s", SESSIONS, ids=IDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_has_its_sections_and_every_item_is_backed(notes, s, fmt):
    rt = s.transcript()
    for speakers in (True, False):
        note = notes[(s.name, fmt, speakers)]
        assert [(x.key, x.title) for x in note.sections] == [(x.key, x.title) for x in FORMATS[fmt]]
        for it in items(note):
            if it.needs_evidence:
                assert it.evidence, it.text
                for e in it.evidence:
                    assert e.basis in ("cue", "encoder", "context") and e.start <= e.end
        assert unsupported_items(note, s.transcript(speakers)) == []
        assert note.encoder == "all-minilm-l6-v2-int8"
    segments = {x.id: x.text for x in rt.segments}
    for it in items(notes[(s.name, fmt, True)]):
        for q in re.findall(r'"([^"]+)"', it.text):
            assert any(q in segments[e.segment_id] for e in it.evidence)


@pytest.mark.parametrize("s", SESSIONS, ids=IDS)
def test_risk_is_reported_exactly_as_discussed(notes, s):
    expected = s.expect["risk"]
    for fmt in FORMATS:
        for speakers in (True, False):
            note = notes[(s.name, fmt, speakers)]
            sc = score(note, s)
            assert sc.risk_found == sc.risk_expected, (fmt, speakers, sc.missing)
            assert sc.invented_denials == 0, (fmt, speakers)
            text = to_markdown(note) + to_text(note) + json.dumps(to_dict(note))
            if not expected:
                assert sc.not_assessed_ok and note.risk_flags == []
                assert text.count(RISK_NOT_ASSESSED) == 3  # markdown, text, JSON
            if not any(r.endswith(":denial") for r in expected):
                assert not re.search(r"\bden(y|ies|ied|ial)\b", text.lower()), (fmt, speakers)
            disclosed = {r.split(":")[0] for r in expected if r.endswith(":disclosure")}
            assert disclosed <= set(note.risk_flags)


@pytest.mark.parametrize("s", SESSIONS, ids=IDS)
def test_session_facts_are_in_every_note(notes, s):
    note = notes[(s.name, "soap", True)]
    assert note.cpt_code == s.expected_cpt
    d = to_dict(note)
    assert d["session"]["device_id"] == "box-test" and d["session"]["consent"].startswith("verbal consent")
    assert d["session"]["modality"] == "in person" and d["session"]["duration_min"] == s.minutes
    objective = [it.text for it in note.section("objective").items if it.kind == "fact"]
    assert any(f"{s.minutes} min" in t for t in objective)
    cpt_line = next(t for t in objective if "CPT" in t or "time code" in t)
    assert (s.expected_cpt or "shorter than 16 minutes") in cpt_line


def test_coverage_of_the_expected_facts(notes):
    """bench/notes.py prints the figure; here it must stay above 90% with the encoder."""
    found = expected = 0
    for s in SESSIONS:
        sc = score(notes[(s.name, "soap", True)], s)
        found, expected = found + sc.found, expected + sc.expected
    assert found / expected >= 0.9, f"{found}/{expected}"


def test_the_encoder_finds_interventions_the_lexicons_miss(encoder):
    s = next(x for x in SESSIONS if x.name.startswith("21-"))
    plain = compose_note(s.transcript(), "birp", s.facts())
    semantic = compose_note(s.transcript(), "birp", s.facts(), encoder=encoder)
    assert "cognitive restructuring" not in {it.category for it in items(plain)}
    it = next(i for i in items(semantic) if i.category == "cognitive restructuring")
    assert it.kind == "intervention" and it in semantic.section("intervention").items
    assert all(e.basis == "encoder" and e.score >= 0.45 and e.cue is None for e in it.evidence)


def test_voices_told_apart_without_roles_get_roles_from_the_talk(encoder):
    """No therapist profile: voices are "speaker 1", "speaker 2". The roles are read from the
    talk (roles.py): the note says so, quotes only the client voice's words and credits
    interventions only to the therapist voice."""
    from dataclasses import replace

    voices = {"therapist": "speaker 1", "client": "speaker 2"}
    for s in (x for x in SESSIONS if x.name[:2] in ("11", "18", "21", "26")):
        rt = s.transcript(True)
        diarised = replace(rt, segments=[replace(g, speaker=voices[g.speaker]) for g in rt.segments])
        voice = {g.id: g.speaker for g in diarised.segments}
        note = compose_note(diarised, "soap", s.facts(), encoder=encoder)
        assert note.speakers_identified and note.speaker_roles == "inferred from the talk", s.name
        assert any("inferred from the talk" in it.text for it in items(note) if it.kind == "fact")
        for it in items(note):
            if it.kind in ("quote", "goal", "response"):
                assert {voice[e.segment_id] for e in it.evidence} == {"speaker 2"}, (s.name, it.text)
            if it.kind == "intervention":
                assert {voice[e.segment_id] for e in it.evidence} == {"speaker 1"}, (s.name, it.text)


@pytest.mark.parametrize("key, text", [
    ("04", "Suicidal ideation as discussed: passive thoughts of death; no plan, as the client stated."),
    ("03", "Suicidal ideation as discussed: passive thoughts of death and active thoughts of suicide; "
           "a plan or method mentioned by the client."),
])
def test_suicidal_ideation_is_summarised_in_the_clients_terms(notes, key, text):
    s = next(x for x in SESSIONS if x.name.startswith(key))
    for speakers in (True, False):
        note = notes[(s.name, "soap", speakers)]
        summary = [it for it in items(note) if it.category == "suicidal_ideation:summary"]
        assert [it.text for it in summary] == [text]
        cues = {e.cue for e in summary[0].evidence}
        assert cues and all(c in " ".join(x.text for x in s.transcript().segments) for c in cues)


def test_no_summary_without_a_disclosure(notes):
    for s in SESSIONS:
        if "suicidal_ideation:disclosure" not in s.expect["risk"]:
            assert not any(it.category == "suicidal_ideation:summary"
                           for it in items(notes[(s.name, "soap", True)])), s.name


def test_plans_are_told_apart_as_said(notes):
    cats = lambda key: {it.category for it in items(notes[(next(x.name for x in SESSIONS if x.name.startswith(key)), "soap", True)])
                        if it.kind == "plan"}
    assert {"referral", "next_appointment"} <= cats("03")
    assert {"homework", "next_appointment"} <= cats("01")
    md = to_markdown(notes[(next(x.name for x in SESSIONS if x.name.startswith("03")), "soap", True)])
    assert 'Referral agreed: "i\'d also like to refer you to a psychiatrist' in md
    assert 'client said: "i\'m willing to do that"' in md
    assert 'Next appointment: "let\'s meet again on thursday' in md


def test_the_encoders_examples_do_not_copy_the_scripted_sessions(encoder):
    """Otherwise the bench's encoder coverage would measure memory, not meaning."""
    from roomnote.notes import semantic

    examples = [t for table in (semantic.INTERVENTION_EXAMPLES, semantic.KIND_EXAMPLES)
                for texts in table.values() for t in texts]
    lines = [t for s in SESSIONS for _, t in s.turns]
    sims = encoder.encode(examples) @ encoder.encode(lines).T
    assert float(sims.max()) < 0.8


@pytest.mark.parametrize("s", heldout_sessions(), ids=lambda s: s.name)
def test_held_out_sessions_keep_the_hard_rules(encoder, s):
    """The held-out sessions measure coverage out of sample (bench/notes.py) and are never
    tuned on; the rules that must hold for any transcript are checked here too."""
    for fmt in FORMATS:
        for speakers in (True, False):
            rt = s.transcript(speakers)
            note = compose_note(rt, fmt, s.facts(), encoder=encoder)
            sc = score(note, s)
            assert sc.invented_denials == 0 and sc.not_assessed_ok
            assert unsupported_items(note, rt) == []
