"""Revise a note by instruction, the way therapists ask their scribes.

    revise_note(rt, note, "include more details about how the client noticed their pattern")
    revise_note(rt, note, "shorter")
    revise_note(rt, note, "remove the part about work")
    revise_note(rt, note, "rewrite as DAP")

Each call returns the next version (same note_id, version + 1, one more Revision) and
leaves the given note as it was. Every added line is a verbatim passage of the redacted
transcript, found by the sentence encoder and by word overlap with the instruction's
topic; an instruction that cannot be grounded raises RevisionRefused, with a message that
says what roomnote can do and never repeats session words. Risk items and session facts
are never removed or shortened away: a clinician can edit them in the EHR, the box will not.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np

from ..errors import RevisionRefused
from ..transcript import RedactedTranscript
from .composer import quote, read_transcript
from .facts import fact_items
from .formats import FORMAT_TITLES, sections_for
from .lexicons import THEMES
from .model import EMPTY_SECTION, NO_SPEECH, Item, Note, Revision, Section
from .matching import SPLIT_FORMS

DETAIL_MIN = 0.50  # encoder similarity for a passage to count as being about the topic
REMOVE_MIN = 0.50  # ... for a note item to count as being about the topic
LEXICAL_MIN = 0.5  # or this share of the topic's words (stemmed) in the passage
MAX_DETAILS = 4  # passages added by one "include more details" instruction
CONTEXT_CHUNKS, CONTEXT_WINDOW_S, CONTEXT_WEIGHT = 2, 30.0, 0.9  # what followed a passage

# Which content kind (formats.CONTENT_KINDS) each item kind belongs to.
KIND_CONTENT = {"fact": "facts", "quote": "reports", "goal": "goals", "theme": "themes",
                "risk": "risk", "risk_not_assessed": "risk", "intervention": "interventions",
                "response": "responses", "plan": "plan"}
_KEPT_KINDS = frozenset({"fact", "risk", "risk_not_assessed"})  # never removed or shortened
_SHORTENED_KINDS = frozenset({"quote", "goal", "response", "plan", "theme"})

CAN_DO = ('roomnote can: "include more details about <topic>", "shorter", '
          '"remove the part about <topic>", "rewrite as SOAP|DAP|BIRP|GIRP"')

_STOPWORDS = frozenset("""
a an the and or but of to in on at for from with about into over how what when why where who
that this these those their they them his her him he she it its is are was were be been being
i me my we our you your client client's clients therapist session sessions part parts bit
details detail more info information some any all talked talk discussed said say mention
mentioned note do does did have has had can could would should will just very really also
""".split())

_FORMAT_RE = re.compile(r"\b(soap|dap|birp|girp)\b")
_REFORMAT_RE = re.compile(r"\b(rewrite|re-write|redo|convert|change|switch|turn|make|put|format|as|into|in)\b")
_SHORTER_RE = re.compile(r"^(?:make (?:it|the note) )?(?:a bit |much |a little )?"
                         r"(?:shorter|shorten(?: it)?|more concise|concise|briefer|condense(?: it)?|trim(?: it)?)"
                         r"(?: please)?$")
_REMOVE_RE = re.compile(r"^(?:please )?(?:remove|drop|delete|take out|leave out|cut|omit|exclude|"
                        r"don't mention|do not mention|don't include|do not include)\s+"
                        r"(?:(?:the|any|all)\s+)?(?:(?:parts?|bits?|section|stuff|mentions?|lines?|details?)\s+)?"
                        r"(?:(?:about|on|regarding|of|concerning|that mentions)\s+)?(?P<topic>.+)$")
_DETAIL_RE = re.compile(r"^(?:please )?(?:include|add|give|expand|elaborate|say|write)\s+"
                        r"(?:(?:a bit |a little |much |some )?more\s+)?(?:(?:details?|detail|information|about|on)\s+)?"
                        r"(?:(?:about|on|regarding|of|concerning)\s+)?(?P<topic>.+)$")


@dataclass(frozen=True)
class Instruction:
    kind: str  # "detail" | "shorter" | "remove" | "reformat"
    topic: str = ""
    fmt: str = ""


def parse_instruction(text: str) -> Instruction:
    """What the therapist asked for, or RevisionRefused naming what can be asked."""
    t = re.sub(r"[\"'\u2019]s\b", "'s", " ".join(str(text).lower().split())).strip(" .!?")
    t = re.sub(r"\s*[,;:]\s*", " ", t).strip()
    t = re.sub(r"^(?:please|can you|could you)\s+", "", t)
    t = re.sub(r"\s+please$", "", t)
    if not t:
        raise RevisionRefused(f"empty revision instruction; {CAN_DO}")
    fmt = _FORMAT_RE.search(t)
    if fmt and _REFORMAT_RE.search(t):
        return Instruction("reformat", fmt=fmt.group(1))
    if _SHORTER_RE.match(t):
        return Instruction("shorter")
    if m := _REMOVE_RE.match(t):
        return Instruction("remove", topic=m.group("topic"))
    if (m := _DETAIL_RE.match(t)) and ("more" in t.split() or "detail" in t or "expand" in t or "elaborate" in t):
        return Instruction("detail", topic=m.group("topic"))
    raise RevisionRefused(f"cannot act on this revision instruction; {CAN_DO}")


_DEFAULT = object()
_SHARED: dict[str, object] = {}


def set_shared_encoder(encoder) -> None:
    """Make revise_note's default the encoder the caller already loaded with its own
    configuration (pipeline.load_note_encoder); None means word overlap alone."""
    _SHARED["encoder"] = encoder


def shared_encoder():
    """revise_note's default encoder: the one set with set_shared_encoder, else the shipped
    manifest's, loaded (and verified, P6) once per process from the default models.dir."""
    if "encoder" not in _SHARED:
        from ..config import Config
        from .encoder import load_encoder

        _SHARED["encoder"] = load_encoder(None, Config().models.dir)
    return _SHARED["encoder"]


def revise_note(rt: RedactedTranscript, note: Note, instruction: str, *, encoder=_DEFAULT,
                created_at: datetime | None = None) -> Note:
    """The next version of `note` as the instruction asks, grounded in `rt`.

    encoder: a SentenceEncoder; by default the shipped one (shared_encoder); None uses
    word overlap alone. Raises RevisionRefused when the instruction is not understood or
    not supported by the transcript; the note given is never changed.
    """
    ins = parse_instruction(instruction)
    if encoder is _DEFAULT:
        encoder = shared_encoder()
    content = _content_of(note)
    fmt = note.format
    if ins.kind == "reformat":
        if ins.fmt == note.format:
            raise RevisionRefused(f"the note is already {FORMAT_TITLES[fmt]}; nothing was changed")
        fmt = ins.fmt
    elif ins.kind == "shorter":
        content = _shorter(content)
    elif ins.kind == "remove":
        content = _remove(content, ins.topic, encoder)
    else:
        content = _add_details(content, rt, note, ins.topic, encoder)
    created = created_at or datetime.now(timezone.utc)
    version = note.version + 1
    return replace(note, version=version, format=fmt, created_at=created,
                   sections=_arrange(fmt, content, note),
                   revisions=[*note.revisions, Revision(version, ins.kind, created)])


# --- note <-> content -------------------------------------------------------------------

def _content_of(note: Note) -> dict[str, list[Item]]:
    content: dict[str, list[Item]] = {k: [] for k in ("reports", "goals", "themes", "risk",
                                                      "interventions", "responses", "plan")}
    for s in note.sections:
        for it in s.items:
            kind = KIND_CONTENT.get(it.kind)
            if kind and kind != "facts":
                content[kind].append(it)
    return content


def _arrange(fmt: str, content: dict[str, list[Item]], note: Note) -> list[Section]:
    """Sections of fmt filled from content; facts are rebuilt from the session facts."""
    specs = sections_for(fmt)
    if note.no_speech:
        return [Section(s.key, s.title, [Item(NO_SPEECH, [], "no_speech")]) for s in specs]
    full = {**content, "facts": fact_items(note.facts, note.speakers_identified)}
    return [Section(s.key, s.title, [it for kind in s.contents for it in full.get(kind, [])]
                    or [Item(EMPTY_SECTION, [], "empty")]) for s in specs]


# --- topics -------------------------------------------------------------------------------

def stem(word: str) -> str:
    w = word.strip(".,!?;:\"()'").lower()
    for suffix in ("ings", "ing", "ed", "es", "s", "ly", "e"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[:-len(suffix)]
            break
    if len(w) > 3 and w[-1] == w[-2]:
        w = w[:-1]
    return w


def topic_keys(topic: str) -> set[str]:
    return {stem(w) for w in topic.split() if w.strip(".,!?'\"") not in _STOPWORDS and len(w) > 1}


def lexical(keys: set[str], text: str) -> float:
    """Share of the topic's stemmed words that occur in text."""
    if not keys:
        return 0.0
    low = text.lower()
    for joined, split in SPLIT_FORMS.items():  # "home work" (whisper) is "homework"
        low = low.replace(split, joined)
    words = {stem(w) for w in low.split()}
    return sum(k in words for k in keys) / len(keys)


def _theme_labels(keys: set[str]) -> set[str]:
    """Themes whose name the topic uses ("work" -> "work and school")."""
    return {label for label in THEMES if keys & topic_keys(label)}


def _theme_cue_in(label: str, text: str) -> bool:
    padded = f" {text.strip(chr(34))} "
    return any(f" {cue} " in padded for cue in THEMES[label])


def _similarity(encoder, topic: str, texts: list[str]) -> np.ndarray:
    if encoder is None or not texts:
        return np.zeros(len(texts), np.float32)
    vecs = encoder.encode([topic, *texts])
    return vecs[1:] @ vecs[0]


# --- the four revisions -------------------------------------------------------------------

def _shorter(content: dict[str, list[Item]]) -> dict[str, list[Item]]:
    """About half of each kind of quote and theme; risk, interventions and facts stay."""
    out, dropped = {}, 0
    for kind, its in content.items():
        if kind in ("risk", "interventions") or not its or its[0].kind not in _SHORTENED_KINDS:
            out[kind] = list(its)
            continue
        keep_n = max(1, math.ceil(len(its) / 2))
        # cue-grounded lines first, then the earliest; shown in their original order
        ranked = sorted(range(len(its)), key=lambda i: (its[i].evidence[0].basis != "cue" if its[i].evidence else 1, i))
        keep = sorted(ranked[:keep_n])
        out[kind] = [its[i] for i in keep]
        dropped += len(its) - keep_n
    if not dropped:
        raise RevisionRefused("the note cannot be shorter without dropping risk, interventions or "
                              "session facts; nothing was changed")
    return out


def _remove(content: dict[str, list[Item]], topic: str, encoder) -> dict[str, list[Item]]:
    keys = topic_keys(topic)
    if not keys:
        raise RevisionRefused(f"the instruction names no topic to remove; {CAN_DO}")
    themes = _theme_labels(keys)
    flat = [(kind, it) for kind, its in content.items() for it in its]
    sims = _similarity(encoder, topic, [it.text for _, it in flat])

    def about(it: Item, sim: float) -> bool:
        if it.kind == "theme":
            return it.category in themes or lexical(keys, it.category) >= LEXICAL_MIN
        if it.kind == "intervention":
            return lexical(keys, it.category) >= LEXICAL_MIN
        return (lexical(keys, it.text) >= LEXICAL_MIN or sim >= REMOVE_MIN
                or any(_theme_cue_in(lb, it.text) for lb in themes))

    hits = [it for (_, it), sim in zip(flat, sims) if about(it, float(sim))]
    removable = {id(it) for it in hits if it.kind not in _KEPT_KINDS}
    if not removable:
        if hits:
            raise RevisionRefused("only risk statements in the note match that topic, and risk "
                                  "statements are never removed by a revision; nothing was changed")
        raise RevisionRefused("nothing in the note matches that topic; nothing was changed")
    return {kind: [it for it in its if id(it) not in removable] for kind, its in content.items()}


def _add_details(content: dict[str, list[Item]], rt: RedactedTranscript, note: Note,
                 topic: str, encoder) -> dict[str, list[Item]]:
    keys = topic_keys(topic)
    if not keys:
        raise RevisionRefused(f"the instruction names no topic to add details about; {CAN_DO}")
    client_only = note.speakers_identified
    chunks = [s.chunk for s in read_transcript(rt)
              if not s.risks and (not client_only or s.speaker == "client")]
    sims = _similarity(encoder, topic, [c.text for c in chunks])
    scored = []
    for i, (c, sim) in enumerate(zip(chunks, sims)):
        lex = lexical(keys, c.text)
        if lex >= LEXICAL_MIN or sim >= DETAIL_MIN:
            score = max(lex, float(sim))
            scored.append((score, c))
            # what the client went on to say about it is detail too ("more details")
            scored += [(round(score * CONTEXT_WEIGHT, 3), nxt) for nxt in chunks[i + 1:i + 1 + CONTEXT_CHUNKS]
                       if nxt.start - c.end <= CONTEXT_WINDOW_S]
    if not scored:
        raise RevisionRefused("no passage of the transcript supports that topic, so nothing was "
                              "added (roomnote adds only what was said)")
    shown = {it.text for its in content.values() for it in its}
    shown |= {part for t in shown for part in re.findall(r'"[^"]*"', t)}
    fresh, seen = [], set(shown)
    for score, c in sorted(scored, key=lambda p: -p[0]):
        if quote(c) not in seen:
            seen.add(quote(c))
            fresh.append((score, c))
    if not fresh:
        raise RevisionRefused("every passage of the transcript on that topic is already in the note; "
                              "nothing was changed")
    added = [Item(quote(c), [c.evidence(None, "revision", score)], "quote", "detail")
             for score, c in fresh[:MAX_DETAILS]]
    reports = content["reports"] + added
    reports.sort(key=lambda it: it.evidence[0].start if it.evidence else -1.0)
    return {**content, "reports": reports}


__all__ = ["revise_note", "parse_instruction", "Instruction", "RevisionRefused", "set_shared_encoder"]
