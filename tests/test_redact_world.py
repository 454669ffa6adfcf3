"""Issue 14: redaction that holds on identifiers nobody here wrote.

One test per pattern the outside evaluation found missing, each in both forms a recogniser
gives: written (Whisper: cased, punctuated, digits) and spoken (vosk/pocketsphinx: lowercase,
numbers as words). Identifiers are marked {like this}: every marked word must be removed and
no other word. Then ordinary counselling words that are also names or towns must stay, and the
generated Faker corpus (tests/redaction_gen.py, a fixed seed) must hold per kind.
"""
from __future__ import annotations

import re

import pytest

from roomnote.redact import find_phi, redact_text

_MARK = re.compile(r"\{([^{}]+)\}")


def marked(text: str) -> tuple[str, list[bool]]:
    """ "I grew up in {Wakaiti}." -> ("I grew up in Wakaiti.", [False, False, False, False, True])"""
    tokens: list[str] = []
    gold: list[bool] = []
    pos = 0
    for m in _MARK.finditer(text):
        for w in text[pos : m.start()].split():
            tokens.append(w)
            gold.append(False)
        for w in m.group(1).split():
            tokens.append(w)
            gold.append(True)
        pos = m.end()
    for w in text[pos:].split():
        tokens.append(w)
        gold.append(False)
    # punctuation right after a mark clings to the identifier's last word, as Whisper writes it
    out: list[str] = []
    flags: list[bool] = []
    for t, g in zip(tokens, gold):
        if out and re.fullmatch(r"[.,;:!?]+", t):
            out[-1] += t
            continue
        out.append(t)
        flags.append(g)
    return " ".join(out), flags


def removed(text: str) -> list[bool]:
    flags = [False] * len(text.split())
    for span in find_phi(text):
        flags[span.start : span.end] = [True] * (span.end - span.start)
    return flags


def check(case: str) -> None:
    text, gold = marked(case)
    got = removed(text)
    words = text.split()
    missed = [w for w, g, r in zip(words, gold, got) if g and not r]
    extra = [w for w, g, r in zip(words, gold, got) if r and not g]
    assert not missed and not extra, f"{text!r}: missed {missed}, removed too {extra}"


# (written, spoken) pairs, per pattern of the "What it misses"
PATTERNS = {
    "names outside the census lists": [
        ("My name is {Przemysław Madajczyk.}", "my name is {przemyslaw madajczyk}"),
        ("I talked to {Siobhan} about it yesterday.", "i talked to {siobhan} about it yesterday"),
        ("{Bidayet} keeps calling me late at night.", "{bidayet} keeps calling me late at night"),
        ("So {Nneka} and I broke up last month.", "so {nneka} and i broke up last month"),
        ("Her husband {Janko Stojanov} works nights.", "her husband {janko stojanov} works nights"),
        ("I saw {Oluwaseun} at church on Sunday.", None),  # capitals alone say it; speech needs a cue
    ],
    "particles": [
        ("My name is {Isabel van den Berg.}", "my name is {isabel van den berg}"),
        ("I met with {Pieter van der Veen} from the agency.", "i met with {pieter van der veen} from the agency"),
        ("Her boss is {Maria de la Cruz.}", "her boss is {maria de la cruz}"),
    ],
    "clinicians after doctor": [
        ("{Dr.|doctor} {Waghorn} told me to come here.", None),
        ("I asked {Dr.|doctor} {Okonkwo-Adeyemi} for a letter.", None),
        ("{Ms.|miz} {Pradana} runs the group on Tuesdays.", None),
    ],
    "possessives": [
        ("It was {Jake's} idea to move out.", "it was {jake's} idea to move out"),
        ("It was {Chakrika's} idea to move out.", "it was {chakrika's} idea to move out"),
        ("My brother {Ozren} came over. Later {Ozren's} car broke down.",
         "my brother {ozren} came over later {ozren's} car broke down"),
    ],
    "addresses abroad and units": [
        ("I live at {Hauptstraße 12.}", "i live at {hauptstrasse twelve}"),
        ("We moved to {Calle Mayor 3, Piso 2} in the spring.",
         "we moved to {calle mayor three piso two} in the spring"),
        ("My mom's house is on {Beethovensvej.}", "my mom's house is on {beethovensvej}"),
        ("The shelter is at {802 Roy Hollow Apt. 559,} near the bus stop.",
         "the shelter is at {eight oh two roy hollow apartment five fifty nine} near the bus stop"),
        ("Our new apartment is {Suite 665.}", "our new apartment is {suite six sixty five}"),
        ("I live at {Jalan Ahmad Yani No. 8.}", "i live at {jalan ahmad yani number eight}"),
    ],
    "small towns and places abroad": [
        ("I grew up in {Eggenburg.}", "i grew up in {eggenburg}"),
        ("She lives in {Wakaiti} now.", "she lives in {wakaiti} now"),
        ("He moved to {Krásné Údolí} after the divorce.", "he moved to {krasne udoli} after the divorce"),
        ("Things were different back in {North Paul.}", "things were different back in {north paul}"),
        ("My family is from {Ostrowiec Świętokrzyski} originally.",
         "my family is from {ostrowiec swietokrzyski} originally"),
    ],
    "emails and urls with any ending": [
        ("Email me at {marisol.v@onet.pl.}", "email me at {marisol dot v at onet dot p l}"),
        ("My blog is {www.sklep-ogrodowy.pl.}", "my blog is {w w w dot sklep dash ogrodowy dot p l}"),
        ("He posts on {https://www.oderwald.de/}", "he posts on {www dot oderwald dot de}"),
        ("She wrote from {liepina@cukon.lv} last week.", "she wrote from {liepina at cukon dot l v} last week"),
        ("My site is {monteiro.edu.br.}", "my site is {monteiro dot edu dot br}"),
    ],
    "ip first octet": [
        ("The IP address was {192.168.1.20.}", "the ip address was {one ninety two dot one sixty eight dot one dot twenty}"),
        ("He tracked me through {202.79.108.156.}",
         "he tracked me through {two hundred two dot seventy nine dot one hundred eight dot one fifty six}"),
        ("It was {192 dot 168 dot 0 dot 1} on the router.", "my ip is {ten dot zero dot zero dot one}"),
    ],
    "written phone, zip and licence numbers": [
        ("You can call me at {555-0142.}", "you can call me at {five five five oh one four two}"),
        ("My number is {(415) 555-0142.}", "my number is {four one five five five five oh one four two}"),
        ("Text me at {+44 20 7946 0958} tonight.", "text me at {four four two oh seven nine four six oh nine five eight} tonight"),
        ("My zip code is {94110.}", "my zip code is {nine four one one oh}"),
        ("The postcode is {SW1A 1AA.}", "the postcode is {s w one a one a a}"),
        ("We're in {7706MW} now.", None),
        ("We're in {9534} now.", "we're in {nine five three four} now"),
        ("My driver's license number is {D1234567.}", "my driver's license number is {d one two three four five six seven}"),
        ("His passport number is {A51520140.}", "his passport number is {a five one five two oh one four oh}"),
        ("The IBAN is {GB58YOJA68124158683449.}", None),
    ],
    "context by position": [
        ("My name is {Zhu Xiaoming.}", "my name is {zhu xiaoming}"),
        ("I had to call {Mayte} when it happened.", "i had to call {mayte} when it happened"),
        ("{Mr.|mister} {Lindqvist} is my neighbour.", None),
        ("Her sister {Gráinne} said no.", "her sister {grainne} said no"),
        ("We moved to {Spreitenbach} last year.", "we moved to {spreitenbach} last year"),
        ("They live in {Tüzenurfurt.}", "they live in {tuzenurfurt}"),
    ],
}


def _variants(pair: tuple[str, str | None]) -> list[str]:
    written, spoken = pair
    out = []
    # "{Dr.|doctor}" is carrier text with a written and a spoken form
    alt = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")
    out.append(alt.sub(lambda m: m.group(1), written))
    if spoken is not None:
        out.append(spoken)
    elif alt.search(written):
        out.append(alt.sub(lambda m: m.group(2), written).lower().replace(".", "").replace(",", ""))
    return out


CASES = [(name, case) for name, pairs in PATTERNS.items() for pair in pairs for case in _variants(pair)]


@pytest.mark.parametrize("pattern,case", CASES, ids=[f"{n}:{c[:40]}" for n, c in CASES])
def test_identifier_is_removed_whole(pattern, case):
    check(case)


# Ordinary counselling words that are also names, towns or streets stay unless the context says.
KEEP = [
    "I had oral piercings and it hurt",
    "i ran a half marathon in college",
    "she dropped out of university last year",
    "he keeps flushing the toilet at night",
    "i'm one hundred percent sure about that",
    "I do Tai Chi twice a week",
    "I did research on the chronic inhaler and I found out it helps",
    "we got a dog named Oscar last year",
    "my dog oscar sleeps on my bed",
    "i hope things are going to change",
    "I'm going back to one drink a night",
    "the scheduler's desk is by the door",
    "my roommate's adderall is in the kitchen",
    "I have been taking Wellbutrin and Chantix since the fall",
    "she is on track and the focus is on recovery",
    "we stayed at my aunt's place for a week",
    "I grew up reading a lot and I love reading",
    "Mm-hmm. And I think that's-that's fair.",
    "I talked to my therapist about it",
    "the total is 1500 and I walked in 2500 steps in 1999",
]


@pytest.mark.parametrize("text", KEEP)
def test_ordinary_words_stay(text):
    assert redact_text(text)[0] == text


def test_a_name_caught_once_is_caught_everywhere_possessive_and_all():
    text = "my friend is called zbigniew and later zbigniew's car broke down and zbigniew cried"
    out, counts = redact_text(text)
    assert "zbigniew" not in out and counts == {"NAME": 3}


# --- the generated corpus: identifiers of 40 locales nobody here wrote ------------------------
@pytest.fixture(scope="session")
def generated():
    from redaction_gen import DEV_SEED, LOCALES, generate

    # every third locale (14 of 40): each locale costs Faker a scan of its providers
    return generate(DEV_SEED, 40, LOCALES[::3])


def test_generated_corpus_holds_per_kind_in_both_forms(generated):
    from collections import Counter

    caught: Counter = Counter()
    total: Counter = Counter()
    false = words = 0
    for s in generated:
        got = removed(s.text)
        gold = [i for i, l in enumerate(s.labels) if l]
        total[(s.form, s.kind)] += 1
        caught[(s.form, s.kind)] += all(got[i] for i in gold)
        false += sum(1 for i, l in enumerate(s.labels) if got[i] and not l)
        words += len(s.labels)
    low = {k: round(caught[k] / total[k], 3) for k in total if caught[k] / total[k] < 0.85}
    assert not low, f"kinds under 0.85 recall: {low}"
    assert sum(caught.values()) / sum(total.values()) >= 0.95
    assert 1000 * false / words <= 1.0


def test_generator_renders_both_forms_as_a_recogniser_writes_them():
    import random

    from redaction_gen import say_number, spoken

    rng = random.Random(0)
    assert say_number(3214) == ["thirty", "two", "fourteen"]
    assert spoken("marisol.v@gmail.com", "email", rng) == ["marisol", "dot", "v", "at", "gmail", "dot", "com"]
    assert spoken("June 9th", "date", rng) == ["june", "ninth"]
    assert spoken("3214 Oakhurst Dr.", "street_address", rng) == ["thirty", "two", "fourteen", "oakhurst", "drive"]
    said = spoken("555-0142", "phone", rng)
    assert [w if w != "zero" else "oh" for w in said] == ["five", "five", "five", "oh", "one", "four", "two"]
    assert spoken("I drank 1,000 beers", "carrier", rng) == ["i", "drank", "one", "thousand", "beers"]


@pytest.mark.parametrize("text, street", [
    # whisper heard flite's "eighty one Maple Drive" as "81 may pull drive": a function word
    # right after the house number is still part of the street (found by the arm64 check's note)
    ("My new address is 81 may pull drive, I moved there in spring.", "81 may pull drive,"),
    ("I live at 81 may pull drive.", "81 may pull drive."),
    ("i live at eighty one may pull drive now", "eighty one may pull drive"),
    ("my old address is twelve oak lane", "twelve oak lane"),
])
def test_a_misheard_street_after_its_house_number_is_still_an_address(text, street):
    words = text.split()
    assert [(s.kind, " ".join(words[s.start:s.end])) for s in find_phi(text)] == [("ADDRESS", street)]


@pytest.mark.parametrize("text", ["I was at 3 when the road closed", "we may drive there tomorrow",
                                  "it was 5 may I say drive"])
def test_a_number_near_a_street_word_is_not_an_address_without_a_street(text):
    assert not [s for s in find_phi(text) if s.kind == "ADDRESS"]
