"""Risk documented exactly as it was said (issue 15): who said it, what they said, never the
opposite. The scripted exchanges of tests/data/risk_exchanges.toml, each with its expected
risk lines, read with speakers identified, unidentified and as "speaker N"; the answer rules;
the composer's call; the topic policy and revisions never removing a risk line.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from risk_exchanges import Exchange, load_exchanges, segments_of, stance_from_therapist
from roomnote.errors import RevisionRefused
from roomnote.notes import SessionFacts, compose_note, revise_note
from roomnote.notes.model import RISK_NOT_ASSESSED
from roomnote.notes.revise import _KEPT_KINDS
from roomnote.notes.risk import (CLIENT_STANCES, STANCES, answer_polarity, assess_risk, classify_risk,
                                 risk_section, tokens_of)
from roomnote.notes.risk_cues import CATEGORIES
from roomnote.redact import TOPICS, RedactionPolicy, redact_transcript
from roomnote.transcript import Segment, Transcript, Word

EXCHANGES = load_exchanges()
IDS = [e.id for e in EXCHANGES]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def facts(session_id: str = "risk-1") -> SessionFacts:
    return SessionFacts(session_id=session_id, device_id="box-1", started_at=T0,
                        ended_at=T0 + timedelta(minutes=50), duration_s=3000.0, speech_s=2000.0,
                        engine="script/test", consent="verbal consent, recorded at start")


def lines_of(items) -> list[str]:
    return [it.category for it in items if it.kind == "risk" and it.category not in ("flag", "suicidal_ideation:summary")]


# --- the scripted set itself --------------------------------------------------------------------

def test_the_set_covers_every_category_stance_and_failure():
    assert len(EXCHANGES) >= 40 and len(set(IDS)) == len(IDS)
    keys = {r for e in EXCHANGES for r in e.risk}
    for category in CATEGORIES:
        assert {f"{category}:disclosure", f"{category}:screening", f"{category}:denial"} & keys, category
        assert f"{category}:disclosure" in keys or f"{category}:past" in keys, category
    assert {k.split(":")[1] for k in keys} == set(STANCES)
    assert sum(bool(e.failure) for e in EXCHANGES) == 6
    assert sum(e.risk == [] for e in EXCHANGES) >= 8  # talk that only sounds like risk
    assert {e.form for e in EXCHANGES} == {"spoken", "written"}
    for e in EXCHANGES:
        if e.form == "spoken":
            assert all(t == t.lower() and not re.search(r"[.,?!]", t) for _, t in e.turns), e.id


# --- every exchange, speakers identified ----------------------------------------------------------

@pytest.mark.parametrize("e", EXCHANGES, ids=IDS)
def test_each_exchange_gives_exactly_its_risk_lines(e: Exchange):
    items, flags = risk_section(e.segments())
    assert sorted(lines_of(items)) == sorted(e.risk)
    assert flags == e.flags
    texts = [it.text for it in items]
    if e.line:
        assert e.line in texts
    summary = [it.text for it in items if it.category == "suicidal_ideation:summary"]
    assert summary == ([e.summary] if e.summary else [])
    if not e.risk:
        assert [(it.text, it.kind) for it in items] == [(RISK_NOT_ASSESSED, "risk_not_assessed")]
    for it in items:  # every line is backed by the transcript, every quote verbatim from its evidence
        if it.kind == "risk":
            assert it.evidence
            segs = {s.id: s.text for s in e.segments()}
            for q in re.findall(r'"([^"]+)"', it.text):
                assert any(q in segs[ev.segment_id] for ev in it.evidence), (q, it.text)


@pytest.mark.parametrize("e", EXCHANGES, ids=IDS)
def test_therapist_words_are_never_the_clients_stance(e: Exchange):
    true_roles = {s.id: s.speaker for s in e.segments()}
    for labelled in (True, False):
        lines = assess_risk(e.segments(labelled))
        assert stance_from_therapist(lines, true_roles) == 0, labelled
        for ln in lines:
            if ln.stance in CLIENT_STANCES and ln.speaker_known:
                assert all(true_roles[ev.segment_id] == "client" for ev in ln.evidence if ev.basis != "context")


def test_no_denial_is_ever_invented():
    for e in EXCHANGES:
        for labelled in (True, False):
            items, _ = risk_section(e.segments(labelled))
            denials = {c for c in lines_of(items) if c.endswith(":denial")}
            assert denials <= set(e.risk), (e.id, labelled)


def test_every_disclosure_is_flagged_with_speakers_identified_or_not():
    for e in EXCHANGES:
        for labelled in (True, False):
            _, flags = risk_section(e.segments(labelled))
            assert set(e.client_disclosure) <= set(flags), (e.id, labelled)


# --- speakers not identified ------------------------------------------------------------------------

@pytest.mark.parametrize("e", [e for e in EXCHANGES if e.risk], ids=[e.id for e in EXCHANGES if e.risk])
def test_unidentified_speakers_are_said_so_and_never_named(e: Exchange):
    items, _ = risk_section(e.segments(labelled=False))
    for it in items:
        if it.kind == "risk" and it.category not in ("flag", "suicidal_ideation:summary"):
            assert "speakers not identified" in it.text and not re.search(r"\b(client|therapist)\b", it.text), it.text


def test_a_question_and_its_reply_are_shown_together_when_nobody_is_identified():
    e = next(x for x in EXCHANGES if x.id == "f2-client-would-never")
    items, flags = risk_section(e.segments(labelled=False))
    assert [it.text for it in items if it.category == "suicidal_ideation:screening"] == [
        'Risk question (suicidal ideation), speakers not identified: "When it gets that heavy, do you have '
        'thoughts of ending your life?"; reply: "No. Never. I wouldn\'t do that to my boys."']
    assert flags == [] and not any(c.endswith(":denial") for c in lines_of(items))


def test_speaker_n_labels_count_as_unidentified():
    turns = [("speaker 1", "do you ever think about hurting yourself"), ("speaker 2", "no")]
    items, _ = risk_section(segments_of(turns))
    assert lines_of(items) == ["self_harm:screening"]
    assert "speakers not identified" in items[0].text and items[0].text.endswith('reply: "no"')


def test_an_unsure_reply_among_labelled_segments_is_shown_not_read():
    turns = [("therapist", "any thoughts of suicide"), ("unknown", "no"), ("client", "i slept badly")]
    items, flags = risk_section(segments_of(turns))
    assert [it.text for it in items] == ['Risk screening (suicidal ideation): therapist asked: "any thoughts of '
                                         'suicide"; reply: "no"']
    assert flags == []


def test_an_unsure_segment_among_labelled_ones_is_not_attributed():
    turns = [("therapist", "how was the week"), ("unknown", "i wanted to die most days"),
             ("client", "it was long")]
    items, flags = risk_section(segments_of(turns))
    assert flags == ["suicidal_ideation"]
    line = next(it.text for it in items if it.category == "suicidal_ideation:disclosure")
    assert line == 'Risk statement (suicidal ideation, passive), speakers not identified: "i wanted to die most days"'


# --- the words ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, polarity", [
    ("no", "no"), ("No. Never.", "no"), ("not really", "no"), ("nope not at all", "no"),
    ("yeah", "yes"), ("Mm-hmm.", "yes"), ("sometimes", "yes"), ("no... well, sometimes", "yes"),
    ("a little I guess", "yes"), ("not anymore", "past"), ("I used to", "past"),
    ("I don't know", "unclear"), ("why do you ask", "unclear"), ("okay", "unclear"),
])
def test_answer_polarity(text, polarity):
    assert answer_polarity(text) == polarity


@pytest.mark.parametrize("text, stance", [
    ("i would never hurt myself", "denial"),
    ("I'd never kill myself.", "denial"),
    ("i do not want to kill myself", "denial"),
    ("i don't want to live anymore", "disclosure"),
    ("i can't stop thinking about killing myself", "disclosure"),
    ("i used to cut not since march", "past"),
    ("he doesn't hit me anymore", "past"),
    ("have you had thoughts of hurting yourself", "screening"),
    ("my friend killed herself", "third_party"),
    ("a movie about suicide", "mention"),
])
def test_cue_stance_from_the_words_alone(text, stance):
    tokens = tokens_of(text)
    from roomnote.notes.risk import _INDEX
    found = classify_risk(tokens.words, _INDEX.find(tokens))
    assert [f.stance for f in found] == [stance]


def test_spoken_and_written_forms_read_alike():
    a = lines_of(risk_section(segments_of([("therapist", "any thoughts of suicide"),
                                            ("client", "no never i wouldn't do that")]))[0])
    b = lines_of(risk_section(segments_of([("therapist", "Any thoughts of suicide?"),
                                            ("client", "No, never. I wouldn't do that.")]))[0])
    assert a == b == ["suicidal_ideation:screening", "suicidal_ideation:denial"]


def test_a_late_reply_is_not_read_as_the_answer():
    turns = [("therapist", "any thoughts of suicide")]
    segs = segments_of(turns) + segments_of([("client", "no")], t0=60.0)
    items, _ = risk_section(segs)
    assert lines_of(items) == ["suicidal_ideation:screening"]
    assert items[0].text == 'Risk screening (suicidal ideation): therapist asked: "any thoughts of suicide"'


# --- the composer's call ---------------------------------------------------------------------------

@pytest.mark.parametrize("e", [x for x in EXCHANGES if x.failure], ids=[x.id for x in EXCHANGES if x.failure])
def test_the_composed_note_carries_the_risk_section(e: Exchange):
    note = compose_note(e.transcript(), "soap", facts())
    got = [(it.text, it.category) for s in note.sections for it in s.items if it.kind.startswith("risk")]
    items, flags = risk_section(e.segments())
    assert got == [(it.text, it.category) for it in items] and note.risk_flags == flags


# --- topic policy and revisions never remove a risk line ---------------------------------------

def _raw_transcript(e: Exchange) -> Transcript:
    segs = []
    for s in e.segments():
        words = s.text.split()
        step = (s.end - s.start) / len(words)
        segs.append(Segment(s.id, s.start, s.end,
                            [Word(w, s.start + n * step, s.start + (n + 1) * step, 0.9) for n, w in enumerate(words)],
                            s.speaker))
    return Transcript(segs, segs[-1].end + 1, sum(s.end - s.start for s in segs), "script/test")


@pytest.mark.parametrize("e", [x for x in EXCHANGES if x.client_disclosure or any(
    r.endswith((":past", ":denial")) for r in x.risk)], ids=lambda e: e.id)
def test_the_topic_policy_never_removes_or_shortens_a_risk_passage(e: Exchange):
    strict = RedactionPolicy(actions={t: "remove" for t in TOPICS})
    rt = redact_transcript(_raw_transcript(e), strict)
    kept_all = redact_transcript(_raw_transcript(e), RedactionPolicy(actions={t: "keep" for t in TOPICS}))
    assert sorted(lines_of(risk_section(rt.segments)[0])) == sorted(e.risk)
    for ln in assess_risk(e.segments()):
        if ln.stance in CLIENT_STANCES:
            for ev in ln.evidence:  # identifiers are redacted either way; nothing else is taken out
                strict_text = next(s.text for s in rt.segments if s.id == ev.segment_id)
                assert strict_text == next(s.text for s in kept_all.segments if s.id == ev.segment_id), e.id


def test_the_passive_statement_of_issue_15_survives_a_trauma_removal_policy_whole():
    e = next(x for x in EXCHANGES if x.id == "f5-passive-statement-kept-whole")
    rt = redact_transcript(_raw_transcript(e), RedactionPolicy(actions={"trauma_details": "remove"}))
    assert rt.segments[1].text == e.turns[1][1]
    assert rt.report.removed == 0


def test_identifiers_in_a_risk_passage_are_still_redacted():
    turns = [("client", "my husband john smith hits me when he drinks and he called me at five five five "
                        "one two three four five six seven")]
    e = Exchange("x", "spoken", turns, [], [])
    rt = redact_transcript(_raw_transcript(e), RedactionPolicy(actions={t: "remove" for t in TOPICS}))
    text = rt.segments[0].text
    assert "hits me" in text and "john" not in text and "smith" not in text and "[PHONE]" in text
    assert lines_of(risk_section(rt.segments)[0]) == ["abuse_neglect:disclosure"]


def test_revise_keeps_risk_kinds():
    assert {"risk", "risk_not_assessed"} <= _KEPT_KINDS


@pytest.mark.parametrize("instruction", ["shorter", "remove the part about the boys", "remove the part about suicide"])
def test_revisions_never_remove_a_risk_line(instruction):
    e = next(x for x in EXCHANGES if x.id == "f2-client-would-never")
    rt = e.transcript()
    note = compose_note(rt, "soap", facts())
    risk = lambda n: [it.text for s in n.sections for it in s.items if it.kind.startswith("risk")]
    try:
        v2 = revise_note(rt, note, instruction, encoder=None)
    except RevisionRefused as err:  # refusing is fine; dropping a risk line never is
        assert "risk" in str(err) or "nothing" in str(err) or "not" in str(err)
        return
    assert risk(v2) == risk(note) and v2.risk_flags == note.risk_flags


def test_a_detail_revision_may_add_but_keeps_every_risk_line():
    e = next(x for x in EXCHANGES if x.id == "si-no-plan")
    rt = e.transcript()
    note = compose_note(rt, "soap", facts())
    risk = lambda n: [it.text for s in n.sections for it in s.items if it.kind.startswith("risk")]
    try:
        v2 = revise_note(rt, note, "include more details about the feeling", encoder=None)
    except RevisionRefused:
        return
    assert set(risk(note)) <= set(risk(v2))


# --- hostile phrasings: one turn or an exchange, and the risk lines they must give ------------

@pytest.mark.parametrize("turns, expected", [
    ([("client", "Suicide has crossed my mind a few times.")], ["suicidal_ideation:disclosure"]),
    ([("client", "I have never attempted suicide.")], ["suicidal_ideation:denial"]),
    ([("client", "I- I want to die.")], ["suicidal_ideation:disclosure"]),
    ([("client", "Do you think I'd be better off dead?")], ["suicidal_ideation:disclosure"]),
    ([("therapist", "Some people in your situation think about suicide.")], ["suicidal_ideation:screening"]),
    ([("client", "My dad used to beat me.")], ["abuse_neglect:past"]),
    ([("client", "He never hit me, he just yells.")], ["abuse_neglect:denial"]),
    ([("client", "I could not wake up this morning, I was so tired.")], []),
    ([("client", "If I die, who would take care of my kids? That's why I quit smoking.")], []),
    ([("client", "I can't go on vacation this year.")], []),
    ([("therapist", "Is anyone hurting you at home?"), ("client", "Mm-hmm.")],
     ["abuse_neglect:screening", "abuse_neglect:disclosure"]),
    ([("client", "i tried to kill myself last year and i still think about it")], ["suicidal_ideation:past"]),
    ([("client", "i'm not suicidal but sometimes i wish i could just not wake up")], ["suicidal_ideation:disclosure"]),
    ([("client", "my sister cuts herself and i don't know what to do")], ["self_harm:third_party"]),
    ([("client", "We were arguing and he grabbed me by the neck.")], ["abuse_neglect:disclosure"]),
    ([("therapist", "any thoughts of hurting yourself or others"), ("client", "no")],
     ["self_harm:screening", "self_harm:denial", "harm_to_others:screening", "harm_to_others:denial"]),
    ([("client", "I feel like killing him sometimes honestly.")], ["harm_to_others:disclosure"]),
    ([("client", "Honestly I-I've been cutting the-the toxic people out of my life.")], []),
    ([("client", "he hit me when i said no")], ["abuse_neglect:disclosure"]),
    ([("client", "I took a bunch of pills last night.")], ["suicidal_ideation:disclosure"]),  # recent: current
    ([("client", "Sometimes I feel like everyone would be better off if I just disappeared.")],
     ["suicidal_ideation:disclosure"]),
    ([("therapist", "Do you have access to a gun?"), ("client", "My husband has one in the closet.")],
     ["suicidal_ideation:screening"]),
    ([("client", "I'm dying to see that new movie, it's supposed to be killer. I totally killed it at work.")], []),
    ([("therapist", "Do you feel safe at home?"), ("client", "Yes.")], ["abuse_neglect:screening", "abuse_neglect:denial"]),
    ([("therapist", "do you feel safe at home"), ("client", "no not really")],
     ["abuse_neglect:screening", "abuse_neglect:disclosure"]),
    ([("therapist", "Can you keep yourself safe tonight?"), ("client", "Yes, I can.")],
     ["suicidal_ideation:screening", "suicidal_ideation:denial"]),
    ([("client", "i don't think i can keep myself safe")], ["suicidal_ideation:disclosure"]),
    ([("client", "i don't know if i can keep myself safe")], ["suicidal_ideation:disclosure"]),
    ([("client", "I don't know if I want to kill myself or not.")], ["suicidal_ideation:disclosure"]),
    ([("client", "I don't think I'd ever hurt myself.")], ["self_harm:denial"]),
    ([("therapist", "any thoughts of not wanting to be here"), ("client", "sometimes")],
     ["suicidal_ideation:screening", "suicidal_ideation:disclosure"]),
    ([("client", "She slapped me in front of the kids.")], ["abuse_neglect:disclosure"]),
    ([("client", "I threw a plate at her and it broke on the wall.")], ["harm_to_others:disclosure"]),
    ([("client", "I kicked him out after the fight, and I keep pushing her away too.")], []),
    ([("client", "It hit me that I'd been grabbing her a coffee every day for a year.")], []),
])
def test_hostile_phrasings(turns, expected):
    items, flags = risk_section(segments_of(turns))
    assert sorted(lines_of(items)) == sorted(expected)
    if "suicidal_ideation:disclosure" in expected:
        assert items[1].category == "suicidal_ideation:summary" and flags == ["suicidal_ideation"]


@pytest.mark.parametrize("text, kept", [
    ("he hits me when he drinks and i am scared", True),  # violence going on: safety, kept
    ("my dad used to beat me with a belt", False),  # told as the past: trauma detail, the office decides
    ("i used to cut myself when i was fifteen", True),  # self-harm, past or not, is always kept
])
def test_violence_toward_the_client_is_kept_while_it_goes_on(text, kept):
    e = Exchange("x", "spoken", [("client", text)], [], [])
    rt = redact_transcript(_raw_transcript(e), RedactionPolicy(actions={"trauma_details": "remove"}))
    assert (rt.segments[0].text == text) is kept
