"""`roomnote compose TRANSCRIPT.json`: the transcript format, one-line errors, clinical
sentences from written and spoken form, roles read from the talk, details that survive,
and the grounding check on every sentence."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from roomnote.cli import main
from roomnote.errors import ModelError
from roomnote.models import load_manifest, verify_model
from roomnote.notes import compose_note
from roomnote.notes.classify import CLASSIFIER_MODEL, load_classifier
from roomnote.notes.details import find_details
from roomnote.notes.encoder import load_encoder
from roomnote.notes.generator import unsupported_items
from roomnote.notes.matching import Tokens
from roomnote.notes.mi import shape
from roomnote.notes.prose import sentence_problem
from roomnote.notes.transcript_file import parse_transcript
from roomnote.redact import redact_transcript

# A short alcohol session, written the way whisper writes (cased, punctuated).
WRITTEN = [
    ("therapist", "How has your week been since we last met?"),
    ("client", "Honestly, not great. I've been drinking about ten drinks a weekend, Thursday to Sunday, "
               "but it's not out of control."),
    ("therapist", "It sounds like part of you is worried about it, and part of you feels it's fine."),
    ("client", "I want to cut down before my doctor's appointment next month. It started after my divorce "
               "two years ago."),
    ("therapist", "What would be different if you drank less?"),
    ("client", "I'd have more energy for my kids, and I'd stop fighting with my wife about it."),
    ("therapist", "Would you be willing to keep a log of your drinks this week?"),
    ("client", "Okay, I can try that. I'll write it down every night."),
    ("therapist", "Good. I'll see you next week at the same time."),
]


def spoken(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def as_json(lines, speakers=True, form=lambda t: t) -> dict:
    segs, t = [], 0.0
    for i, (who, text) in enumerate(lines):
        dur = max(1.0, len(text.split()) / 2.5)
        segs.append({"id": f"s{i + 1:04d}", "speaker": who if speakers else "unknown",
                     "start": round(t, 2), "end": round(t + dur, 2), "text": form(text)})
        t += dur + 0.5
    return {"segments": segs, "engine": "test/transcript", "started_at": "2026-01-05T10:00:00+00:00",
            "duration": 3000.0}


@pytest.fixture(scope="module")
def encoder(default_config):
    return load_encoder(None, default_config.models.dir)


def compose(data, encoder, fmt="soap"):
    from roomnote.notes import SessionFacts

    tf = parse_transcript(data)
    t = tf.transcript
    rt = redact_transcript(t)
    facts = SessionFacts("test", "box-test", tf.started_at, tf.started_at, t.duration, t.speech, t.engine, None)
    return compose_note(rt, fmt, facts, encoder=encoder), rt


def items(note):
    return [it for s in note.sections for it in s.items]


def test_compose_prints_the_note_and_writes_its_files(tmp_path, capsys):
    path = tmp_path / "session.json"
    path.write_text(json.dumps(as_json(WRITTEN)))
    out = tmp_path / "out"
    assert main(["-q", "compose", str(path), "--format", "dap", "--out", str(out), "--format-out", "json,md,txt"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# DAP note") and "Risk not assessed in this session." in printed
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 3 and any(f.endswith(".txt") for f in files)
    note = json.loads(next(out.glob("*.json")).read_text())
    assert note["format"] == "dap" and note["speaker_roles"] == "enrolled voice"
    assert note["session"]["started_at"].startswith("2026-01-05T10:00:00")
    assert note["composer"]["classifier"] == CLASSIFIER_MODEL


@pytest.mark.parametrize("mutate, says", [
    (lambda d: d["segments"][2].pop("end"), "segment 3 (s0003): 'end' is missing"),
    (lambda d: d["segments"][1].update(start="soon"), "segment 2 (s0002): 'start' must be a number"),
    (lambda d: d["segments"][0].update(speaker="doctor"), "segment 1 (s0001): 'speaker' must be one of"),
    (lambda d: d["segments"][3].update(end=0.5), "segment 4 (s0004): 'end' (0.5) is before 'start'"),
    (lambda d: d["segments"][4].update(id="s0001"), "segment 5 (s0001): 'id' is used by an earlier segment"),
    (lambda d: d["segments"][5].update(text=["words"]), "segment 6 (s0006): 'text' must be a string"),
    (lambda d: d.pop("segments"), "expected an object with a 'segments' list"),
])
def test_bad_input_gets_one_line_naming_segment_and_field(tmp_path, capsys, mutate, says):
    data = as_json(WRITTEN)
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main(["-q", "compose", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and says in err and "fix the transcript" in err
    assert not (tmp_path / "out").exists()  # nothing written, nothing lost


def test_not_json_is_one_line_too(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"segments": [')
    assert main(["-q", "compose", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not valid JSON (line 1" in err and "\n" not in err


@pytest.mark.parametrize("form", [lambda t: t, spoken], ids=["written", "spoken"])
def test_clinical_sentences_from_written_and_spoken_form(encoder, form):
    note, rt = compose(as_json(WRITTEN, form=form), encoder)
    text = "\n".join(it.text for it in items(note))
    # the facts that must survive: substance, amount, frequency, onset, goal, homework, appointment
    assert re.search(r"Client reported alcohol use, amount or frequency: \"[^\"]*ten drinks a weekend", text, re.I)
    assert re.search(r"two years ago", text, re.I)
    # spoken form has no sentence ends: the goal may share its chunk with the onset detail
    assert re.search(r"Client (stated a goal|reported [^:]*): \"[^\"]*cut down", text, re.I)
    assert re.search(r"Homework agreed: \"[^\"]*keep a log[^\"]*\"; client said: \"okay", text, re.I)
    assert re.search(r"Next appointment: \"[^\"]*next week", text, re.I)
    assert "Presenting concern as discussed: alcohol use." in text
    for it in items(note):  # every line a sentence, every quote verbatim and short
        if it.kind in ("quote", "goal", "response", "plan", "assessment", "intervention", "theme"):
            assert not it.text.startswith('"') and it.text.endswith((".", '"...', '."', '?"', '!"')), it.text
    assert unsupported_items(note, rt) == []


def test_an_intervention_needs_the_therapists_turn_and_the_classifier(encoder):
    note, _ = compose(as_json(WRITTEN), encoder)
    speaker = {f"s{i + 1:04d}": who for i, (who, _) in enumerate(WRITTEN)}
    claimed = {it.category: it for it in items(note) if it.kind == "intervention"}
    assert "eliciting change talk" in claimed or "open questions" in claimed
    for it in claimed.values():
        assert {speaker[e.segment_id] for e in it.evidence} == {"therapist"}
        assert it.text.startswith("Therapist used ")
    # a client who asks about counselling, or lectures, is never credited with a technique
    lines = [("client", "Have you ever tried exposure therapy or counselling for this kind of thing?"),
             ("client", "It sounds like you think I should face the situation step by step.")]
    note, _ = compose(as_json(lines), encoder)
    assert not [it for it in items(note) if it.kind == "intervention"]


def test_without_an_enrolled_voice_roles_come_from_the_talk(encoder):
    data = as_json(WRITTEN)
    for seg, (who, _) in zip(data["segments"], WRITTEN):
        seg["speaker"] = "speaker 1" if who == "therapist" else "speaker 2"
    note, _ = compose(data, encoder)
    assert note.speaker_roles == "inferred from the talk" and note.speakers_identified
    facts = " ".join(it.text for it in items(note) if it.kind == "fact")
    assert "No therapist voice was enrolled: speaker roles were inferred from the talk" in facts
    speaker = {f"s{i + 1:04d}": who for i, (who, _) in enumerate(WRITTEN)}
    for it in items(note):
        if it.kind in ("quote", "goal", "response"):
            assert {speaker[e.segment_id] for e in it.evidence} == {"client"}, it.text


def test_unknown_speakers_never_put_therapist_words_in_the_clients_mouth(encoder):
    note, _ = compose(as_json(WRITTEN, speakers=False), encoder)
    speaker = {f"s{i + 1:04d}": who for i, (who, _) in enumerate(WRITTEN)}
    for it in items(note):
        if it.kind in ("quote", "goal", "response") and note.speakers_identified:
            assert {speaker[e.segment_id] for e in it.evidence} == {"client"}, it.text
        if not note.speakers_identified and it.kind != "fact":
            assert not re.search(r"\b(client|therapist)\b", it.text, re.I)


def test_turn_shapes():
    def kinds(text):
        tok = Tokens.of(text)
        return {k for k, v in shape(tok, 0, len(tok)).items() if v}

    assert kinds("What would be different if you drank less?") == {"open question"}
    assert kinds("so how are you feeling about that") == {"open question"}
    assert kinds("Do you drink every day?") == {"closed question"}
    assert kinds("It sounds like the weekends are the hardest.") == {"reflection"}
    assert kinds("You're worried about what your kids see.") == {"reflection"}
    assert kinds("I've been drinking too much.") == set()


def test_details_found_in_both_forms():
    for text in ("I have about ten drinks a weekend, Thursday to Sunday.",
                 "i have about ten drinks a weekend thursday to sunday"):
        cats = {(f.category, f.label) for f in find_details(Tokens.of(text))}
        assert ("substance", "alcohol") in cats and ("amount", "amount") in cats
    cats = {f.category for f in find_details(Tokens.of("my doctor put me on sertraline 50 mg two years ago"))}
    assert {"medication", "amount", "onset"} <= cats
    assert not find_details(Tokens.of("we went to the movies on friday"))


def test_a_sentence_that_says_more_than_its_evidence_is_not_emitted():
    cited = "i have been drinking about ten drinks a weekend"
    assert sentence_problem('Client reported alcohol use: "drinking about ten drinks a weekend".', cited) is None
    assert sentence_problem("Client reported drinking twelve drinks a weekend.", cited)  # number not said
    assert sentence_problem("Client reported drinking heavily with coworkers.", cited)  # words not said
    assert sentence_problem("Client denies drinking.", cited)


def test_the_classifier_is_pinned(tmp_path, default_config):
    manifest = load_manifest()
    entry = manifest.get(CLASSIFIER_MODEL)
    root = verify_model(entry, default_config.models.dir)
    assert load_classifier(manifest, default_config.models.dir).labels["client"] == ("change", "neutral", "sustain")
    bad = tmp_path / "models"
    shutil.copytree(root, bad / "note-classifiers")
    with open(bad / "note-classifiers" / "heads.npz", "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01")
    with pytest.raises(ModelError, match="does not match its SHA-256"):
        load_classifier(manifest, bad)
