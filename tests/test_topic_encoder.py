"""Sensitive topics by lexicon plus the note composer's sentence encoder (the real int8
MiniLM on onnxruntime): example sentences, threshold calibrated on the dev split only,
bounds on both splits of the labelled corpus, and the wiring from the configuration."""
from __future__ import annotations

import pytest

from conftest import REPO
from roomnote.config import Config, config_from_dict
from roomnote.notes.encoder import load_encoder
from roomnote.redact import redact_transcript
from roomnote.redact.evaluate import load_corpus, topic_scores
from roomnote.redact.topics import (ENCODER_THRESHOLD, NONE, TOPICS, EncoderTopics, LexiconTopics,
                                    RedactionPolicy, load_topic_examples, policy_from_config)
from test_topics import texts, transcript

CORPUS = load_corpus(REPO / "tests" / "data" / "redaction_corpus.tsv")
SWEEP = [round(0.40 + 0.025 * k, 3) for k in range(13)]  # as bench/redaction.py


@pytest.fixture(scope="module")
def encoder(default_config):
    return load_encoder(None, default_config.models.dir)


def with_encoder(encoder, threshold=ENCODER_THRESHOLD) -> RedactionPolicy:
    return RedactionPolicy(detectors=(LexiconTopics(), EncoderTopics(encoder, load_topic_examples(), threshold)))


def split(name):
    return [s for s in CORPUS if s.split == name]


def test_examples_cover_every_topic_and_copy_nothing_from_the_corpus():
    examples = load_topic_examples()
    assert set(examples) == set(TOPICS) | {NONE}
    assert all(len(ex) >= 5 for ex in examples.values())
    corpus_text = [s.text for s in CORPUS]
    for ex in (e for exs in examples.values() for e in exs):
        assert ex == ex.lower() and not any(c.isdigit() for c in ex), ex
        words = ex.split()  # no run of six words in a row from any corpus snippet
        for k in range(len(words) - 5):
            run = " ".join(words[k:k + 6])
            assert not any(run in text for text in corpus_text), (ex, run)


def test_a_bad_example_line_is_one_clear_error(tmp_path):
    path = tmp_path / "ex.txt"
    path.write_text("politics\tthe election made me anxious\n")
    with pytest.raises(ValueError, match=r"ex.txt:1: expected 'topic<TAB>sentence'"):
        load_topic_examples(path)


def test_the_threshold_in_use_is_the_best_on_the_dev_split(encoder):
    gains = {}
    for th in SWEEP:
        sc = topic_scores(split("dev"), with_encoder(encoder, th))
        gains[th] = sum(sc.found.values()) - sc.false_total
    best = max(gains.values())
    assert ENCODER_THRESHOLD == max(th for th, g in gains.items() if g == best)


def test_the_lexicon_alone_finds_every_topic_written_with_its_cues():
    original = [s for s in CORPUS if int(s.id[1:]) <= 240]  # c241-c280 say it without cues
    assert topic_scores(original, RedactionPolicy()).recall() == 1.0


@pytest.mark.parametrize("name", ["dev", "test"])
def test_the_encoder_adds_recall_at_a_false_flag_or_so(encoder, name):
    lexicon = topic_scores(split(name), RedactionPolicy())
    both = topic_scores(split(name), with_encoder(encoder))
    assert lexicon.recall() <= 0.6, lexicon.misses
    assert both.recall() >= 0.75, both.misses
    assert both.recall() >= lexicon.recall() + 0.15
    assert both.false_total <= lexicon.false_total + 1, both.false_flags
    assert not set(lexicon.false_flags) - set(both.false_flags)  # a union: never fewer


def test_topic_free_dialogue_gets_no_flag_from_the_encoder(encoder):
    import test_notes

    lines = [text for name in ("SESSION", "NO_RISK", "DISCLOSURE") for _, text in getattr(test_notes, name)]
    rt = redact_transcript(transcript(*lines), with_encoder(encoder))
    assert rt.report.topics == {}


def test_a_paraphrase_the_lexicon_misses_is_removed_with_the_encoder(encoder):
    said = "they might deport me if they find out my papers expired"  # lexicon: immigration
    unsaid = "i'm scared they will send me back to guatemala"
    kept = "work has been really busy lately"
    plain = redact_transcript(transcript(unsaid, kept))
    assert texts(plain)[0].startswith("i'm scared they will send me back to") and not plain.report.topics
    rt = redact_transcript(transcript(said, unsaid, kept), with_encoder(encoder))
    assert texts(rt) == ["", "", kept]
    assert rt.report.topics == {} and rt.report.removed == 2


def test_policy_from_config_uses_the_encoder_when_given_and_turned_on(encoder):
    on = policy_from_config(Config().redaction, encoder)
    assert [type(d) for d in on.detectors] == [LexiconTopics, EncoderTopics]
    assert on.detectors[1].threshold == ENCODER_THRESHOLD
    assert [type(d) for d in policy_from_config(Config().redaction).detectors] == [LexiconTopics]
    off = config_from_dict({"redaction": {"topic_encoder": False}})
    assert [type(d) for d in policy_from_config(off.redaction, encoder).detectors] == [LexiconTopics]
