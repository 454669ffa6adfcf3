"""Recall and precision of the redactor on the labelled spoken-style corpus, and the hard
cases of issue 4: every Safe Harbor kind as spoken, names that are words, numbers that are
not identifiers.

tests/data/redaction_corpus.tsv says how it is written; its test split was held out while
the detectors were built. bench/redaction.py prints the full table (and the peers').
"""
from __future__ import annotations

import pytest

from conftest import REPO
from roomnote.redact import find_phi, redact_text
from roomnote.redact.evaluate import load_corpus, parse_line, roomnote_predict, score
from roomnote.redact.spans import KINDS, SAFE_HARBOR
from roomnote.redact.topics import TOPICS

CORPUS = REPO / "tests" / "data" / "redaction_corpus.tsv"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def test_corpus_is_big_and_covers_every_kind_and_topic(corpus):
    assert len(corpus) >= 150
    assert {s.split for s in corpus} == {"dev", "test"}
    assert sum(s.split == "test" for s in corpus) >= 75
    kinds = {label for s in corpus for label in s.labels if label}
    assert kinds == set(KINDS) == set(SAFE_HARBOR)
    topics = {t for s in corpus for t in s.topics}
    assert topics == set(TOPICS) | {"safety"}
    for s in corpus:  # spoken style: lowercase, no punctuation, no digits
        assert s.text == s.text.lower() and not any(c.isdigit() for c in s.text), s.id
        assert not set(s.text) & set(".,;:!?\""), s.id


@pytest.mark.parametrize("split", ["dev", "test"])
def test_recall_and_precision_bounds(corpus, split):
    s = score([c for c in corpus if c.split == split], roomnote_predict)
    assert s.recall() >= 0.99, s.misses
    assert s.precision() >= 0.95, s.false_hits
    for kind in ("PHONE", "EMAIL", "SSN", "DATE", "FAX"):
        assert s.recall(kind) == 1.0, (kind, s.misses)


def test_whole_corpus_meets_the_targets(corpus):
    s = score(corpus, roomnote_predict)
    assert s.recall() >= 0.995, s.misses
    assert s.precision() >= 0.90, s.false_hits


def test_corpus_markup_parses_to_token_labels():
    s = parse_line("c9\tdev\tsafety,substance_use\tcall {PHONE five five five one two one two} now")
    assert s.tokens == tuple("call five five five one two one two now".split())
    assert s.labels == (None,) + ("PHONE",) * 7 + (None,)
    assert s.topics == {"safety", "substance_use"}


# Each Safe Harbor kind as spoken, with what must come out.
SPOKEN_KINDS = [
    ("my grandmother is ninety four years old", "my grandmother is [AGE] years old"),
    ("she turned a hundred and two", "she turned [AGE]"),
    ("i grew up in sacramento", "i grew up in [PLACE]"),
    ("we lived in los angeles county for years", "we lived in [PLACE] for years"),
    ("i moved here from tacoma", "i moved here from [PLACE]"),
    ("the zip is six oh six one four", "the zip is [ZIP]"),
    ("the fax is five five five two two one nine nine eight eight", "the fax is [FAX]"),
    ("my ssn is four one two eight eight nine nine oh one", "my ssn is [SSN]"),
    ("last four of my social are six six two one", "last four of my social are [SSN]"),
    ("my medical record number is four four five five six six", "my medical record number is [MRN]"),
    ("my medicaid id is x y z one two three four five", "my medicaid id is [HEALTH_PLAN]"),
    ("my routing number is oh two one oh oh oh oh two one", "my routing number is [ACCOUNT]"),
    ("my driver's license is d four five six one two three", "my driver's license is [LICENSE]"),
    ("my license plate is seven x y z one two three", "my license plate is [VEHICLE]"),
    ("the serial number on my pump is k four seven two two nine", "the serial number on my pump is [DEVICE]"),
    ("my website is www dot sarahs bakery dot com", "my website is [URL]"),
    ("look at tom riley photos dot net slash blog", "look at [URL]"),
    ("my ip is ten dot oh dot oh dot fifty five", "my ip is [IP]"),
    ("my instagram is jess underscore runs eighty eight", "my instagram is [NUMBER]"),
    ("the case number is c r two oh two four one one", "the case number is [NUMBER]"),
    ("we broke up on valentine's day", "we broke up on [DATE]"),
    ("the appointment is on the twenty third", "the appointment is on the [DATE]"),
    ("it was the fifth or sixth of june", "it was the [DATE]"),
    ("the clinic is five five five seven oh oh oh", "the clinic is [PHONE]"),
]


@pytest.mark.parametrize("text, expected", SPOKEN_KINDS)
def test_every_kind_as_spoken(text, expected):
    assert redact_text(text)[0] == expected


# Hard cases: names that are words, numbers that are not identifiers, places that are words.
HARD_NAMES = [
    ("i hope it works out", "i hope it works out"),
    ("my sister hope called", "my sister [NAME] called"),
    ("i will call you", "i will call you"),
    ("will said he would come", "[NAME] said he would come"),
    ("i hope will calls me back", "i hope [NAME] calls me back"),
    ("mark my words", "mark my words"),
    ("doctor mark alvarez", "doctor [NAME]"),
    ("a rose by any other name", "a rose by any other name"),
    ("my daughter rose is six", "my daughter [NAME] is six"),
    ("she has a lot of grace", "she has a lot of grace"),
    ("my girlfriend grace thinks so", "my girlfriend [NAME] thinks so"),
    ("my cousin april lives with us", "my cousin [NAME] lives with us"),
    ("joy my social worker says i qualify", "[NAME] my social worker says i qualify"),
    ("i felt so much joy", "i felt so much joy"),
    ("i love reading before bed", "i love reading before bed"),
    ("i used to live in reading", "i used to live in [PLACE]"),
    ("my mobile died", "my mobile died"),
    ("he's from mobile", "he's from [PLACE]"),
    ("my friend austin lives in austin", "my friend [NAME] lives in [PLACE]"),
    ("the white house", "the white house"),
    ("we're from dayton ohio", "we're from [PLACE] ohio"),  # states may stay
]
HARD_NUMBERS = [
    "i slept five hours",
    "the pain was ten out of ten",
    "i've been sober for ninety days",
    "he was ninety percent sure",
    "i got a ninety on the test",
    "my blood pressure was one forty over ninety",
    "i'm thirty two and my mom is sixty seven",
    "it was nineteen ninety eight when we moved",
    "i count backwards five four three two one",
    "we meet on the first and third monday",
    "i take fifty milligrams of sertraline",
    "i went to bed at eleven and woke up at four",
    "my credit score is like six fifty",
    "we had like a hundred people at the funeral",
    "it was the second time this week",
    "i'm on the third floor",
    "i spend way too much time on facebook dot com",
    "vitamin d three every morning",
]


@pytest.mark.parametrize("text, expected", HARD_NAMES)
def test_names_and_places_that_are_words(text, expected):
    assert redact_text(text)[0] == expected


@pytest.mark.parametrize("text", HARD_NUMBERS)
def test_numbers_that_are_not_identifiers(text):
    assert find_phi(text) == []
