"""The note shows how many passages touched each sensitive topic (counts, never words), and
`roomnote process` detects topics with the configured sentence encoder as well as the lexicon."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from conftest import run_roomnote
from roomnote.notes import to_dict, to_markdown
from roomnote.notes.render import to_text
from roomnote.pipeline import note_from_transcript, session_facts
from roomnote.redact.egress import check_egress
from roomnote.redact.topics import LexiconTopics, policy_from_config
from test_topics import transcript

TURNS = [
    "i was arrested last year and it still follows me",
    "i tested positive for hepatitis and my viral load is high",
    "work has been stressful and i have not been sleeping well",
]
TOPIC_WORDS = {"arrested", "hepatitis", "viral"}


def words(text: str) -> set[str]:
    return set(text.lower().replace(",", " ").replace(":", " ").split())


def test_topic_counts_in_json_markdown_and_text_without_the_words(default_config):
    t = transcript(*TURNS)
    facts = session_facts(default_config, t, datetime.now(timezone.utc), "sess-topics")
    note = note_from_transcript(t, "soap", facts, policy=policy_from_config(default_config.redaction))
    # criminal history is removed by default, so it is counted but never named
    assert note.topic_counts == {"infectious_disease": 2} and note.removed_passages == 1
    d = json.loads(json.dumps(to_dict(note)))
    assert d["topic_counts"] == {"infectious_disease": 2} and d["removed_passages"] == 1
    md, text = to_markdown(note), to_text(note)
    line = ("Sensitive-topic passages: 1 removed by office policy; "
            "generalized or kept: infectious_disease 2")
    assert line in md and line in " ".join(text.split())
    for out in (json.dumps(d), md, text):
        assert "criminal" not in out
    tail = text.split("Identifiers removed on the device")[1].splitlines()
    assert len(tail) == 3 and all(len(line) <= 78 for line in tail)  # wrapped like the items
    for out in (json.dumps(d), md, text):
        assert not words(out) & TOPIC_WORDS
    check_egress(d)


def test_a_note_without_topics_has_an_empty_count_and_no_line(default_config):
    t = transcript(TURNS[2])
    facts = session_facts(default_config, t, datetime.now(timezone.utc), "sess-plain")
    note = note_from_transcript(t, "soap", facts)
    assert to_dict(note)["topic_counts"] == {}
    assert "Sensitive-topic" not in to_markdown(note) and "Sensitive-topic" not in to_text(note)


# Said without any of the lexicon's cue words: only the encoder can tell what it is about.
PARAPHRASE = "I am scared that they will send me back to my country."
SPEECH = [
    ("rms", "Hello, welcome back. How has your week been?"),
    ("slt", PARAPHRASE),
    ("rms", "That sounds frightening. Let us talk about what helps when you feel that way."),
]


def test_process_detects_a_topic_only_the_encoder_knows(tmp_path, make_speech):
    assert not LexiconTopics().topics([PARAPHRASE.lower().strip(".")])[0]
    wav = make_speech(SPEECH, "topic-paraphrase")
    out = tmp_path / "out"
    r = run_roomnote("process", str(wav), "--out", str(out), "--format-out", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (path,) = out.glob("*.json")
    note = json.loads(path.read_text())
    assert note["removed_passages"] == 1 and note["topic_counts"] == {}, note
    assert not words(path.read_text()) & {"scared", "country"}  # the passage was removed
