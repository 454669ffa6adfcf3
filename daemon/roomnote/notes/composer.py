"""Compose a clinical note from a redacted transcript: clinical sentences, every one grounded.

Each line is a fixed third-person template (prose.py) around the client's own words in
short quotes, a label from a documented table whose cue is in the line's evidence, or a
session fact. Every line cites its segments, and a line whose words outside its quotes are
not template, label or evidence is not emitted (prose.sentence_problem). Nothing is
assumed: a section with nothing heard says so.

Who said what: with speaker labels (an enrolled voice, or roles inferred from the talk by
roles.py), client words are quoted only from client segments and interventions come only
from therapist segments; an "unknown" segment is neither. With the sentence encoder, the
utterance classifiers (classify.py) must agree with the cues: an intervention is claimed
only when the therapist's turn has the cue and the classifier reads it as that kind of turn;
change and sustain talk, goals and responses are the client's, and read as such. Without
the encoder ("lexicons only") the cues decide alone, as before, and no item says who spoke.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from ..transcript import RedactedTranscript
from . import prose
from .chunks import Chunk
from .facts import cpt_code, fact_items
from .formats import sections_for
from .lexicons import CHANGE_TALK, SUSTAIN_TALK
from .model import EMPTY_SECTION, NO_SPEECH, Evidence, Item, Note, Section, SessionFacts, note_id_for
from .risk import risk_section
from .roles import INFERRED, LABELLED, infer_roles, needs_inference
from .semantic import annotate
from .signals import ChunkSignals, read_segment

# How many lines of each kind a note carries at most; the best-grounded ones are kept.
MAX_QUOTES = {"plan": 6, "goals": 4, "responses": 4, "reports": 8}
MAX_DETAILS, MAX_CHANGE, MAX_SUSTAIN = 8, 5, 4
MIN_REPORT_WORDS = 5  # "my sister i guess" says too little on its own to quote as a report
MIN_CLASSIFIED_WORDS = 3  # shorter chunks ("yeah okay") are not classified
ASSENT_WINDOW_S = 25.0  # the client's assent to a proposal must come this soon after it
CHANGE_MIN, SUSTAIN_MIN = 0.50, 0.50  # classifier probability to name change / sustain talk (with a cue)
_CHANGE_RE, _SUSTAIN_RE = re.compile(CHANGE_TALK, re.I), re.compile(SUSTAIN_TALK, re.I)
AGREE_MIN = 0.55  # or this much classifier probability on the agreeing turn kinds

_QUOTE_KINDS = {"plan": "plan", "goals": "goal", "responses": "response", "reports": "quote"}
_LABELLED_SPEAKERS = frozenset({"client", "therapist"})
_DEFAULT = object()

# The therapist-turn kinds (classifier head "therapist") that agree with each intervention.
_AGREE: dict[str, frozenset[str]] = {
    "open questions": frozenset({"question"}),
    "reflections": frozenset({"reflection"}),
    "summaries": frozenset({"reflection"}),
    "eliciting change talk": frozenset({"question"}),
    "information with permission": frozenset({"question", "input"}),
    "affirmations": frozenset({"reflection", "other", "input"}),
    "reflective listening and validation": frozenset({"reflection", "other"}),
}
_AGREE_DEFAULT = frozenset({"input", "question", "reflection"})  # CBT, DBT, psychoeducation, ...
# Told by the turn's form (mi.py), so claimed only with a classifier to agree.
_STRUCTURAL = {"open questions": "open question", "reflections": "reflection"}
# Held-out AnnoMI precision of the form cue with the classifier's top label at this
# probability: bench/notes.py prints it (set for precision >= 0.9 on the held-out split).
# The listening skills too: their cues are common words, so the classifier must be clear.
STRUCTURAL_MIN = {"open questions": 0.65, "reflections": 0.75,
                  "reflective listening and validation": 0.5, "summaries": 0.5}


def read_transcript(rt: RedactedTranscript) -> list[ChunkSignals]:
    """Every chunk of the session with the cues it holds, in time order."""
    return [sig for seg in sorted(rt.segments, key=lambda s: (s.start, s.id))
            for sig in read_segment(seg)]


def compose_note(rt: RedactedTranscript, fmt: str, facts: SessionFacts, *,
                 created_at: datetime | None = None, encoder=None, classifier=_DEFAULT) -> Note:
    """The note for one session in one format. Pure: same input, same note.

    created_at defaults to the end of the session, which keeps composing deterministic;
    a revision passes its own time. With a sentence encoder (encoder.SentenceEncoder) the
    shipped utterance classifier (classify.shared_classifier, unless one is given) reads
    the turns and roles are inferred when no voice was enrolled; without one, the cue
    lexicons alone decide.
    """
    fmt = fmt.strip().lower() if isinstance(fmt, str) else fmt
    specs = sections_for(fmt)
    if classifier is _DEFAULT:
        from .classify import shared_classifier
        classifier = shared_classifier() if encoder is not None else None
    signals = read_transcript(rt)
    roles = LABELLED if any(s.speaker in _LABELLED_SPEAKERS for s in rt.segments) else ""
    if encoder is not None and signals:
        vectors = classify_signals(signals, encoder, classifier,
                                   everything=needs_inference({s.speaker for s in rt.segments}))
        if classifier is not None and not any(s.inferred_role for s in signals):
            roles = infer_roles(signals)
        elif classifier is not None:
            roles = INFERRED
        annotate(signals, encoder, vectors)
    identified = any(s.speaker in _LABELLED_SPEAKERS for s in signals)
    no_speech = not signals

    if no_speech:
        sections = [Section(s.key, s.title, [Item(NO_SPEECH, [], "no_speech")]) for s in specs]
        flags: list[str] = []
    else:
        content, flags = _gather(signals, facts, identified, roles)
        content = _grounded(content, rt)
        if not identified:  # no line says who spoke
            content = {k: [replace(it, text=prose.neutral(it.text)) if it.kind not in ("risk", "fact") else it
                           for it in its] for k, its in content.items()}
        sections = [Section(s.key, s.title,
                            [it for kind in s.contents for it in content[kind]]
                            or [Item(EMPTY_SECTION, [], "empty")])
                    for s in specs]

    return Note(note_id=note_id_for(facts.session_id, fmt), version=1, format=fmt,
                created_at=created_at or facts.ended_at, facts=facts, sections=sections,
                redaction_counts=dict(rt.report.counts), no_speech=no_speech,
                cpt_code=cpt_code(facts.duration_s), speakers_identified=identified,
                risk_flags=flags, encoder=getattr(encoder, "name", None),
                topic_counts=dict(rt.report.topics),
                removed_passages=rt.report.removed,
                speaker_roles=roles if identified else "",
                classifier=getattr(classifier, "name", None) if encoder is not None else None)


STRUCTURAL_SAMPLE = 60  # therapist turns told only by their form, classified per session at most
TALK_SAMPLE = 60  # client turns with only a change or sustain cue, classified per session at most
VOICE_SAMPLE = 40  # turns per voice read to tell the therapist's voice


def _wanted(s: ChunkSignals) -> int:
    """Whether the classifier's reading of a chunk can change the note: 2 always (a cue
    claims something the classifier must agree with, or semantic.annotate judges it), 1 for
    turns known only by form or a change-talk cue (sampled, so an hour stays fast), 0 never."""
    n = s.chunk.hi - s.chunk.lo
    if n < MIN_CLASSIFIED_WORDS or s.risks:
        return 0
    if s.role == "therapist" or (s.role == "unknown" and s.second_person >= s.first_person):
        if s.interventions or (n >= 5 and s.second_person >= s.first_person):
            return 2
        return 1 if (s.shape.get("open question") or s.shape.get("reflection")) else 0
    if s.role in ("client", "unknown") and n >= MIN_REPORT_WORDS:
        if s.goals or s.responses or not (s.plans or s.reports or s.themes or s.details):
            return 2
        return 1 if (_CHANGE_RE.search(s.chunk.text) or _SUSTAIN_RE.search(s.chunk.text)) else 0
    return 0


def _spread(indices: list[int], k: int) -> list[int]:
    """At most k of the indices, evenly over the session."""
    if len(indices) <= k:
        return indices
    step = len(indices) / k
    return [indices[int(j * step)] for j in range(k)]


def classify_signals(signals: list[ChunkSignals], encoder, classifier, everything: bool = False) -> dict:
    """Encode the chunks that matter once and set ChunkSignals.probs from the classifier;
    returns index -> vector. everything: every chunk (roles read segment by segment)."""
    vectors: dict[int, object] = {}

    def run(todo: list[int]) -> None:
        todo = [i for i in todo if i not in vectors]
        if not todo:
            return
        vecs = encoder.encode([signals[i].chunk.text for i in todo])
        if classifier is not None:
            pred = classifier.predict(vecs)
            for row, i in enumerate(todo):
                signals[i].probs = {h: {lb: float(pred.probs[h][row, k]) for k, lb in enumerate(pred.labels[h])}
                                    for h in pred.labels}
        vectors.update(zip(todo, vecs))

    speakers = {s.chunk.segment.speaker for s in signals}
    if everything and classifier is not None:
        voices = sorted(sp for sp in speakers if sp.startswith("speaker "))
        if len(voices) >= 2:  # a sample of each voice tells the roles; then what matters
            for v in voices:
                mine = [i for i, s in enumerate(signals) if s.chunk.segment.speaker == v
                        and s.chunk.hi - s.chunk.lo >= MIN_REPORT_WORDS]
                run(sorted(sorted(mine, key=lambda i: -(signals[i].chunk.hi - signals[i].chunk.lo))[:VOICE_SAMPLE]))
            if not infer_roles(signals):  # no voice clearly the therapist: segment by segment
                run([i for i, s in enumerate(signals) if s.chunk.hi - s.chunk.lo >= MIN_CLASSIFIED_WORDS])
                infer_roles(signals, by_segment=True)
        else:
            run([i for i, s in enumerate(signals) if s.chunk.hi - s.chunk.lo >= MIN_CLASSIFIED_WORDS
                 and s.role == "unknown"])
            return vectors
    want = [(i, _wanted(s)) for i, s in enumerate(signals)]
    sure = [i for i, w in want if w == 2]
    therapist = [i for i, w in want if w == 1 and signals[i].role == "therapist"]
    client = [i for i, w in want if w == 1 and signals[i].role != "therapist"]
    run(sorted(sure + _spread(therapist, STRUCTURAL_SAMPLE) + _spread(client, TALK_SAMPLE)))
    return vectors


def _grounded(content: dict[str, list[Item]], rt: RedactedTranscript) -> dict[str, list[Item]]:
    """Only the lines whose words are template, label or evidence (prose.sentence_problem)."""
    text = {s.id: s.text for s in rt.segments}
    out = {}
    for kind, items in content.items():
        out[kind] = [it for it in items if not it.needs_evidence or it.kind == "risk"
                     or prose.sentence_problem(it.text, " ".join(text.get(e.segment_id, "") for e in it.evidence)) is None]
    return out


def _gather(signals: list[ChunkSignals], facts: SessionFacts, identified: bool,
            roles: str = "") -> tuple[dict[str, list[Item]], list[str]]:
    """Everything the transcript supports, by content kind (see formats.CONTENT_KINDS)."""
    risk_items, flags = _risk(signals)
    classified = any(s.probs is not None for s in signals)
    quotes = _quotes(signals, identified, classified)
    themes = _themes(signals)
    content: dict[str, list[Item]] = {
        "facts": fact_items(facts, identified, roles),
        "themes": _assessment(signals, quotes, themes, identified) + themes,
        "interventions": _interventions(signals, identified, classified),
        "risk": risk_items,
    }
    content.update(quotes)
    return content, flags


# --- who may have said it -------------------------------------------------------------

def _may_be_client(s: ChunkSignals, identified: bool = False) -> bool:
    return s.role == "client" or (s.role == "unknown" and not identified and s.sounds_like_client)


def _may_intervene(s: ChunkSignals, identified: bool = False) -> bool:
    return s.role == "therapist" or (s.role == "unknown" and not identified)


def _may_discuss(s: ChunkSignals) -> bool:
    return s.role in ("client", "therapist", "unknown")


def quote(chunk: Chunk) -> str:
    return f'"{chunk.text}"'


# --- interventions ----------------------------------------------------------------------

def _agrees(s: ChunkSignals, label: str) -> bool:
    """The classifier reads the therapist's turn as the kind of turn the label is (for the
    skills told by form alone, clearly: STRUCTURAL_MIN)."""
    kinds = _AGREE.get(label, _AGREE_DEFAULT)
    top = s.top("therapist")
    if top is None:
        return False
    if label in STRUCTURAL_MIN:
        return top[0] in kinds and top[1] >= STRUCTURAL_MIN[label]
    return top[0] in kinds or sum(s.probs["therapist"][k] for k in kinds) >= AGREE_MIN


def _interventions(signals: list[ChunkSignals], identified: bool, classified: bool) -> list[Item]:
    """One line per intervention heard, its evidence every therapist turn that has the cue
    (or, with the encoder, reads like the label's examples) and, with a classifier, that
    the classifier reads as that kind of turn."""
    evidence: dict[str, list[tuple[Evidence, ChunkSignals]]] = {}
    for s in signals:
        if not _may_intervene(s, identified):
            continue
        found: dict[str, Evidence] = {}
        for label, matches in s.interventions.items():
            found[label] = s.chunk.evidence(matches[0].cue)
        for label, score in s.semantic_interventions.items():
            found.setdefault(label, s.chunk.evidence(None, "encoder", score))
        if classified:
            for label, form in _STRUCTURAL.items():
                if s.shape.get(form) and not (label == "reflections" and "reflective listening and validation" in found):
                    found.setdefault(label, s.chunk.evidence(s.shape[form][0].cue))
        for label, ev in found.items():
            if classified and not _agrees(s, label):
                continue
            evidence.setdefault(label, []).append((ev, s))
    items = []
    for label, evs in evidence.items():  # first heard first
        example = next((s.chunk.text for ev, s in evs if s.chunk.hi - s.chunk.lo >= 4), None)
        cited = [ev for ev, _ in evs]
        items.append(Item(prose.intervention(label, example if classified else None), cited,
                          "intervention", label))
    return items


# --- themes and the assessment ------------------------------------------------------------

def _themes(signals: list[ChunkSignals]) -> list[Item]:
    evidence: dict[str, list[Evidence]] = {}
    for s in signals:
        if not _may_discuss(s):
            continue
        for label, matches in s.themes.items():
            evidence.setdefault(label, []).append(s.chunk.evidence(matches[0].cue))
    labels = sorted(evidence, key=lambda lb: -len(evidence[lb]))
    return [Item(prose.theme(lb), evidence[lb], "theme", lb) for lb in labels]


def _one_per_segment(evidence: list[Evidence], limit: int = 6) -> list[Evidence]:
    seen, out = set(), []
    for e in evidence:
        if e.segment_id not in seen:
            seen.add(e.segment_id)
            out.append(e)
    return out[:limit]


_NUMBER = re.compile(r"\b(zero|one|two|three|four|five|six|seven|eight|nine|ten|\d+)\b", re.I)
_READY = re.compile(r"\b(i'm ready|i am ready|i've decided|i have decided|i'm going to|i am going to|i'm gonna|"
                    r"i'm willing|i am willing|i'm not ready|i am not ready|not ready to|i will)\b", re.I)
_PROGRESS = re.compile(r"\b(better|improved|improving|cut down|cut back|cutting down|cutting back|went well|"
                       r"managed to|been able to|haven't had a|fewer|less than|worse|harder than|easier)\b", re.I)


def _assessment(signals: list[ChunkSignals], quotes: dict[str, list[Item]], themes: list[Item],
                identified: bool) -> list[Item]:
    """The Assessment paragraph: presenting concern, the balance of change and sustain talk,
    readiness and progress as the client put them. Each sentence cites what it rests on."""
    items: list[Item] = []
    client = [s for s in signals if _may_be_client(s, identified) and not s.risks]
    client_ids = {id(s) for s in client}  # membership by identity: a dataclass == compares every field
    substances: dict[str, list[Evidence]] = defaultdict(list)
    for s in client:
        for d in s.details:
            if d.category == "substance":
                substances[d.label].append(s.chunk.evidence(d.match.cue))
    client_themes = defaultdict(list)
    for s in signals:  # the client's own account, risk talk included
        if not _may_be_client(s, identified):
            continue
        for label, ms in s.themes.items():
            client_themes[label].append(s.chunk.evidence(ms[0].cue))
    if substances:
        label = max(substances, key=lambda k: len(substances[k]))
        items.append(Item(prose.presenting(f"{label} use"), _one_per_segment(substances[label]), "assessment",
                          "presenting_concern"))
    elif client_themes:
        label = max(client_themes, key=lambda k: (len(_one_per_segment(client_themes[k], 99)),
                                                  -client_themes[k][0].start))
        ev = _one_per_segment(client_themes[label])
        words = list(dict.fromkeys(e.cue for e in ev if e.cue))[:3]
        items.append(Item(prose.presenting(label, words), ev, "assessment", "presenting_concern"))
    change = [it for it in quotes["reports"] if it.category == "change_talk"]
    sustain = [it for it in quotes["reports"] if it.category == "sustain_talk"]
    n_change = sum(1 for s in client if _talk(s, "change"))
    n_sustain = sum(1 for s in client if _talk(s, "sustain"))
    if change or sustain:
        if change and sustain:
            key = "change" if n_change >= 2 * n_sustain else "sustain" if n_sustain >= 2 * n_change else "ambivalent"
        else:
            key = "change_only" if change else "sustain_only"
        ev = sorted([e for it in change + sustain for e in it.evidence], key=lambda e: e.start)
        items.append(Item(prose.BALANCE[key], ev, "assessment", "change_balance"))
    quoted = {e.segment_id for its in quotes.values() for it in its for e in it.evidence}
    for i, s in enumerate(signals):  # the client's answer to a scaling question ("maybe a six")
        prev = signals[i - 1] if i else None
        if (prev is not None and id(s) in client_ids and prev.role in ("therapist", "unknown") and "scale" in prev.chunk.text.lower()
                and _NUMBER.search(s.chunk.text) and s.chunk.segment.id not in quoted):
            items.append(Item(prose.scaled(s.chunk.text), [prev.chunk.evidence("scale" if " scale " in f" {prev.chunk.text} " else None, "context"),
                                                            s.chunk.evidence()], "assessment", "readiness"))
            quoted.add(s.chunk.segment.id)
    for pattern, write, category in ((_READY, prose.readiness, "readiness"), (_PROGRESS, prose.progress, "progress")):
        for s in client:
            m = pattern.search(s.chunk.text)
            if m and s.chunk.hi - s.chunk.lo >= MIN_REPORT_WORDS and s.chunk.segment.id not in quoted \
                    and not s.is_question:
                items.append(Item(write(s.chunk.text), [s.chunk.evidence()], "assessment", category))
                quoted.add(s.chunk.segment.id)
                break
    return items


# --- the client's words ---------------------------------------------------------------------

_REFERRAL_CUES = frozenset({"referral", "refer you", "support group", "psychiatrist", "specialist", "quitline",
                            "quit line", "treatment program", "refer"})
_APPOINTMENT_CUES = frozenset({"next session", "see you on", "see you next", "see you in",
                               "meet again", "let's meet", "before we meet", "appointment", "follow up"})
_COMMIT = re.compile(r"\b(i'll|i will|i'm going to|i am going to|i'm gonna|i can try|i could try|i'll try|"
                     r"i'm willing to|i am willing to|i could|i can)\s+(?:\w+\s+){0,2}?(try|call|write|keep|track|"
                     r"cut|stop|quit|reduce|practi[cs]e|go to|go into|make|bring|talk to|ask|start|limit|take|"
                     r"exercise|walk|set|book|schedule|attend|join|use|throw|tell|read|look into|sign up|check|"
                     r"get rid|log|drink less|smoke less|switch|swap|avoid|save|put|text|plan|leave)\w*\b", re.I)
_ASSENT = re.compile(r"^(?:\W*(?:um|uh|well|so|mm|hmm)\W+)?(yes|yeah|yep|yup|okay|ok|sure|alright|all right|definitely|"
                     r"absolutely|sounds good|that sounds good|i can do that|i could do that|i will|i'll|i can try|"
                     r"that works|let's do it|fine|i think so|i'd like that|that would be good|that'd be good|"
                     r"i'm willing|i am willing|i think i can|i can|i could|i'm happy to|i guess i can|deal)\b", re.I)


def _plan_category(s: ChunkSignals) -> str:
    """What kind of plan a turn states: referral, homework, next appointment, a client's
    own commitment (""), or None when it states no plan."""
    text = f" {s.chunk.text.lower()} "
    cues = {m.cue.lower() for m in s.plans}
    if any(f" {c} " in text for c in _REFERRAL_CUES) or cues & _REFERRAL_CUES:
        return "referral"
    if "homework assignment" in s.interventions or "homework" in cues:
        return "homework"
    if any(f" {c} " in text for c in _APPOINTMENT_CUES):
        return "next_appointment"
    if _COMMIT.search(s.chunk.text) or s.plans:
        return ""
    return None  # type: ignore[return-value]


def _assent_after(signals: list[ChunkSignals], i: int) -> ChunkSignals | None:
    """The client's assent to the proposal at i: a yes, okay, I'll try ... right after it."""
    for nxt in signals[i + 1:i + 4]:
        if nxt.chunk.start - signals[i].chunk.end > ASSENT_WINDOW_S:
            return None
        if nxt.role == "therapist":
            continue
        if nxt.role in ("client", "unknown") and _ASSENT.search(nxt.chunk.text):
            return nxt
        if nxt.role == "client":
            return None
    return None


def _quotes(signals: list[ChunkSignals], identified: bool = False,
            classified: bool = False) -> dict[str, list[Item]]:
    """Plan, goals, responses and the client's reports (details, change and sustain talk
    first), each chunk used once."""
    used: set[int] = set()
    plan: list[tuple[int, Item]] = []
    for i, s in enumerate(signals):
        if s.risks or not _may_discuss(s):
            continue
        if i in used:
            continue
        cat = _plan_category(s)
        if cat is None:
            continue
        if _may_be_client(s, identified) and s.role != "therapist":
            if s.is_question or not _COMMIT.search(s.chunk.text) or cat is None:
                continue  # a client's plan is a commitment ("I'll call them tomorrow")
            plan.append((i, Item(prose.plan(s.chunk.text, cat), [s.chunk.evidence(_plan_cue(s))], "plan", cat)))
            used.add(i)
        elif _may_intervene(s, identified) and (cat or s.plans):
            assent = _assent_after(signals, i)
            if assent is None and cat not in ("next_appointment", "homework", "referral"):
                continue  # proposed, not agreed: the Plan states only what was agreed
            ev = [s.chunk.evidence(_plan_cue(s))]
            if assent is not None:
                ev.append(assent.chunk.evidence(None, "context"))
                used.add(next(j for j in range(i + 1, len(signals)) if signals[j] is assent))  # by identity: cheap
            plan.append((i, Item(prose.plan(s.chunk.text, cat, assent.chunk.text if assent else None,
                                            agreed=assent is not None), ev, "plan", cat)))
            used.add(i)
    out = {"plan": [it for _, it in plan[:MAX_QUOTES["plan"]]]}

    client = [(i, s) for i, s in enumerate(signals) if i not in used and _may_be_client(s, identified)
              and (not s.is_question or any(d.category != "substance" for d in s.details))
              and not _sounds_like_therapist(s)]
    details, change, sustain, goals, responses, reports = [], [], [], [], [], []
    for i, s in client:
        n = s.chunk.hi - s.chunk.lo
        top = s.top("client")
        if s.risks:  # a client's risk statement is also their account; never a goal or a plan
            if n >= MIN_REPORT_WORDS and any(f.stance == "disclosure" for f in s.risks) \
                    and not any(f.stance == "screening" for f in s.risks):
                reports.append((99, i, Item(prose.report(s.chunk.text), [s.chunk.evidence(s.risks[0].match.cue)],
                                            "quote")))
        elif s.goals and not any(d.category != "substance" for d in s.details) and not (top and top[0] == "sustain"):
            goals.append((len(s.goals), i, Item(prose.goal(s.chunk.text), [s.chunk.evidence(s.goals[0].cue)], "goal")))
        elif s.details and any(d.category != "substance" for d in s.details) or \
                (s.details and n >= MIN_REPORT_WORDS and any(d.category == "substance" for d in s.details)):
            subs = list(dict.fromkeys(d.label for d in s.details if d.category == "substance"))
            cats = list(dict.fromkeys(d.category for d in s.details))
            details.append((len(cats) + len(subs), i, Item(prose.detail(s.chunk.text, subs, cats),
                                                           [s.chunk.evidence(s.details[0].match.cue)], "quote", "details")))
        elif s.goals and not (top and top[0] == "sustain"):
            goals.append((len(s.goals), i, Item(prose.goal(s.chunk.text), [s.chunk.evidence(s.goals[0].cue)], "goal")))
        elif _talk(s, "change") and n >= MIN_REPORT_WORDS:
            change.append((top[1], i, Item(prose.change_talk(s.chunk.text), [s.chunk.evidence(None, "encoder", top[1])],
                                           "quote", "change_talk")))
        elif _talk(s, "sustain") and n >= MIN_REPORT_WORDS:
            sustain.append((top[1], i, Item(prose.sustain_talk(s.chunk.text), [s.chunk.evidence(None, "encoder", top[1])],
                                            "quote", "sustain_talk")))
        elif s.responses and _after_therapist(signals, i):
            responses.append((len(s.responses), i, Item(prose.response(s.chunk.text),
                                                        [s.chunk.evidence(s.responses[0].cue)], "response")))
        elif (s.reports or s.themes) and n >= MIN_REPORT_WORDS:
            label = next(iter(s.themes), None)
            cue = min(s.reports or [m for ms in s.themes.values() for m in ms], key=lambda m: m.start).cue
            reports.append((len({m.cue for m in s.reports}) + len(s.themes), i,
                            Item(prose.report(s.chunk.text, label), [s.chunk.evidence(cue)], "quote")))
        elif s.semantic_kind and not s.interventions and not s.semantic_interventions:
            kind, score = s.semantic_kind
            if kind == "goals" and top is not None and top[0] != "change":
                continue  # a goal by meaning alone must also read as change talk
            ev = [s.chunk.evidence(None, "encoder", score)]
            write = {"goals": prose.goal, "responses": prose.response, "reports": prose.report,
                     "plan": None}[kind]
            if write is not None:
                target = {"goals": goals, "responses": responses, "reports": reports}[kind]
                target.append((score, i, Item(write(s.chunk.text), ev, _QUOTE_KINDS[kind])))

    def best(found, limit):
        return [it for _, _, it in sorted(sorted(found, key=lambda t: (-t[0], t[1]))[:limit], key=lambda t: t[1])]

    out["goals"] = best(goals, MAX_QUOTES["goals"])
    out["responses"] = best(responses, MAX_QUOTES["responses"])
    out["reports"] = (best(details, MAX_DETAILS) + best(reports, MAX_QUOTES["reports"])
                      + best(change, MAX_CHANGE) + best(sustain, MAX_SUSTAIN))
    return out


def _talk(s: ChunkSignals, kind: str) -> bool:
    """Change (or sustain) talk: the classifier reads the client's turn so and a DARN-CAT cue agrees."""
    top = s.top("client")
    if top is None or top[0] != kind:
        return False
    if kind == "change":
        return top[1] >= CHANGE_MIN and bool(_CHANGE_RE.search(s.chunk.text))
    return top[1] >= SUSTAIN_MIN and bool(_SUSTAIN_RE.search(s.chunk.text))


def _sounds_like_therapist(s: ChunkSignals) -> bool:
    """With roles inferred from the talk, a 'client' turn that reads as the therapist's (a
    reflection's form, or the classifier sure it is the therapist) is not quoted as the client's."""
    if s.inferred_role is None or s.probs is None:
        return False
    p = s.probs["role"]["therapist"]
    return bool(s.shape.get("reflection")) or p >= 0.6 or (s.second_person > 0 and p >= 0.3)


def _plan_cue(s: ChunkSignals) -> str | None:
    return min(s.plans, key=lambda m: m.start).cue if s.plans else None


def _after_therapist(signals: list[ChunkSignals], i: int) -> bool:
    """A response answers something: the turn before it is the therapist's (or unknown)."""
    prev = next((p for p in reversed(signals[max(0, i - 3):i]) if p.chunk.segment.id != signals[i].chunk.segment.id), None)
    return prev is not None and prev.role in ("therapist", "unknown")


# --- risk (the rules live in risk.py) ------------------------------------------------------

def _risk(signals: list[ChunkSignals]) -> tuple[list[Item], list[str]]:
    """Risk items, and the categories flagged for clinician review (risk.risk_section)."""
    return risk_section(list(dict.fromkeys(s.chunk.segment for s in signals)))
