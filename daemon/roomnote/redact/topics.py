"""Sensitive topics: each office decides per topic whether a passage about it is removed,
generalized ("[discussed: immigration status]") or kept.

A passage is a clause of one segment: speech has no full stops, so a segment is cut before
discourse words ("and", "but", "so", ...), keeping at least MIN_PASSAGE words on each side.
Topics are detected by lexicon (phrases below; a trailing "*" matches any ending), and,
where the office turns it on (redaction.topic_encoder), also by the note composer's sentence
encoder (EncoderTopics, with the example sentences of lexicons/topic_examples.txt): a
passage takes the union of what every detector finds.

Safety content (suicide, self-harm, overdose, harm to others, violence and abuse) is
clinically essential: a passage with a safety cue, and the passages right before and after
it in the same segment, are never removed or generalized, whatever topic they also touch.
Identifiers inside them are still redacted (that happens independently, in redactor.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Mapping, Protocol, Sequence

from ..config import TopicsConfig

# The topics and their default actions are those of the office's [redaction.topics] section.
# Common practice removes the first five kinds of topic; the others are usually needed for
# treatment (substance use) or are generalized, so the note says they came up but not how.
TOPICS = tuple(f.name for f in fields(TopicsConfig))
ACTIONS = ("remove", "generalize", "keep")
DEFAULT_ACTIONS = asdict(TopicsConfig())
LABELS = {
    "criminal_history": "criminal history",
    "immigration_status": "immigration status",
    "sexual_orientation": "sexual orientation",
    "gender_identity": "gender identity",
    "trauma_details": "trauma details",
    "substance_use": "substance use",
    "infectious_disease": "infectious disease status",
    "reproductive_health": "reproductive health",
}

TOPIC_CUES: dict[str, tuple[str, ...]] = {
    "criminal_history": (
        "arrest*", "jail*", "prison*", "incarcerat*", "locked up", "felon*", "misdemeanor*",
        "probation", "parole*", "convict*", "criminal record", "on my record", "dui", "dwi",
        "served time", "doing time", "did time", "charged with", "plea deal", "pleaded guilty",
        "sentenced", "inmate", "booked", "mugshot", "warrant", "ankle monitor", "rap sheet",
    ),
    "immigration_status": (
        "undocumented", "illegal immigrant*", "illegal alien*", "came here illegally",
        "illegally", "no papers", "have papers", "deport*", "visa", "visas", "green card",
        "daca", "dreamer*", "asylum", "refugee*", "immigration", "citizenship",
        "overstayed", "overstay", "work permit", "ice raid*", "ice agents", "crossed the border",
    ),
    "sexual_orientation": (
        "gay", "lesbian*", "bisexual*", "queer", "homosexual*", "same sex", "pansexual",
        "asexual", "in the closet", "attracted to men", "attracted to women",
        "attracted to girls", "attracted to guys", "sexuality", "sexual orientation",
    ),
    "gender_identity": (
        "trans", "transgender", "nonbinary", "non binary", "genderqueer", "gender identity",
        "dysphoria", "transition*", "hormones", "misgender*", "pronouns", "deadname*",
        "top surgery", "bottom surgery", "came out as trans*",
    ),
    "trauma_details": (
        "molest*", "rape*", "sexually assaulted", "sexual assault", "abuse*", "abusing",
        "beat me", "beat us", "beating me", "he hit me", "she hit me", "they hit me",
        "hits me", "hitting me", "choked me", "choking me",
        "touched me", "forced me", "assault*", "domestic violence", "strangled", "grabbed me",
        "beaten", "incest", "held me down", "pinned me",
    ),
    "substance_use": (
        "drink*", "drunk", "alcohol*", "beer*", "wine", "vodka", "whiskey", "liquor",
        "blacked out", "meth", "heroin", "cocaine", "crack cocaine", "smoking crack", "fentanyl", "opioid*",
        "oxycodone", "oxycontin", "oxys", "percocet*", "weed", "marijuana", "cannabis", "got high", "getting high", "cigarette*",
        "vape", "vaping", "smoking", "sober*", "clean from", "relapse*", "relapsing", "rehab",
        "detox", "overdos*", "xanax", "sponsor", "aa meeting*", "na meeting*", "using again",
    ),
    "infectious_disease": (
        "hiv", "has aids", "have aids", "got aids", "hepatitis", "hep c", "hep b", "std", "stds", "sti", "stis",
        "chlamydia", "gonorrhea", "syphilis", "herpes", "tuberculosis", "viral load",
        "tested positive",
    ),
    "reproductive_health": (
        "abortion*", "miscarriage*", "miscarried", "pregnant", "pregnancy", "ivf",
        "birth control", "contracepti*", "morning after pill", "plan b", "infertil*",
        "fertility", "tubes tied", "vasectomy", "trying to conceive", "stillbirth", "stillborn",
    ),
}
SAFETY_CUES = (
    "suicid*", "kill myself", "killing myself", "end my life", "ending my life", "end it all",
    "take my life", "want to die", "wanna die", "better off dead", "wish i was dead",
    "wish i were dead", "be alive", "tried to kill", "hurt myself", "hurting myself",
    "cut myself", "cutting myself", "self harm", "self-harm", "harm myself", "bunch of pills",
    "kill him", "kill her", "kill them", "kill you", "hurt him", "hurt her", "hurt them",
    "hurt someone", "hurt somebody", "homicid*", "shoot him", "shoot her", "shoot them",
    "shoot myself", "hang myself", "jump off a bridge", "jump off the bridge",
    "jump off the roof",
    # Passive wishes to be dead, attempts, overdose, self-harm, violence and abuse as the
    # note's risk rules read them (notes/risk_cues.py): a passage the note may quote as a risk
    # line is never removed or shortened. Phrases as normalised tokens spell them.
    "wanted to die", "want to die", "don't want to live", "do not want to live", "don't wanna live",
    "don't want to be here", "do not want to be here", "don't want to be alive", "don't live anymore",
    "didn't live anymore", "not wake up", "never wake up", "wouldn't wake up", "didn't wake up",
    "no reason to live", "nothing to live for", "not worth living", "tired of living", "wish i wasn't here",
    "if i was gone", "if i were gone", "if i died", "when i'm gone", "if i wasn't around",
    "if i weren't around", "if i wasn't here", "better off without me", "rather be dead", "can't go on",
    "take my own life", "ending it all", "slit my wrists", "off myself", "kill yourself", "killing yourself",
    "end your life", "ending your life", "hurt yourself", "hurting yourself", "harm yourself",
    "killed himself", "killed herself", "took his own life", "took her own life", "died by suicide",
    "overdos*", "od'd", "narcan", "naloxone", "too many pills", "stomach pumped", "bunch of pills",
    "self harming", "self-harming", "self injury", "used to cut", "cutting again", "cut again",
    "burn myself", "burning myself", "harming myself", "hit myself", "hitting myself", "scars on my",
    "kill someone", "kill somebody", "kill people", "hurt anyone", "hurt people", "hurting someone",
    "hit her", "hit him", "hit my wife", "hit my husband", "hit my girlfriend", "hit my boyfriend",
    "hit my partner", "shoved her", "shoved him", "pushed her", "pushed him", "slapped her", "slapped him",
    "choked her", "choked him", "punched him", "punched her", "beat her", "beat him", "put my hands on",
    "got physical with", "threatened to kill", "said he'd kill me", "said she'd kill me", "afraid to go home",
    "scared to go home",
    "hit my son", "hit my daughter", "hit my kid", "hit my kids", "hit the kids", "hit the baby",
    "left the kids alone", "left the baby alone", "kids home alone",
    "hadn't been bathed", "hadn't been fed", "bed sores", "bedsores", "safe at home", "feel safe",
    "safe with him", "safe with her", "afraid of him", "afraid of her", "scared of him", "scared of her",
    "takes my money", "took my money", "said he would kill me", "said she would kill me",
)

# Violence toward the speaker is a safety matter while it goes on, and trauma detail (the
# office's trauma_details action) when it is told as the past: "he hits me" is kept whatever
# the policy, "my dad used to beat me" follows the policy.
VICTIM_CUES = (
    "hits me", "hit me", "beats me", "beat me", "choked me", "chokes me", "strangled me", "kicked me",
    "pushed me", "shoved me", "punched me", "threatened me", "threatens me", "grabbed me", "with a belt",
)
PAST_MARKERS = ("used to", "when i was", "as a kid", "as a child", "growing up", "years ago", "as a teenager",
                "when we were kids", "in high school", "back then")

PASSAGE_BREAKS = frozenset(
    "and but so because then anyway also um uh okay cause whereas although".split()
)
MIN_PASSAGE = 3  # words on each side of a break: "and" alone is no passage


class PhraseMatcher:
    """Finds lexicon phrases in a token list; "word*" matches any word starting with word."""

    def __init__(self, phrases: Mapping[str, Sequence[str]]):
        self._by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self._prefixes: list[tuple[str, str, tuple[str, ...]]] = []
        for label, items in phrases.items():
            for phrase in items:
                words = tuple(phrase.split())
                if words[0].endswith("*"):
                    self._prefixes.append((words[0][:-1], label, words[1:]))
                else:
                    self._by_first.setdefault(words[0], []).append((label, words[1:]))

    @staticmethod
    def _rest_matches(tokens: Sequence[str], i: int, rest: tuple[str, ...]) -> bool:
        for k, w in enumerate(rest):
            j = i + 1 + k
            if j >= len(tokens):
                return False
            t = tokens[j]
            if not (t.startswith(w[:-1]) if w.endswith("*") else t == w):
                return False
        return True

    def labels(self, tokens: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i, t in enumerate(tokens):
            for label, rest in self._by_first.get(t, ()):
                if self._rest_matches(tokens, i, rest):
                    found.add(label)
            for prefix, label, rest in self._prefixes:
                if t.startswith(prefix) and self._rest_matches(tokens, i, rest):
                    found.add(label)
        return found


class TopicDetector(Protocol):
    """Anything that says which topics each passage touches."""

    def topics(self, passages: Sequence[str]) -> list[set[str]]: ...


class LexiconTopics:
    def __init__(self, cues: Mapping[str, Sequence[str]] = TOPIC_CUES):
        self._matcher = PhraseMatcher(cues)

    def topics(self, passages: Sequence[str]) -> list[set[str]]:
        return [self._matcher.labels(p.split()) for p in passages]


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> "object": ...  # (n, dim) array, rows L2-normalised


TOPIC_EXAMPLES_FILE = Path(__file__).parent / "lexicons" / "topic_examples.txt"
NONE = "none"  # examples of everyday talk: a passage nearer to one of these is no topic
# Cosine similarity a passage needs to its nearest topic example, calibrated on the dev split
# of tests/data/redaction_corpus.tsv only (bench/redaction.py prints the sweep).
ENCODER_THRESHOLD = 0.55


def load_topic_examples(path: str | Path = TOPIC_EXAMPLES_FILE) -> dict[str, tuple[str, ...]]:
    """topic -> example sentences, from "topic<TAB>sentence" lines ("#" starts a comment)."""
    out: dict[str, list[str]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        topic, _, text = line.partition("\t")
        if topic not in (*TOPICS, NONE) or not text.strip():
            raise ValueError(f"{path}:{n}: expected 'topic<TAB>sentence' with a topic of {TOPICS} or {NONE!r}")
        out.setdefault(topic, []).append(text.strip())
    return {t: tuple(ex) for t, ex in out.items()}


class EncoderTopics:
    """The sentence encoder's view (roomnote.notes.encoder): a passage touches the topic of
    its nearest example sentence when their cosine similarity is at least `threshold` and that
    example is not a NONE one (everyday talk). One topic per passage at most: the lexicon adds
    others."""

    def __init__(self, encoder: Encoder, examples: Mapping[str, Sequence[str]],
                 threshold: float = ENCODER_THRESHOLD):
        import numpy as np

        self._np = np
        self._encoder = encoder
        self.threshold = threshold
        self._topics = [t for t, ex in examples.items() for _ in ex]
        self._examples = np.asarray(encoder.encode([e for ex in examples.values() for e in ex]))

    def similarities(self, passages: Sequence[str]) -> list[tuple[str, float]]:
        """Per passage, its nearest example's topic (or NONE) and the cosine to it."""
        if not passages or not len(self._examples):
            return [(NONE, 0.0) for _ in passages]
        sims = self._np.asarray(self._encoder.encode(list(passages))) @ self._examples.T
        best = sims.argmax(axis=1)
        return [(self._topics[j], float(row[j])) for j, row in zip(best, sims)]

    def topics(self, passages: Sequence[str]) -> list[set[str]]:
        return [{t} if t != NONE and sim >= self.threshold else set()
                for t, sim in self.similarities(passages)]


_SAFETY = PhraseMatcher({"safety": SAFETY_CUES})
# The lexicon detector holds no state per session: every policy shares this one.
LEXICON_TOPICS = LexiconTopics()


_VICTIM = PhraseMatcher({"victim": VICTIM_CUES})


def is_safety(tokens: Sequence[str]) -> bool:
    if _SAFETY.labels(tokens):
        return True
    if not _VICTIM.labels(tokens):
        return False
    text = f" {' '.join(tokens)} "
    return not any(f" {p} " in text for p in PAST_MARKERS)


def split_passages(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Clause-sized [lo, hi) ranges covering tokens, cut before discourse words."""
    if not tokens:
        return []
    cuts = [0]
    for i, t in enumerate(tokens):
        if t in PASSAGE_BREAKS and i - cuts[-1] >= MIN_PASSAGE and len(tokens) - i >= MIN_PASSAGE:
            cuts.append(i)
    cuts.append(len(tokens))
    return list(zip(cuts, cuts[1:]))


@dataclass(frozen=True)
class RedactionPolicy:
    """What the office wants done: an action per topic, and pseudonyms for names."""

    actions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    pseudonyms: bool = True
    detectors: tuple[TopicDetector, ...] = (LEXICON_TOPICS,)


@dataclass(frozen=True)
class PassageDecision:
    lo: int
    hi: int
    action: str  # remove | generalize | keep
    topics: frozenset[str]  # topics detected (also for kept and safety passages)
    label: str = ""  # for generalize: "[discussed: ...]"


def decide(tokens: Sequence[str], policy: RedactionPolicy) -> list[PassageDecision]:
    """One decision per passage of one segment's (normalised) tokens."""
    return decide_all([tokens], policy)[0]


def decide_all(segments: Sequence[Sequence[str]], policy: RedactionPolicy) -> list[list[PassageDecision]]:
    """decide() for every segment of a session, with each detector run once over all the
    passages (the encoder is several times faster on one large batch than on many small)."""
    ranges = [split_passages(tokens) for tokens in segments]
    texts = [" ".join(tokens[lo:hi]) for tokens, rs in zip(segments, ranges) for lo, hi in rs]
    found: list[set[str]] = [set() for _ in texts]
    for detector in policy.detectors:
        for k, topics in enumerate(detector.topics(texts)):
            found[k] |= topics
    out, k = [], 0
    for tokens, rs in zip(segments, ranges):
        # A passage is cut at discourse words, often mid-sentence ("and sometimes i think if i
        # don't live anymore"): its neighbours are kept with it so it is never shortened.
        safe = [is_safety(tokens[lo:hi]) for lo, hi in rs]
        near = [any(safe[max(0, n - 1):n + 2]) for n in range(len(rs))]
        out.append([_decision(tokens, lo, hi, found[k + n], policy, near[n]) for n, (lo, hi) in enumerate(rs)])
        k += len(rs)
    return out


def _decision(tokens: Sequence[str], lo: int, hi: int, topics: set[str],
              policy: RedactionPolicy, safety: bool = False) -> PassageDecision:
    action, label = "keep", ""
    if topics and not safety and not is_safety(tokens[lo:hi]):
        acting = {t: policy.actions.get(t, "keep") for t in topics}
        if "remove" in acting.values():
            action = "remove"
        elif "generalize" in acting.values():
            action = "generalize"
            names = sorted(LABELS.get(t, t) for t, a in acting.items() if a == "generalize")
            label = f"[discussed: {', '.join(names)}]"
    return PassageDecision(lo, hi, action, frozenset(topics), label)


def policy_from_config(redaction_cfg, encoder=None) -> RedactionPolicy:
    """The office's policy from its [redaction] configuration section (config.RedactionConfig).

    With a sentence encoder (pipeline.load_note_encoder) and redaction.topic_encoder on, the
    encoder detects topics alongside the lexicon; otherwise the lexicon alone does."""
    detectors: tuple[TopicDetector, ...] = (LEXICON_TOPICS,)
    if encoder is not None and getattr(redaction_cfg, "topic_encoder", False):
        detectors += (EncoderTopics(encoder, load_topic_examples()),)
    return RedactionPolicy(actions=asdict(redaction_cfg.topics), pseudonyms=redaction_cfg.pseudonyms,
                           detectors=detectors)
