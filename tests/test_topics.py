"""Sensitive topics per office (remove | generalize | keep), safety content that always
stays, pseudonyms, the report (counts only) and no session words in logs or errors."""
from __future__ import annotations

import dataclasses
import logging
import zlib
from datetime import datetime, timezone

import numpy as np
import pytest

from conftest import REPO
from roomnote.config import Config, config_from_dict
from roomnote.errors import ConfigError
from roomnote.redact import DEFAULT_ACTIONS, TOPICS, RedactionPolicy, redact_transcript
from roomnote.redact.egress import EgressError, check_egress
from roomnote.redact.evaluate import load_corpus
from roomnote.redact.topics import (EncoderTopics, LexiconTopics, decide, is_safety, policy_from_config,
                                    split_passages)
from roomnote.transcript import Segment, Transcript, Word


def transcript(*texts: str) -> Transcript:
    segs = [Segment(f"s{n:04d}", float(n), n + 0.9, [Word(w, n, n + 0.1, 0.9) for w in t.split()], "client")
            for n, t in enumerate(texts)]
    return Transcript(segs, duration=len(texts) + 1.0, speech=float(len(texts)), engine="test")


def texts(rt) -> list[str]:
    return [s.text for s in rt.segments]


def policy(**actions: str) -> RedactionPolicy:
    return RedactionPolicy(actions={**DEFAULT_ACTIONS, **actions})


# One example per topic (from the corpus style); each has a neutral clause after it.
EXAMPLES = {
    "criminal_history": "i spent eighteen months in prison",
    "immigration_status": "i'm worried about being deported",
    "sexual_orientation": "i think i might be bisexual",
    "gender_identity": "i came out as transgender to my mom",
    "trauma_details": "my uncle molested me when i was eight",
    "substance_use": "i've been drinking about six beers a night",
    "infectious_disease": "i tested positive for hepatitis c",
    "reproductive_health": "i had a miscarriage in the fall",
}
NEUTRAL = "and work has been really stressful lately"


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("action", ["remove", "generalize", "keep"])
def test_each_topic_follows_the_office_policy(topic, action):
    rt = redact_transcript(transcript(f"{EXAMPLES[topic]} {NEUTRAL}"), policy(**{topic: action}))
    text = texts(rt)[0]
    if action == "remove":  # dropped, and the topic is not named in the report
        assert rt.report.removed == 1 and topic not in rt.report.topics
    else:
        assert rt.report.topics.get(topic) == 1 and rt.report.removed == 0
    assert NEUTRAL in text  # only the passage about the topic is touched
    if action == "keep":
        assert EXAMPLES[topic].split()[-1] in text
    else:
        for word in set(EXAMPLES[topic].split()) - set(NEUTRAL.split()) - {"i", "a", "in", "my", "to", "for", "the"}:
            assert word not in text.split(), (word, text)
    if action == "generalize":
        label = topic.replace("_", " ").replace("infectious disease", "infectious disease status")
        assert text.startswith(f"[discussed: {label}]")
    if action == "remove":
        assert text == NEUTRAL


def test_defaults_remove_the_four_usual_topics_and_the_config_can_change_them():
    assert {t for t, a in DEFAULT_ACTIONS.items() if a == "remove"} == {
        "criminal_history", "immigration_status", "sexual_orientation", "gender_identity", "trauma_details"}
    assert policy_from_config(Config().redaction).actions == DEFAULT_ACTIONS
    cfg = config_from_dict({"redaction": {"pseudonyms": False,
                                          "topics": {"substance_use": "generalize", "trauma_details": "keep"}}})
    p = policy_from_config(cfg.redaction)
    assert p.actions["substance_use"] == "generalize" and p.actions["trauma_details"] == "keep"
    assert p.actions["criminal_history"] == "remove" and p.pseudonyms is False


@pytest.mark.parametrize("raw, message", [
    ({"redaction": {"topics": {"substance_use": "delete"}}},
     "redaction.topics.substance_use: expected one of remove, generalize, keep, got 'delete'"),
    ({"redaction": {"topics": {"politics": "remove"}}}, "redaction.topics.politics: unknown key"),
])
def test_a_bad_topic_policy_is_one_clear_error(raw, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    assert message in str(err.value)


SAFETY = [
    "i was arrested and then i felt like killing myself",
    "my uncle abused me and i've been cutting myself again",
    "i'm undocumented and sometimes i want to die",
    "i want to kill him if he touches my sister again",
    "my sister hope found me after i tried to kill myself at four twelve maple street",
]


@pytest.mark.parametrize("text", SAFETY)
def test_safety_statements_survive_topic_removal(text):
    strict = RedactionPolicy(actions={t: "remove" for t in TOPICS})
    out = texts(redact_transcript(transcript(text), strict))[0]
    for cue in ("killing myself", "cutting myself", "want to die", "kill him", "tried to kill myself"):
        if cue in text:
            assert cue in out, out


def test_identifiers_inside_safety_statements_are_still_redacted():
    out = texts(redact_transcript(transcript(SAFETY[-1])))[0]
    assert out == "my sister [Person A] found me after i tried to kill myself at [ADDRESS]"


def test_safety_snippets_of_the_corpus_all_keep_their_words():
    strict = RedactionPolicy(actions={t: "remove" for t in TOPICS})
    corpus = [s for s in load_corpus(REPO / "tests" / "data" / "redaction_corpus.tsv") if "safety" in s.topics]
    assert len(corpus) >= 5
    for s in corpus:
        out = texts(redact_transcript(transcript(s.text), strict))[0]
        safety = [(a, b) for a, b in split_passages(s.tokens) if is_safety(s.tokens[a:b])]
        assert safety, s.id
        for a, b in safety:  # each safety clause is there, with only its identifiers replaced
            kept = [t for t, label in zip(s.tokens[a:b], s.labels[a:b]) if not label]
            assert all(t in out.split() for t in kept), (s.id, out)


def test_passages_are_clauses_of_a_segment():
    tokens = "i was arrested last year and then i felt better so we moved".split()
    assert [" ".join(tokens[a:b]) for a, b in split_passages(tokens)] == [
        "i was arrested last year", "and then i felt better", "so we moved"]
    assert split_passages("and so".split()) == [(0, 2)]
    assert split_passages([]) == []


def test_generalized_passages_in_a_row_say_so_once():
    rt = redact_transcript(transcript("i tested positive for hiv and my viral load is high and i'm scared"))
    assert texts(rt)[0] == "[discussed: infectious disease status] and i'm scared"
    assert rt.report.topics == {"infectious_disease": 2}


def test_pseudonyms_stay_the_same_for_one_person_across_the_note():
    rt = redact_transcript(transcript(
        "my name is sarah johnson", "my sister hope called", "sarah is tired and hope is too",
        "johnson is my married name", "doctor patel said"))
    assert texts(rt) == ["my name is [Person A]", "my sister [Person B] called",
                         "[Person A] is tired and [Person B] is too", "[Person A] is my married name",
                         "doctor [Person C] said"]
    plain = redact_transcript(transcript("my sister hope called"), RedactionPolicy(pseudonyms=False))
    assert texts(plain) == ["my sister [NAME] called"]


def test_years_and_relative_times_stay():
    out = texts(redact_transcript(transcript(
        "last week was hard and in nineteen ninety eight we moved and next tuesday i see my mom")))[0]
    assert out == "last week was hard and in nineteen ninety eight we moved and next tuesday i see my mom"


class BagOfWords:
    """A real (if tiny) sentence encoder: hashed bag of words, L2-normalised rows."""

    def encode(self, sentences):
        out = np.zeros((len(sentences), 64), np.float32)
        for i, s in enumerate(sentences):
            for w in s.split():
                out[i, zlib.crc32(w.encode()) % 64] += 1.0  # deterministic, unlike hash()
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_an_encoder_can_add_topic_detections():
    enc = EncoderTopics(BagOfWords(), {"immigration_status": ["my papers ran out last spring"]}, threshold=0.5)
    p = RedactionPolicy(detectors=(LexiconTopics(), enc))
    text = "my papers ran out in the spring and work is fine"
    assert not LexiconTopics().topics([text])[0]  # the lexicon alone misses it
    decisions = decide(text.split(), p)
    assert [d.action for d in decisions] == ["remove", "keep"]
    assert texts(redact_transcript(transcript(text), p)) == ["and work is fine"]


SESSION = [
    "my name is sarah johnson and my sister hope lives in fresno",
    "call me at five five five two one three four four seven eight",
    "my ssn is four one two eight eight nine nine oh one",
    "i was arrested last year and i'm undocumented",
    "i tested positive for hiv and my birthday is march fourteenth",
]
VALUES = ["sarah", "johnson", "hope", "fresno", "five", "eight", "arrested", "undocumented", "hiv",
          "march", "fourteenth"]


def test_no_log_line_report_or_error_carries_a_redacted_value(caplog, default_config):
    from roomnote.notes import to_dict, to_markdown
    from roomnote.pipeline import note_from_transcript, session_facts

    caplog.set_level(logging.DEBUG)
    t = transcript(*SESSION)
    facts = session_facts(default_config, t, datetime.now(timezone.utc), "sess1")
    rt = redact_transcript(transcript(*SESSION))
    note = note_from_transcript(t, "soap", facts, policy=policy_from_config(default_config.redaction))
    report = repr(dataclasses.asdict(rt.report))
    assert rt.report.counts and rt.report.topics
    assert all(isinstance(v, int) for v in [*rt.report.counts.values(), *rt.report.topics.values()])
    with pytest.raises(EgressError) as err:
        check_egress({"sections": [{"items": [{"text": s}]} for s in SESSION]})
    outputs = [report, str(err.value), caplog.text, repr(to_dict(note)), to_markdown(note),
               " ".join(texts(rt))]
    for text in outputs:
        words = set(text.lower().replace("'", " ").replace(",", " ").split())
        for value in VALUES:
            assert value not in words, (value, text[:200])
    check_egress(to_dict(note))  # and the note itself passes the egress re-scan
