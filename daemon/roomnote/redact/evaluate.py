"""Score a redactor against the labelled corpus (tests/data/redaction_corpus.tsv).

Token-level, because a placeholder replaces tokens: a gold identifier token counts as caught
when the redactor removes it under any kind (what matters for privacy is that it is gone),
and a redacted token counts as correct when it is part of any gold identifier. Per-kind
recall is over the gold kind; per-kind precision over the predicted kind.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

_SPAN_RE = re.compile(r"\{([A-Z_]+) ([^{}]+)\}")


@dataclass(frozen=True)
class Snippet:
    id: str
    split: str  # dev | test
    topics: frozenset[str]  # sensitive topics, "safety" for content that must survive
    tokens: tuple[str, ...]
    labels: tuple[str | None, ...]  # gold kind per token

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def parse_line(line: str) -> Snippet:
    sid, split, topics, marked = line.rstrip("\n").split("\t")
    tokens: list[str] = []
    labels: list[str | None] = []
    pos = 0
    for m in _SPAN_RE.finditer(marked):
        for w in marked[pos : m.start()].split():
            tokens.append(w)
            labels.append(None)
        for w in m.group(2).split():
            tokens.append(w)
            labels.append(m.group(1))
        pos = m.end()
    for w in marked[pos:].split():
        tokens.append(w)
        labels.append(None)
    topic_set = frozenset() if topics == "-" else frozenset(topics.split(","))
    return Snippet(sid, split, topic_set, tuple(tokens), tuple(labels))


def load_corpus(path: str | Path, split: str | None = None) -> list[Snippet]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    snippets = [parse_line(l) for l in lines if l.strip() and not l.startswith("#")]
    return [s for s in snippets if split in (None, s.split)]


@dataclass
class Scores:
    gold: Counter = field(default_factory=Counter)  # gold tokens per kind
    caught: Counter = field(default_factory=Counter)  # of those, redacted under any kind
    predicted: Counter = field(default_factory=Counter)  # redacted tokens per predicted kind
    correct: Counter = field(default_factory=Counter)  # of those, inside any gold span
    words: int = 0
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (id, kind, token)
    false_hits: list[tuple[str, str, str]] = field(default_factory=list)

    def recall(self, kind: str | None = None) -> float:
        g = self.gold[kind] if kind else sum(self.gold.values())
        c = self.caught[kind] if kind else sum(self.caught.values())
        return c / g if g else 1.0

    def precision(self, kind: str | None = None) -> float:
        p = self.predicted[kind] if kind else sum(self.predicted.values())
        c = self.correct[kind] if kind else sum(self.correct.values())
        return c / p if p else 1.0


def score(snippets: Iterable[Snippet], predict: Callable[[Snippet], list[str | None]]) -> Scores:
    """predict gives, for each token of a snippet, the kind it redacts it as, or None."""
    s = Scores()
    for snip in snippets:
        pred = predict(snip)
        s.words += len(snip.tokens)
        for tok, gold, got in zip(snip.tokens, snip.labels, pred):
            if gold:
                s.gold[gold] += 1
                if got:
                    s.caught[gold] += 1
                else:
                    s.misses.append((snip.id, gold, tok))
            if got:
                s.predicted[got] += 1
                if gold:
                    s.correct[got] += 1
                else:
                    s.false_hits.append((snip.id, got, tok))
    return s


def roomnote_predict(snip: Snippet) -> list[str | None]:
    from .redactor import detect

    labels: list[str | None] = [None] * len(snip.tokens)
    for span in detect(list(snip.tokens)):
        labels[span.start : span.end] = [span.kind] * (span.end - span.start)
    return labels


@dataclass
class TopicScores:
    """Sensitive-topic detection per snippet: a (snippet, topic) pair is found when any
    passage of the snippet is detected as that topic; a false flag is a detected pair the
    snippet is not labelled with. "safety" is not a topic here (it has its own cues)."""

    gold: Counter = field(default_factory=Counter)  # labelled snippets per topic
    found: Counter = field(default_factory=Counter)  # of those, detected
    false: Counter = field(default_factory=Counter)  # detected, not labelled
    misses: list[tuple[str, str]] = field(default_factory=list)  # (id, topic)
    false_flags: list[tuple[str, str]] = field(default_factory=list)

    def recall(self, topic: str | None = None) -> float:
        g = self.gold[topic] if topic else sum(self.gold.values())
        f = self.found[topic] if topic else sum(self.found.values())
        return f / g if g else 1.0

    @property
    def false_total(self) -> int:
        return sum(self.false.values())


def topic_scores(snippets: Iterable[Snippet], policy) -> TopicScores:
    """Score a RedactionPolicy's topic detectors against the corpus labels, passage by
    passage as redact_transcript applies them (all snippets in one batch)."""
    from .spans import normalize
    from .topics import decide_all

    snippets = list(snippets)
    decisions = decide_all([[normalize(t) for t in s.tokens] for s in snippets], policy)
    out = TopicScores()
    for s, decided in zip(snippets, decisions):
        got = set().union(*(d.topics for d in decided)) if decided else set()
        gold = s.topics - {"safety"}
        for t in gold:
            out.gold[t] += 1
            if t in got:
                out.found[t] += 1
            else:
                out.misses.append((s.id, t))
        for t in got - gold:
            out.false[t] += 1
            out.false_flags.append((s.id, t))
    return out
