"""A redaction dev corpus nobody here wrote by hand: Faker identifiers of many locales in
counselling-style sentences, each rendered in both forms a recogniser gives.

- written: as Whisper writes (cased, punctuated, digits: "555-0142", "June 9th",
  "marisol.v@gmail.com", "3214 Oakhurst Dr.");
- spoken: as vosk/pocketsphinx write (lowercase, no punctuation, numbers as words, "@" as
  "at", "." as "dot", letters spelled one by one).

Sentences come from `generate(seed, n)`: the same seed gives the same corpus (Faker is pinned
in constraints.txt). Seed DEV_SEED is the dev split used while building the detectors; seed
HELDOUT_SEED is the held-out split, only ever measured (bench/redaction.py). Templates are the
same for both: the held-out split is new identifiers, not new sentence shapes.
"""
from __future__ import annotations

import contextlib
import functools
import io
import random
import re
import unicodedata
from dataclasses import dataclass

DEV_SEED = 14
HELDOUT_SEED = 1414

# Latin-script locales (an English recogniser writes names in Latin letters).
LOCALES = ("en_US", "en_GB", "en_IE", "en_AU", "en_CA", "en_IN", "en_NZ", "de_DE", "de_AT", "de_CH",
           "nl_NL", "nl_BE", "fr_FR", "fr_CA", "es_ES", "es_MX", "es_AR", "es_CO", "it_IT", "pt_BR",
           "pt_PT", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI", "cs_CZ", "hu_HU", "ro_RO", "tr_TR",
           "id_ID", "fil_PH", "sk_SK", "hr_HR", "sl_SI", "et_EE", "lv_LV", "lt_LT", "en_PH", "vi_VN")

# Templates: "{KIND:field}" is an identifier; the rest is carrier text. Fields are filled by
# _Filler below. "|" separates a written and a spoken variant of carrier text ("Dr.|doctor").
TEMPLATES = {
    "NAME": [
        "My name is {NAME:first} {NAME:last}.",
        "I talked to {NAME:first} about it yesterday.",
        "{NAME:first} keeps calling me late at night.",
        "My sister {NAME:first} said she would come with me.",
        "{Dr.|doctor} {NAME:last} told me to come here.",
        "I ran into {NAME:full} at the store and froze.",
        "It was {NAME:first_poss} idea to move out.",
        "{Mr.|mister} {NAME:last} is my neighbour.",
        "We stayed at {NAME:first_poss} place for a week.",
        "Her husband {NAME:full} works nights.",
        "I had to call {NAME:first} when it happened.",
        "{NAME:first} and I broke up last month.",
        "My boss, {NAME:full}, said I could take the week off.",
        "I keep thinking about what {NAME:first} said.",
        "{Mrs.|missus} {NAME:last} was my teacher back then.",
        "My son's friend {NAME:first} comes over a lot.",
        "I met with {NAME:full} from the agency.",
        "{Ms.|miz} {NAME:last} runs the group on Tuesdays.",
    ],
    "ADDRESS": [
        "I live at {ADDRESS:street_address}.",
        "We moved to {ADDRESS:street_address} in the spring.",
        "The shelter is at {ADDRESS:street_address}, near the bus stop.",
        "My mom's house is on {ADDRESS:street_name}.",
        "You can send it to {ADDRESS:street_address}.",
        "Our new apartment is {ADDRESS:secondary}.",
    ],
    "PLACE": [
        "I grew up in {PLACE:city}.",
        "She lives in {PLACE:city} now.",
        "We drove to {PLACE:city} for the weekend.",
        "My family is from {PLACE:city} originally.",
        "He moved to {PLACE:city} after the divorce.",
        "Things were different back in {PLACE:city}.",
        "The job in {PLACE:city} fell through.",
    ],
    "EMAIL": [
        "You can email me at {EMAIL:email}.",
        "My email is {EMAIL:email}.",
        "She wrote to me from {EMAIL:email} last week.",
    ],
    "URL": [
        "My blog is {URL:url}.",
        "He posts everything on {URL:url}.",
        "I found the group on {URL:url}.",
    ],
    "IP": [
        "The IP address was {IP:ip}.",
        "He tracked me through {IP:ip}, I think.",
    ],
    "PHONE": [
        "My number is {PHONE:phone}.",
        "You can call me at {PHONE:phone}.",
        "Text me at {PHONE:phone} if anything changes.",
        "Her cell is {PHONE:phone}.",
    ],
    "ZIP": [
        "My zip code is {ZIP:postcode}.",
        "The postcode is {ZIP:postcode}.",
        "We're in {ZIP:postcode} now.",
    ],
    "ACCOUNT": [
        "My card number is {ACCOUNT:card}.",
        "The IBAN is {ACCOUNT:iban}.",
        "My account number is {ACCOUNT:bban}.",
    ],
    "LICENSE": [
        "My driver's license number is {LICENSE:licence}.",
        "My license number is {LICENSE:licence}.",
        "His passport number is {LICENSE:passport}.",
    ],
    "DATE": [
        "My birthday is {DATE:date}.",
        "The court date is on {DATE:date}.",
        "It happened on {DATE:date}, I remember.",
        "I'm seeing her again {DATE:date}.",
    ],
}
KINDS = tuple(TEMPLATES)
_SLOT_RE = re.compile(r"\{([A-Z]+):([a-z_]+)\}|\{([^{}|]*)\|([^{}|]*)\}")


@dataclass(frozen=True)
class Sentence:
    """One sentence in one form: tokens (text.split()) and the gold kind per token."""

    id: str
    locale: str
    form: str  # written | spoken
    kind: str  # the kind of its identifier
    tokens: tuple[str, ...]
    labels: tuple[str | None, ...]

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


# --- spoken form --------------------------------------------------------------------------
_UNITS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORD = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh",
        8: "eighth", 9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth",
        14: "fourteenth", 15: "fifteenth", 16: "sixteenth", 17: "seventeenth", 18: "eighteenth",
        19: "nineteenth", 20: "twentieth", 30: "thirtieth"}
_SYMBOLS = {"@": "at", ".": "dot", "/": "slash", ":": "colon", "-": "dash", "_": "underscore",
            "+": "plus", "#": "number", "&": "and"}
_ABBREVIATIONS = {"st": "street", "ave": "avenue", "rd": "road", "dr": "drive", "ln": "lane",
                  "blvd": "boulevard", "ct": "court", "apt": "apartment", "ste": "suite",
                  "pl": "place", "hwy": "highway", "no": "number", "h.no": "house number"}


_TITLES = {"dr": "doctor", "mr": "mister", "mrs": "missus", "ms": "miz", "st": "saint"}


def say_number(n: int) -> list[str]:
    """0..9999 as it is read aloud: 42 "forty two", 3214 "thirty two fourteen", 1500 "fifteen hundred"."""
    if n < 10:
        return [_UNITS[n]]
    if n < 20:
        return [_TEENS[n - 10]]
    if n < 100:
        return [_TENS[n // 10]] + ([_UNITS[n % 10]] if n % 10 else [])
    if n < 1000:
        rest = n % 100
        if rest == 0:
            return [_UNITS[n // 100], "hundred"]
        return [_UNITS[n // 100]] + (["oh", _UNITS[rest]] if rest < 10 else say_number(rest))
    hi, lo = divmod(n, 100)
    if lo == 0:
        return say_number(hi) + ["hundred"]
    return say_number(hi) + (["oh", _UNITS[lo]] if lo < 10 else say_number(lo))


def say_cardinal(n: int) -> list[str]:
    """0..999999 as a count: 1000 "one thousand", 250 "two hundred fifty", 1984 "nineteen eighty four"."""
    if 1100 <= n <= 2099 and n % 100 and n // 100 != 20:
        return say_number(n)  # a year
    if n >= 1000:
        hi, lo = divmod(n, 1000)
        return say_cardinal(hi) + ["thousand"] + (say_cardinal(lo) if lo else [])
    if n >= 100:
        hi, lo = divmod(n, 100)
        return [_UNITS[hi], "hundred"] + (say_cardinal(lo) if lo else [])
    return say_number(n)


def say_digits(s: str, rng: random.Random) -> list[str]:
    """A code read out one character at a time: digits as words ("oh" for some zeros),
    letters as letters."""
    out = []
    for c in s:
        if c.isdigit():
            out.append("oh" if c == "0" and rng.random() < 0.5 else _UNITS[int(c)])
        elif c.isalpha():
            out.append(c.lower())
    return out


def fold(s: str) -> str:
    """ASCII letters for a recogniser that has no accents: "Łukasz Zięcik" -> "Lukasz Ziecik"."""
    s = s.replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("Ø", "O").replace("ß", "ss")
    s = s.replace("ı", "i").replace("đ", "d").replace("Đ", "D").replace("æ", "ae")
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def spoken(text: str, field: str, rng: random.Random) -> list[str]:
    """The spoken form of one piece of text (an identifier of `field`, or carrier text)."""
    text = fold(text)
    if field in ("phone", "postcode", "card", "iban", "bban", "licence", "passport"):
        return say_digits(text, rng)
    if field in ("email", "url"):
        return _say_web(text, rng)
    if field == "ip":
        parts = text.split(".")
        out = []
        for k, p in enumerate(parts):
            v = int(p)
            out += (["one"] + say_number(v - 100) if 100 <= v < 200 and rng.random() < 0.6
                    else _say_plain(v))
            if k < 3:
                out.append("dot")
        return out
    if field == "date":
        month, day = text.split()[:2]
        d = int(re.sub(r"\D", "", day))
        said = (_ORD.get(d) or f"{_TENS[d // 10]} {_ORD[d % 10]}").split()
        return [month.lower()] + said
    out: list[str] = []
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text).replace("%", " percent").replace("$", "")
    for tok in text.split():
        bare = tok.strip(".,;:!?\"()")
        low = bare.lower()
        clock = re.fullmatch(r"(\d{1,2}):(\d\d)(am|pm)?", low)
        if clock:  # "11:00" is said "eleven", "9:05" "nine oh five"
            hour, minute = int(clock.group(1)), int(clock.group(2))
            out += say_number(hour) + ([] if minute == 0 else ["oh", _UNITS[minute]] if minute < 10 else say_number(minute))
            out += list(clock.group(3) or "")
        elif field == "carrier" and low in _TITLES and tok.endswith("."):
            out.append(_TITLES[low])
        elif low in _ABBREVIATIONS and (tok.endswith(".") or field in ("street_address", "secondary")):
            out += _ABBREVIATIONS[low].split()
        elif any(c.isdigit() for c in bare):
            for piece in re.findall(r"\d+|[A-Za-z]+", bare):
                if piece.isdigit() and field == "carrier" and piece[0] != "0" and len(piece) <= 6:
                    out += say_cardinal(int(piece))  # "1000" in talk is "one thousand"
                elif piece.isdigit():
                    out += say_number(int(piece)) if len(piece) <= 4 and piece[0] != "0" else say_digits(piece, rng)
                else:
                    out += [c.lower() for c in piece] if len(piece) <= 2 else [piece.lower()]
        elif bare:
            out += [w for w in re.split(r"[-\s]", low) if w] if "-" in low and field != "carrier" else [low]
    return out


def _say_plain(v: int) -> list[str]:
    return say_number(v) if v < 100 else [_UNITS[v // 100], "hundred"] + (say_number(v % 100) if v % 100 else [])


def _say_web(text: str, rng: random.Random) -> list[str]:
    text = re.sub(r"^https?://", "", text).rstrip("/")
    out: list[str] = []
    for piece in re.findall(r"[A-Za-z]+|\d+|[^A-Za-z\d]", text):
        if piece.isdigit():
            out += say_digits(piece, rng) if len(piece) > 2 else say_number(int(piece))
        elif piece in _SYMBOLS:
            out.append(_SYMBOLS[piece])
        elif piece.lower() == "www":
            out += ["w", "w", "w"] if rng.random() < 0.5 else ["www"]
        elif piece.isalpha():
            low = piece.lower()
            # short top-level domains are spelled: "dot p l", "dot c z"
            out += list(low) if len(low) == 2 and out[-1:] == ["dot"] and rng.random() < 0.5 else [low]
    return out


# --- filling templates --------------------------------------------------------------------
class _Fallback:
    """A locale's Faker, falling back to en_US for a provider the locale lacks."""

    def __init__(self, f, us):
        self.f, self.us = f, us

    def __getattr__(self, name: str):
        try:
            return getattr(self.f, name)
        except AttributeError:
            return getattr(self.us, name)


@functools.lru_cache(maxsize=None)
def _faker(key: str):
    """One Faker per locale ("en_US:de_DE" is the en_US fallback of de_DE), reseeded per use."""
    from faker import Faker

    return Faker(key.split(":")[0])


class _Filler:
    def __init__(self, rng: random.Random, locale: str):
        self.rng = rng
        self.f = _faker(locale)
        self.f.seed_instance(rng.randrange(1 << 30))
        self.us = _faker("en_US:" + locale)
        self.us.seed_instance(rng.randrange(1 << 30))

    def value(self, field: str) -> str:
        f, rng = _Fallback(self.f, self.us), self.rng
        if field == "first":
            return f.first_name()
        if field == "last":
            return f.last_name()
        if field == "full":
            return f"{f.first_name()} {f.last_name()}"
        if field == "first_poss":
            name = f.first_name()
            return name + ("'" if name.endswith("s") else "'s")
        if field == "street_address":
            return " ".join(f.street_address().split())
        if field == "street_name":
            return f.street_name()
        if field == "secondary":
            return self.us.secondary_address()
        if field == "city":
            return f.city()
        if field == "email":
            user = f.user_name()
            domain = rng.choice([f.free_email_domain(), f.domain_name()])
            return f"{user}@{domain}"
        if field == "url":
            url = f.url()
            return url if rng.random() < 0.5 else url.split("//", 1)[1].rstrip("/")
        if field == "ip":
            return f.ipv4_public()
        if field == "phone":
            return f.phone_number().split("x")[0].strip()
        if field == "postcode":
            return f.postcode()
        if field == "card":
            return f.credit_card_number()
        if field == "iban":
            return f.iban()
        if field == "bban":
            return f.bban()
        if field == "licence":
            return self.us.bothify(rng.choice(["?#######", "?###-###-##-###-#", "########", "??######"])).upper()
        if field == "passport":
            return self.us.passport_number()
        if field == "date":
            d = f.date_object()
            day = d.day
            suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
            return f"{d.strftime('%B')} {day}{suffix if rng.random() < 0.6 else ''}"
        raise KeyError(field)


def _render(template: str, filler: _Filler, rng: random.Random, kind: str, sid: str, locale: str
            ) -> tuple[Sentence, Sentence]:
    w_tok: list[str] = []
    w_lab: list[str | None] = []
    s_tok: list[str] = []
    s_lab: list[str | None] = []
    pos = 0

    def carrier(text: str, spoken_text: str | None = None) -> None:
        w = text.split()
        w_tok.extend(w)
        w_lab.extend([None] * len(w))
        s = spoken(spoken_text if spoken_text is not None else text, "carrier", rng)
        s_tok.extend(s)
        s_lab.extend([None] * len(s))

    for m in _SLOT_RE.finditer(template):
        before = template[pos : m.start()]
        pos = m.end()
        if m.group(1) is None:  # "{Dr.|doctor}"
            carrier(before + m.group(3), before + m.group(4))
            continue
        carrier(before)
        value = filler.value(m.group(2))
        # punctuation that follows the slot clings to the identifier's last word when written
        tail = re.match(r"[.,]+", template[pos:])
        written = value.split()
        if tail:
            written[-1] += tail.group(0)
            pos += tail.end()
        w_tok.extend(written)
        w_lab.extend([m.group(1)] * len(written))
        said = spoken(value if m.group(2) != "first_poss" else fold(value).lower(), m.group(2), rng)
        s_tok.extend(said)
        s_lab.extend([m.group(1)] * len(said))
    carrier(template[pos:])
    # glue punctuation-only written tokens to their neighbour ("," after a slot)
    return (Sentence(sid, locale, "written", kind, tuple(w_tok), tuple(w_lab)),
            Sentence(sid, locale, "spoken", kind, tuple(s_tok), tuple(s_lab)))


def generate(seed: int, per_kind: int = 200, locales: tuple[str, ...] = LOCALES) -> list[Sentence]:
    """per_kind sentences of each kind, each in both forms (written, then spoken). Fewer
    locales make it faster (each costs Faker a scan of its providers)."""
    with contextlib.redirect_stdout(io.StringIO()):  # a locale's phone provider prints a notice
        return _generate(seed, per_kind, locales)


def _generate(seed: int, per_kind: int, locales: tuple[str, ...]) -> list[Sentence]:
    rng = random.Random(seed)
    fillers: dict[str, _Filler] = {}
    out: list[Sentence] = []
    for kind in KINDS:
        for k in range(per_kind):
            locale = rng.choice(locales)
            if locale not in fillers:
                fillers[locale] = _Filler(random.Random(rng.randrange(1 << 30)), locale)
            template = rng.choice(TEMPLATES[kind])
            out.extend(_render(template, fillers[locale], rng, kind, f"{kind.lower()}{k:04d}", locale))
    return out
