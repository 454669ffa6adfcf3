"""What the sentence encoder adds to the cue lexicons: meaning, not just phrases.

Each chunk of the transcript is compared (cosine similarity of MiniLM sentence vectors)
with short example sentences, written the way recognisers deliver speech, for
  - every intervention of the taxonomy (lexicons.INTERVENTIONS): a therapist chunk that
    holds no cue but reads like an example above INTERVENTION_MIN gets that label;
  - the quote kinds (goals, plan, responses, reports): a chunk no cue placed is put into
    the section whose examples it is closest to, when it is close enough (KIND_MIN) and
    clearly closer to that kind than to any other (KIND_MARGIN).
Evidence found this way has basis "encoder" and its similarity as score, so a reader (and
the evidence check) can tell a phrase match from a judgement of meaning.

Thresholds were set on the scripted sessions in tests/data (bench/notes.py prints what
they give), whose lines the examples must not copy (a test checks): high enough that an
unrelated chunk stays out, since a miss only leaves a section emptier while a false label
puts a wrong claim into a record. Check-in questions form a class of their own
(NOT_AN_INTERVENTION): when one is closest, no intervention is claimed. Risk is never decided here: risk
stays with the explicit cues and their stance rules (risk.py).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

INTERVENTION_MIN = 0.50
INTERVENTION_MARGIN = 0.04  # and this much above the next-best label (or check-in)
KIND_MIN = 0.55
KIND_MARGIN = 0.06
MIN_WORDS = 5  # shorter chunks ("okay yeah") carry too little meaning to judge

INTERVENTION_EXAMPLES: dict[str, tuple[str, ...]] = {
    "cognitive restructuring": (
        "is there another way you could look at what happened",
        "what is the evidence that this thought is true",
        "let's question that thought and see if it holds up",
        "what would a more balanced way to think about it be",
        "maybe there is a different reason your friend did not call back",
        "are you confusing a feeling with a fact here",
    ),
    "behavioural activation": (
        "let's schedule some activities that give you a sense of pleasure or achievement",
        "acting first and waiting for the motivation to follow often works better",
        "what activities used to give you energy that you could plan for the coming days",
        "choose one hobby you dropped and put it back on your calendar",
    ),
    "psychoeducation": (
        "let me explain how anxiety affects the body",
        "depression often makes people withdraw which makes the mood worse",
        "this is a normal reaction of the nervous system to stress",
        "when we avoid something the fear tends to grow stronger over time",
        "people who have been through something terrible often feel jumpy that is the brain protecting you",
    ),
    "mindfulness and grounding": (
        "let's slow down and pay attention to your breathing for a moment",
        "notice the sensations in your body without judging them",
        "name what you can hear and feel around you right now",
        "when the panic comes press your heels into the ground and look around the room",
    ),
    "exposure": (
        "let's practise facing the situation you have been avoiding step by step",
        "we will start with the least frightening situation on your list",
        "stay in the situation until the anxiety comes down on its own",
    ),
    "motivational interviewing": (
        "what would make this change important to you",
        "how ready do you feel to make this change",
        "what are the good things and the not so good things about drinking",
        "where would you like to be a year from now if things changed",
    ),
    "reflective listening and validation": (
        "it makes a lot of sense that you would feel that way",
        "you have had to handle all of this by yourself",
        "so what you're telling me is that you felt completely alone",
        "anyone in your position would feel overwhelmed",
    ),
    "problem solving": (
        "let's list the possible solutions and look at each one",
        "which of these options seems most doable for you",
        "what small step could you take to deal with this",
        "let's come up with a few ways you could respond in that situation",
    ),
    "safety planning": (
        "let's write down what you can do and who you can reach if you feel unsafe",
        "if the urges come back who are the people you can contact",
        "can we agree on steps to keep you safe until our next session",
    ),
    "homework assignment": (
        "between sessions i want you to practise this every day",
        "please fill in the mood tracker every evening until we meet",
        "try this exercise at home and we will review it next time",
    ),
}

# Check-ins and small talk: when one of these is closest, no intervention is claimed.
NOT_AN_INTERVENTION = (
    "how has your week been",
    "how are you doing today",
    "what happened after that",
    "how did things go since our last appointment",
    "tell me more about what your days are like",
    "you seemed upset when you came in",
    "how have you been feeling since the last session",
)

KIND_EXAMPLES: dict[str, tuple[str, ...]] = {
    "goals": (
        "what i really want is to feel comfortable around other people again",
        "i hope that by the end of this i can handle stress without shutting down",
        "i would love to be able to go back to work full time",
        "i want to be able to speak up for myself at work",
    ),
    "plan": (
        "so i'm going to practise this every morning before work",
        "we agreed that i come back at the end of the month",
        "i'll call the clinic to make that appointment tomorrow",
        "i'll go for a run on monday and wednesday",
    ),
    "responses": (
        "that actually made me feel calmer than when i came in",
        "when i did the exercise this week it went better than i expected",
        "i see it differently now that we talked it through",
    ),
    "reports": (
        "this week was really rough i barely got out of bed",
        "everything at home has been so tense lately",
        "i have been feeling on edge and tired most days",
    ),
}


@dataclass
class Prototypes:
    """Example vectors per label, encoded once per encoder."""

    labels: list[str]
    vectors: np.ndarray  # (n examples, dim)
    owner: np.ndarray  # label index of each example

    @classmethod
    def of(cls, encoder, examples: dict[str, tuple[str, ...]]) -> "Prototypes":
        labels = list(examples)
        texts = [t for lb in labels for t in examples[lb]]
        owner = np.array([i for i, lb in enumerate(labels) for _ in examples[lb]])
        return cls(labels, encoder.encode(texts), owner)

    def best(self, vecs: np.ndarray) -> np.ndarray:
        """(n chunks, n labels): each label's best example similarity."""
        sims = vecs @ self.vectors.T
        out = np.full((len(vecs), len(self.labels)), -1.0, np.float32)
        for i in range(len(self.labels)):
            out[:, i] = sims[:, self.owner == i].max(axis=1)
        return out


# Per encoder object, held weakly: an id() key could hand a new encoder that reuses a freed
# one's address the old encoder's vectors, and would keep every encoder's vectors forever.
_CACHE: "weakref.WeakKeyDictionary[object, tuple[Prototypes, Prototypes]]" = weakref.WeakKeyDictionary()
NONE = ""  # the check-in class


def prototypes(encoder) -> tuple[Prototypes, Prototypes]:
    if encoder not in _CACHE:
        _CACHE[encoder] = (Prototypes.of(encoder, {**INTERVENTION_EXAMPLES, NONE: NOT_AN_INTERVENTION}),
                           Prototypes.of(encoder, KIND_EXAMPLES))
    return _CACHE[encoder]


def intervention_scores(encoder, vecs: np.ndarray) -> tuple[list[str], np.ndarray]:
    interventions, _ = prototypes(encoder)
    return interventions.labels, interventions.best(vecs)


def kind_scores(encoder, vecs: np.ndarray) -> tuple[list[str], np.ndarray]:
    _, kinds = prototypes(encoder)
    return kinds.labels, kinds.best(vecs)


def best_intervention(labels: list[str], row: np.ndarray) -> tuple[str, float] | None:
    """The intervention a therapist chunk reads as, if close enough and clearly closest."""
    order = np.argsort(-row)
    top, second = float(row[order[0]]), float(row[order[1]])
    if labels[order[0]] != NONE and top >= INTERVENTION_MIN and top - second >= INTERVENTION_MARGIN:
        return labels[order[0]], top
    return None


def best_kind(labels: list[str], row: np.ndarray) -> tuple[str, float] | None:
    """The quote kind a chunk reads as, if it is close enough and clearly closest."""
    order = np.argsort(-row)
    top, second = float(row[order[0]]), float(row[order[1]]) if len(order) > 1 else -1.0
    if top >= KIND_MIN and top - second >= KIND_MARGIN:
        return labels[order[0]], top
    return None


def _may_intervene(s) -> bool:
    return (s.role in ("therapist", "unknown") and s.second_person >= s.first_person
            and not s.interventions)


def _unplaced(s) -> bool:
    return (s.role in ("client", "unknown") and not s.interventions
            and not (s.plans or s.goals or s.responses or s.reports or s.themes))


def annotate(signals: list, encoder, vectors: dict | None = None) -> None:
    """Add the encoder's judgements to ChunkSignals in place.

    Only chunks the cues left open are encoded (a therapist chunk with no intervention cue,
    a client chunk no cue placed), of at least MIN_WORDS words and without risk talk: that
    is what the encoder can add, and it keeps an hour's note well under a second.
    """
    todo = [s for s in signals if s.chunk.hi - s.chunk.lo >= MIN_WORDS and not s.risks
            and (_may_intervene(s) or _unplaced(s))]
    if not todo:
        return
    if vectors is not None:  # the composer encoded every chunk once already (index -> vector)
        index = {id(s): i for i, s in enumerate(signals)}
        todo = [s for s in todo if index[id(s)] in vectors]
        if not todo:
            return
        vecs = np.stack([vectors[index[id(s)]] for s in todo])
    else:
        vecs = encoder.encode([s.chunk.text for s in todo])
    ilabels, iscores = intervention_scores(encoder, vecs)
    klabels, kscores = kind_scores(encoder, vecs)
    for s, irow, krow in zip(todo, iscores, kscores):
        if _may_intervene(s):
            hit = best_intervention(ilabels, irow)
            if hit:
                s.semantic_interventions[hit[0]] = hit[1]
        if _unplaced(s):
            s.semantic_kind = best_kind(klabels, krow)
