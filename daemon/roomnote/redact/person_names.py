"""NAME: people's names, from the offline US Census 1990 name lists.

Source: dist.male.first, dist.female.first and dist.all.last inside the `names` package
(MIT-licensed package; the census data is public domain). See lexicon.py.

Rules, weakest evidence last:
- cues: "my name is X (Y)", "call me X", "i'm X", titles ("mister X", "doctor X"),
  relations ("my sister X", "her husband X"), "named X", "called X", and a name-like word
  that says something ("and hope said");
- a first name followed by a surname from the lists: both ("sarah johnson", "will smith");
- a census first name that is not an ordinary English word: anywhere ("david");
- a name seen once with a cue is redacted everywhere else in the same text;
- position, for names no list holds (issue 14): after a cue, or before "and i" or a verb
  only a person does ("keeps", "said"), or with a possessive ("chakrika's idea"), a word
  that is no ordinary English word is a name; so is one right after a first name (a
  surname), with its particles ("isabel van der veen").
Possessives are read as the name ("jake's" is "jake").
A name that is also a word (hope, will, grace, white) is a name only with a cue; the
census surname list is full of words (young, brown, king), so a surname counts only after a
first name or a cue.
"""
from __future__ import annotations

from functools import lru_cache

from .lexicon import (
    FILLERS,
    GRAMMAR_WORDS,
    MONTHS,
    NOT_PROPER,
    POSSESSIVES,
    RELATION_MODIFIERS,
    RELATION_WORDS,
    STRONG_TITLES,
    VERBISH_WORDS,
    WEAK_TITLES,
    WEEKDAYS,
    common_words,
    surname_ranks,
    world_first_names,
)
from .spans import Span
from .spoken_numbers import NUMBER_WORDS, ORDINALS

# Given names that are also everyday words: names only after a cue ("my sister hope called"
# but "i hope it gets better"). Words here that are also grammar (will, may, said) are
# names only after the strongest cues ("my name is will").
AMBIGUOUS_NAMES = frozenset(
    """hope will mark rose grace april may june august joy faith dawn bill art sunny summer pat
    sue rich frank lane page guy jack ray chance said earnest crystal pearl jewel iris hazel ivy
    lily penny ginger olive jade autumn raven angel destiny charity patience mercy harmony
    melody rocky rusty dusty sandy chase drew max chuck buck cliff clay rob gene grant hunter
    king sterling sage heath dean wade reed brook rod lance miles woody christian teddy merry
    star sky river storm misty valentine jasmine fern prince""".split()
)
FREQUENT_SURNAME_RANK = 2500  # "sarah white": a word, but among the commonest surnames
# Words before which a word that is also a known name is the word: "i hope", "the white car".
WORD_CONTEXT = frozenset(
    """i we you they he she it to the a an my your his her our their its this that no some
    any much more most of with for in on at from by about is was are were be been being am
    have has had will would can could should might must may not lost give gives gave full
    little one every each another other what which whose""".split()
)
# Never a name, whatever the lists say.
NEVER_NAMES = (
    GRAMMAR_WORDS
    | VERBISH_WORDS
    | RELATION_WORDS
    | STRONG_TITLES
    | WEAK_TITLES
    | NUMBER_WORDS
    | frozenset(ORDINALS)
    | WEEKDAYS
    | (frozenset(MONTHS) - AMBIGUOUS_NAMES)
    | frozenset({"", "name", "names", "named", "called", "me", "dot", "at"})
)
# After "my name is" or "mister" even grammar-like names count: "my name is will".
NEVER_INTRODUCED = NEVER_NAMES - AMBIGUOUS_NAMES
# An ambiguous name starts a first+last pair only before a surname that is no word.
PAIR_FIRSTS = AMBIGUOUS_NAMES - {"said"}
# Only a person says or texts: "and hope said she was worried" (but "i hope said" is no
# sentence, and "the bill called for" starts with a determiner).
SPEECH_VERBS = frozenset(
    "said says told tells asked asks texted texts emailed replied answered yelled screamed".split()
)
# Third-person verbs: "will calls", "mark thinks", "grace wants" (a modal takes "call").
THIRD_PERSON_VERBS = frozenset(w for w in VERBISH_WORDS if w.endswith("s"))
SKIPPABLE = FILLERS | frozenset({"like", "actually"})
# Surname particles: "van der veen", "de la cruz", "von trapp", "bin laden", "al amin"
PARTICLES = frozenset("van von der den de la le du des da do dos das di del della ter ten bin binti al el st".split())
# "talked to X", "met with X", "ran into X": a person follows more often than not.
CUE_BIGRAMS = frozenset({
    ("talked", "to"), ("talk", "to"), ("talking", "to"), ("spoke", "to"), ("spoke", "with"),
    ("speak", "to"), ("speak", "with"), ("met", "with"), ("meet", "with"), ("ran", "into"),
    ("friends", "with"), ("married", "to"), ("dating", "a"), ("texted", "with"), ("fight", "with"),
    ("fought", "with"), ("living", "with"), ("live", "with"), ("lives", "with"), ("stayed", "with"),
})
THINKING_VERBS = frozenset("hope think guess wish bet suppose heard believe mean hoped thought".split())
DETERMINERS = frozenset("the a an this that these those my your his her our their its every each some any no".split())
# "X and i", "X and me": a person
WITH_ME = frozenset({"i", "me", "myself"})


PET_WORDS = frozenset("dog dogs cat cats puppy kitten kitty pup horse pony bird parrot hamster rabbit bunny pet".split())


def after_pet(tokens: list[str], i: int) -> bool:
    """A name within three words after a pet word is the pet's: "my dog oscar", "a cat named luna"."""
    return any(tokens[k] in PET_WORDS for k in range(max(0, i - 3), i))


def stem(token: str) -> str:
    """ "jake's" -> "jake"; other tokens as they are."""
    if token.endswith("'s") and len(token) > 3:
        return token[:-2]
    return token


@lru_cache(maxsize=1)
def _vocab() -> tuple[frozenset[str], frozenset[str], dict[str, int], frozenset[str]]:
    """(plain first names, ambiguous first names, surname ranks, common words), loaded once."""
    firsts = world_first_names()
    common = common_words()
    plain = frozenset(firsts - common - NEVER_NAMES - AMBIGUOUS_NAMES - NOT_PROPER)
    ambiguous = frozenset((firsts & common) | AMBIGUOUS_NAMES)
    return plain, ambiguous, surname_ranks(), common


class _Finder:
    """One pass over the tokens; marks name tokens and remembers names seen with a cue."""

    def __init__(self, tokens: list[str], free: bytearray):
        self.raw = tokens  # "name's", "i'm" are cues; names are read from their stems
        tokens = [stem(t) for t in tokens]
        self.tokens = tokens
        self.free = free
        self.n = len(tokens)
        self.plain, self.ambiguous, self.surnames, self.common = _vocab()
        self.marked = bytearray(self.n)
        self.known: set[str] = set()  # names confirmed by a cue or by a first+last pair

    # --- token tests -------------------------------------------------------------------
    def tok(self, i: int) -> str:
        return self.tokens[i] if 0 <= i < self.n and self.free[i] else ""

    def is_strong_surname(self, t: str) -> bool:
        return t in self.surnames and t not in self.common and t not in NEVER_NAMES

    def is_unknown(self, t: str) -> bool:
        """A word no list knows and no ordinary English word: a name when the position says so."""
        if len(t) < 2 or t in self.common or t in NEVER_NAMES or t in NOT_PROPER:
            return False
        if "-" in t:  # "sophie-marie", but not "it's-it's", "mm-hmm", "uh--"
            parts = t.split("-")
            return all(len(p) > 1 and p.isalpha() and p not in self.common and p not in NEVER_NAMES
                       and p not in NOT_PROPER for p in parts)
        return t.replace("'", "").isalpha() and t[0] != "'" and t[-1] != "'"

    def is_surname_after_first(self, t: str) -> bool:
        if t in NEVER_NAMES:
            return False
        if t not in self.surnames:
            return self.is_unknown(t) or t in self.plain
        return t not in self.common or self.surnames[t] < FREQUENT_SURNAME_RANK

    def is_cued_name(self, t: str) -> bool:
        """A name after a relation or weak title cue: "my sister hope", "doctor garcia"."""
        if t in NEVER_NAMES:
            return False
        return t in self.plain or t in AMBIGUOUS_NAMES or self.is_strong_surname(t) or self.is_unknown(t)

    def is_introduced_name(self, t: str) -> bool:
        """After "my name is" / "mister": any name, or a word that is no ordinary word."""
        if not t or t in NEVER_INTRODUCED:
            return False
        return t in self.plain or t in self.ambiguous or t in self.surnames or t not in self.common

    # --- marking -------------------------------------------------------------------------
    def mark(self, i: int, cued: bool) -> None:
        if after_pet(self.tokens, i):
            return  # "my dog oscar", "a cat named luna": no person
        self.marked[i] = 1
        if cued or self.tokens[i] not in self.common:
            self.known.add(self.tokens[i])

    def mark_with_surname(self, i: int, cued: bool) -> int:
        """Mark the name at i and a surname right after it; return the index after them."""
        self.mark(i, cued)
        j = i + 1
        for _ in range(2):  # "thiago benjamin", "jolanthe grein groth", "isabel van der veen"
            k = j
            while self.tok(k) in PARTICLES and k - j < 2:
                k += 1
            nxt = self.tok(k)
            if not self.is_surname_after_first(nxt) or (k > j and nxt in self.common):
                break
            for m in range(j, k):
                self.marked[m] = 1
            # "sarah white": remember "johnson" for later mentions, but not "white", which
            # alone is far more often the word.
            self.mark(k, cued or nxt not in self.common)
            j = k + 1
            if nxt in self.common:
                break
        return j

    def before_relation(self, i: int) -> bool:
        """ "X my (social) worker": a name in apposition to a relation or role."""
        j = self.skip_fillers(i + 1)
        if self.tok(j) not in POSSESSIVES:
            return False
        j += 1
        if self.tok(j) in RELATION_MODIFIERS or self.tok(j) in ("case", "social", "parole", "probation"):
            j += 1
        return self.tok(j) in RELATION_WORDS

    def person_position(self, i: int) -> bool:
        """Where only a person stands: "X said", "X keeps calling", "X and i", "X's idea"."""
        nxt = self.tok(i + 1)
        # A determiner or a word that is no function word before it makes it a thing: "the
        # scheduler's desk", "the chronic inhaler and i", "cholesterol statin works"; but "it
        # was chakrika's idea", "so tristan and i", "what medeja said" are people.
        prev = self.tokens[i - 1] if i > 0 else ""
        if prev and (prev not in GRAMMAR_WORDS or prev in DETERMINERS) \
                and not self.raw[i - 1].endswith((",", ".", "?", "!", ";", ":")):
            return False
        if self.raw[i].endswith("'s"):
            return True
        if nxt in SPEECH_VERBS or nxt in THIRD_PERSON_VERBS:
            return True
        return nxt == "and" and self.tok(i + 2) in WITH_ME

    def skip_fillers(self, i: int) -> int:
        while self.tok(i) in SKIPPABLE:
            i += 1
        return i

    # --- rules ---------------------------------------------------------------------------
    def cue_target(self, i: int) -> tuple[int, str] | None:
        """If a cue starts at i: (index of the name candidate, how much the cue proves)."""
        t, t1 = self.tokens[i], self.tok(i + 1)
        raw = self.raw[i]
        if (t, t1) in CUE_BIGRAMS:
            return i + 2, "cued"
        if t == "call" and t1 not in ("me", "you", "him", "her", "them", "us", "it", "the", "a", "my"):
            return i + 1, "cued"
        if t == "name" and t1 == "is" or raw == "name's":
            # "my name is X" introduces anyone; "the name is bound" is no introduction.
            strength = "introduced" if self.tok(i - 1) in POSSESSIVES else "cued"
            return self.skip_fillers(i + (2 if t == "name" else 1)), strength
        if t == "call" and t1 == "me":
            return i + 2, "cued"
        if t == "named":
            return i + 1, "cued"
        if t == "called":
            return i + 1, "plain"  # "a song called hope" is no person
        if raw == "i'm":
            return i + 1, "plain"
        if t in STRONG_TITLES:
            return i + 1, "introduced"
        if t in WEAK_TITLES:
            return i + 1, "cued"
        if t in POSSESSIVES:
            j = i + 1
            if self.tok(j) in RELATION_MODIFIERS and self.tok(j + 1) in RELATION_WORDS:
                j += 1
            if self.tok(j) in RELATION_WORDS:
                if self.tok(j + 1) in RELATION_WORDS:
                    j += 1  # "my son's friend X"
                elif self.raw[j].endswith("'s"):
                    return None  # "my roommate's adderall" is a thing of theirs
                return j + 1, "cued"
        return None

    def accepts(self, t: str, strength: str) -> bool:
        if strength == "introduced":
            return self.is_introduced_name(t)
        if strength == "cued":
            return self.is_cued_name(t)
        return t in self.plain or self.is_strong_surname(t)

    def run(self) -> None:
        tokens, free = self.tokens, self.free
        i = 0
        while i < self.n:
            t = tokens[i]
            if not free[i] or not t:
                i += 1
                continue
            cue = self.cue_target(i)
            if cue is not None:
                j, strength = cue
                cand = self.tok(j)
                if cand and self.accepts(cand, strength):
                    i = self.mark_with_surname(j, cued=True)
                    continue
                nxt = self.tok(j + 1)
                if cand in self.ambiguous and cand not in NEVER_NAMES and self.is_unknown(nxt):
                    i = self.mark_with_surname(j, cued=True)  # "my boss roman schiller"
                    continue
            if t in self.plain:
                i = self.mark_with_surname(i, cued=False)
                continue
            if self.is_unknown(t) and self.person_position(i):
                i = self.mark_with_surname(i, cued=True)
                continue
            if t in PAIR_FIRSTS:
                nxt = self.tok(i + 1)
                if self.is_strong_surname(nxt):  # "will smith", "grace kelly"
                    self.mark(i, True)
                    self.mark(i + 1, True)
                    i += 2
                    continue
                if self.before_relation(i) and (i == 0 or tokens[i - 1] not in WORD_CONTEXT):
                    self.mark(i, True)  # "joy my social worker says", "dawn um my caseworker"
                    i += 1
                    continue
                prev = tokens[i - 1] if i > 0 else ""
                if (
                    (nxt in SPEECH_VERBS or nxt in THIRD_PERSON_VERBS)
                    and prev not in WORD_CONTEXT and (not prev or prev in GRAMMAR_WORDS or prev in VERBISH_WORDS
                                                      or prev in THINKING_VERBS)
                ):  # "i hope will calls" is a person, "true joy comes" the word
                    # "hope said", "will said he would", "i hope will calls": a modal or
                    # "i hope" is never followed by "said" or "calls"
                    self.mark(i, True)
                    i += 1
                    continue
            i += 1

    def propagate(self) -> None:
        """Redact every later (and earlier) mention of a name that was seen with a cue."""
        if not self.known:
            return
        tokens, free, marked = self.tokens, self.free, self.marked
        for i, t in enumerate(tokens):
            if marked[i] or not free[i] or t not in self.known:
                continue
            if t in GRAMMAR_WORDS or t in VERBISH_WORDS:
                continue  # "my name is will" must not take every later "will"
            if t in self.common and i > 0 and tokens[i - 1] in WORD_CONTEXT:
                continue  # "i hope", "the white car"
            marked[i] = 1

    def spans(self) -> list[Span]:
        out: list[Span] = []
        i = 0
        while i < self.n:
            if self.marked[i]:
                j = i + 1
                while j < self.n and self.marked[j]:
                    j += 1
                out.append(Span("NAME", i, j))
                i = j
            else:
                i += 1
        return out


def find_name_spans(tokens: list[str], free: bytearray) -> list[Span]:
    finder = _Finder(tokens, free)
    finder.run()
    finder.propagate()
    return finder.spans()
