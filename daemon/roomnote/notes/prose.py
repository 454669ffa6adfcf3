"""Clinical sentences from grounded facts: fixed third-person templates around the client's
own words, and the check that a sentence says nothing its evidence does not.

A sentence is a template ("Client stated a goal: ...") filled with labels from the
documented tables (themes, interventions, detail categories) and verbatim quotes of the
segments it cites. Outside its quotes it may use only TEMPLATE_WORDS, label words and
words of its evidence; every number outside the quotes must be in the evidence too.
`sentence_problem` enforces that on every line the composer writes: a line that fails is
not emitted. Nothing assumed-normal is ever written: each template states something heard.
"""
from __future__ import annotations

import re

from .details import CATEGORY_TEXT, SUBSTANCES
from .lexicons import INTERVENTIONS, THEMES

QUOTE_WORDS = 25  # a quote in a sentence is at most this many words (chunks are cut to it)

# Every word a template may add (lowercase); anything else must come from the evidence.
TEMPLATE_WORDS = frozenset("""
client therapist reported reports described stated expressed said says spoke about voiced
discussed addressed session used offered asked gave e g eg e.g. including with and or of the a an
to in as it its their talk change sustain goal goals plan agreed agreement homework referral
next appointment responded response concern presenting concerns leaned toward towards outweighed
both were was heard identified no not ambivalence readiness progress use amount frequency onset
duration medication named later later: between pattern current for from by on this that
""".split())
_LABEL_WORDS = frozenset(w for table in (THEMES, INTERVENTIONS, SUBSTANCES, CATEGORY_TEXT)
                         for label in (table.values() if table is CATEGORY_TEXT else table)
                         for w in re.findall(r"[a-z]+", label.lower()))
_NUMBER_WORDS = frozenset("""zero one two three four five six seven eight nine ten eleven twelve
thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty
seventy eighty ninety hundred thousand""".split())
_QUOTED = re.compile(r'"[^"]*"')


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def sentence_problem(text: str, cited: str) -> str | None:
    """Why a sentence says more than its cited text, or None when every word outside its
    quotes is template, label or evidence, and every number outside them is in the evidence."""
    outside = _words(_QUOTED.sub(" ", text))
    have = set(_words(cited))
    for w in outside:
        if w.isdigit() or w in _NUMBER_WORDS:
            if w not in have:
                return "a number the cited segments do not hold"
        elif w not in TEMPLATE_WORDS and w not in _LABEL_WORDS and w not in have:
            return "a word the cited segments do not hold"
    return None


def short_quote(text: str, limit: int = QUOTE_WORDS) -> str:
    """The first `limit` words, verbatim; cut words are marked by the ellipsis outside
    the quote, so the quoted part stays a substring of the evidence."""
    words = text.split()
    return text if len(words) <= limit else " ".join(words[:limit])


def q(text: str, limit: int = QUOTE_WORDS) -> str:
    """The words in double quotes; cut words are marked by "..." after the closing quote."""
    cut = short_quote(text, limit)
    return f'"{cut}"' + ("..." if cut != text else "")


def end(sentence: str) -> str:
    """A full stop, unless the sentence already ends in one (inside its last quote)."""
    return sentence if re.search(r'[.?!]"?(\.\.\.)?$', sentence) else sentence + "."


# --- templates ------------------------------------------------------------------------

def report(text: str, theme: str | None = None) -> str:
    return end(f"Client spoke about {theme}: {q(text)}" if theme else f"Client reported: {q(text)}")


def detail(text: str, substances: list[str], categories: list[str]) -> str:
    what = [f"{s} use" for s in substances]
    what += [CATEGORY_TEXT[c] for c in categories if c != "substance"]
    return end(f"Client reported {', '.join(what)}: {q(text)}")


def change_talk(text: str) -> str:
    return end(f"Client expressed change talk: {q(text)}")


def sustain_talk(text: str) -> str:
    return end(f"Client expressed sustain talk: {q(text)}")


def goal(text: str) -> str:
    return end(f"Client stated a goal: {q(text)}")


def response(text: str) -> str:
    return end(f"Client responded: {q(text)}")


PLAN_LEADS = {"homework": "Homework agreed", "referral": "Referral agreed",
              "next_appointment": "Next appointment", "": "Plan agreed"}
# proposed by the therapist with no reply heard: said as given, never as agreed
GIVEN_LEADS = {"homework": "Homework assigned", "referral": "Referral suggested",
               "next_appointment": "Next appointment"}


def plan(text: str, category: str, assent: str | None = None, agreed: bool = True) -> str:
    lead = PLAN_LEADS.get(category, "Plan agreed") if agreed else GIVEN_LEADS[category]
    return end(f"{lead}: {q(text)}" + (f"; client said: {q(assent)}" if assent else ""))


def theme(label: str) -> str:
    return f"Session addressed {label}."


def intervention(label: str, example: str | None) -> str:
    return end(f"Therapist used {label}" + (f", e.g. {q(example, 15)}" if example else ""))


def presenting(label: str, words: list[str] | None = None) -> str:
    said = ", ".join(f'"{w}"' for w in words or [])
    return f"Presenting concern as discussed: {label}" + (f" ({said})." if said else ".")


def scaled(text: str) -> str:
    return end(f"On the therapist's scale, client answered: {q(text)}")


BALANCE = {
    "change": "Client's talk leaned toward change: change talk outweighed sustain talk.",
    "sustain": "Client's talk leaned toward the current pattern: sustain talk outweighed change talk.",
    "ambivalent": "Client expressed ambivalence: both change talk and sustain talk were heard.",
    "change_only": "Change talk was heard; no sustain talk was identified.",
    "sustain_only": "Sustain talk was heard; no change talk was identified.",
}


def readiness(text: str) -> str:
    return end(f"Readiness as the client expressed it: {q(text)}")


def progress(text: str) -> str:
    return end(f"Progress as the client described it: {q(text)}")


# Without speaker labels a line never says who spoke (the composer applies this table).
_NEUTRAL = (
    ("Client reported: ", "Reported in session: "),
    ("Client spoke about ", "Discussed "),
    ("Client reported ", "Reported "),
    ("Client stated a goal: ", "Goal stated: "),
    ("Client responded: ", "Response: "),
    ("Client expressed change talk: ", "Change talk: "),
    ("Client expressed sustain talk: ", "Sustain talk: "),
    ("Therapist used ", "Intervention heard: "),
    ("Readiness as the client expressed it: ", "Readiness as expressed: "),
    ("Progress as the client described it: ", "Progress as described: "),
    ("Client's talk leaned toward change: ", "Talk leaned toward change: "),
    ("Client's talk leaned toward the current pattern: ", "Talk leaned toward the current pattern: "),
    ("Client expressed ambivalence: ", "Ambivalence: "),
)


def neutral(text: str) -> str:
    """The line without naming a speaker (for notes whose speakers were not identified)."""
    for a, b in _NEUTRAL:
        if text.startswith(a):
            text = b + text[len(a):]
            break
    return text.replace("; client said: ", "; next utterance: ")


# "Client's" and "client's" come from templates too; the plain-wording register (revise.py).
TEMPLATE_WORDS = TEMPLATE_WORDS | {"client's", "therapist's", "as", "e", "g", "use"} | frozenset("""
talked wanting gave reasons keep keeping things they are main how ready say gone words repeated back
what before giving information more than changing ambivalent have been heard intervention utterance
ambivalence on scale answered assigned suggested
""".split())
