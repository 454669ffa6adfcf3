"""Facts a note must not lose: which substance and how much, how often, since when,
medications named. Found by word patterns in the client's own words, kept verbatim.

"about ten drinks a weekend, Thursday to Sunday" is the point of a session about drinking;
a note that says only "substance use" cannot be signed. Each finding is a category and the
verbatim words that hold it; the composer quotes the sentence around them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .matching import CueIndex, Match, Tokens

SUBSTANCES: dict[str, tuple[str, ...]] = {
    "alcohol": ("alcohol", "drinking", "drink", "drinks", "drank", "beer", "beers", "wine", "vodka",
                "whiskey", "liquor", "booze", "pints", "shots", "hungover", "binge"),
    "tobacco or nicotine": ("cigarettes", "cigarette", "smoking", "smoke", "smoked", "cigs", "vaping",
                            "vape", "nicotine", "tobacco", "packs a day", "a pack a day"),
    "cannabis": ("weed", "marijuana", "cannabis", "joints", "joint", "pot", "edibles"),
    "other drugs": ("cocaine", "coke", "crack", "meth", "heroin", "opioids", "opiates", "fentanyl",
                    "pills", "benzos", "ecstasy", "molly", "acid", "mushrooms", "drugs", "using"),
    "caffeine": ("coffee", "coffees", "caffeine", "energy drinks", "espresso"),
    "gambling": ("gambling", "betting", "bets", "casino", "slots", "poker"),
}
TREATMENT = ("detox", "rehab", "treatment program", "aa meeting", "aa meetings", "alcoholics anonymous",
             "narcotics anonymous", "sponsor", "counseling", "counselling", "therapy", "support group",
             "inpatient", "outpatient", "nicotine replacement", "quitline", "quit line")
BARRIERS = ("afford", "can't afford", "money", "bills", "debt", "no time", "don't have time", "busy schedule",
            "too busy", "childcare", "child care", "daycare", "babysitter", "transport", "no car", "shifts")
HEALTH = ("asthma", "diabetes", "blood sugar", "blood pressure", "cholesterol", "heart disease", "cancer",
          "liver", "insulin pump", "weight", "overweight", "pregnant", "pregnancy", "injury", "chronic pain")
MEDICATIONS = (
    "medication", "medications", "meds", "prescription", "prescribed", "antidepressant",
    "antidepressants", "sertraline", "zoloft", "fluoxetine", "prozac", "escitalopram", "lexapro",
    "citalopram", "paroxetine", "paxil", "venlafaxine", "effexor", "duloxetine", "cymbalta",
    "bupropion", "wellbutrin", "mirtazapine", "trazodone", "lithium", "lamotrigine", "quetiapine",
    "seroquel", "olanzapine", "aripiprazole", "abilify", "risperidone", "alprazolam", "xanax",
    "lorazepam", "ativan", "clonazepam", "klonopin", "diazepam", "valium", "zolpidem", "ambien",
    "adderall", "ritalin", "methylphenidate", "methadone", "suboxone", "buprenorphine", "naltrexone",
    "antabuse", "disulfiram", "acamprosate", "insulin", "metformin", "inhaler", "nicotine patch",
    "nicotine gum", "the patch", "birth control", "sleeping pills", "painkillers",
)
_NUMBERS = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
            "hundred half couple few several a an").split()
_UNITS = ("drinks drink beers beer glasses glass bottles bottle pints pint shots shot cans can cigarettes "
          "cigarette cigs packs pack joints joint pills pill cups cup coffees times days nights hours "
          "weeks months years pounds kilos lbs mg milligrams bets dollars").split()
_PERIODS = ("a day", "a week", "a night", "a weekend", "a month", "per day", "per week", "every day",
            "every night", "every weekend", "every morning", "every evening", "each day", "each night",
            "daily", "weekly", "nightly", "most nights", "most days", "on weekends", "at the weekend",
            "twice a", "once a", "three times a", "a couple of times", "thursday to sunday",
            "friday to sunday", "every single day", "all day", "all weekend", "every other weekend",
            "every other day", "every other week", "every weekend", "on the weekend", "a night")
_ONSET = ("started when", "started after", "started about", "started around", "began when", "began after",
          "it started", "since i was", "since the", "since my", "since high school", "since college",
          "since last", "years ago", "months ago", "weeks ago", "when i was", "for years", "for months",
          "for a few years", "for a couple of years", "for about", "for the past", "for the last",
          "first started", "ever since")

CATEGORY_TEXT = {"substance": "substance use", "amount": "amount or frequency", "onset": "onset or duration",
                 "medication": "medication", "treatment": "treatment history", "barrier": "practical barriers",
                 "health": "health condition"}


def _amount_phrases() -> tuple[str, ...]:
    out = []
    for n in _NUMBERS:
        for u in _UNITS:
            out.append(f"{n} {u}")
            out.append(f"{n} or so {u}")
    small = _NUMBERS[:12]
    out += [f"{a} or {b}" for a, b in zip(small, small[1:])]  # "five or six"
    out += [f"{a} to {b}" for a, b in zip(small, small[1:])]
    return tuple(out)


_INDEX = CueIndex({
    **{f"substance:{k}": (v, ("drink water", "drinks water", "smoke alarm", "using the", "using a", "using my",
                              "using it", "using that", "using this", "pot of")) for k, v in SUBSTANCES.items()},
    "medication": (MEDICATIONS, ()),
    "treatment": (TREATMENT, ()),
    "barrier": (BARRIERS, ()),
    "health": (HEALTH, ()),
    "amount": (_amount_phrases() + _PERIODS, ("a few times", "a couple of times", "a day or two")),
    "onset": (_ONSET, ()),
})
_DIGIT_UNITS = frozenset(_UNITS)


@dataclass(frozen=True)
class Finding:
    category: str  # substance | amount | onset | medication
    label: str  # the substance class for "substance", else the category
    match: Match


def find_details(tokens: Tokens, lo: int = 0, hi: int | None = None) -> list[Finding]:
    """Detail findings inside words lo..hi, in text order."""
    hi = len(tokens) if hi is None else hi
    hits = _INDEX.find(tokens)
    out: list[Finding] = []
    for name, ms in hits.items():
        cat, _, label = name.partition(":")
        out += [Finding(cat, label or cat, m) for m in ms if lo <= m.start < hi]
    words = tokens.words
    for i in range(lo, min(hi, len(words)) - 1):  # digits: "10 drinks", "3 times"
        if words[i].replace(".", "", 1).isdigit() and words[i + 1] in _DIGIT_UNITS:
            out.append(Finding("amount", "amount", Match(i, i + 2, tokens.slice(i, i + 2))))
    out.sort(key=lambda f: f.match.start)
    return out
