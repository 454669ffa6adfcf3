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
from .roles import INFERRED, infer_roles

DETAIL_MIN = 0.50  # encoder similarity for a passage to count as being about the topic
REMOVE_MIN = 0.50  # ... for a note item to count as being about the topic
LEXICAL_MIN = 0.5  # or this share of the topic's words (stemmed) in the passage
MAX_DETAILS = 4  # passages added by one "include more details" instruction
THERAPIST_WEIGHT = 0.85  # a therapist passage ranks below a client passage as close to the topic
CONTEXT_CHUNKS, CONTEXT_WINDOW_S, CONTEXT_WEIGHT = 2, 30.0, 0.9  # what followed a passage

# Which content kind (formats.CONTENT_KINDS) each item kind belongs to.
KIND_CONTENT = {"fact": "facts", "quote": "reports", "detail": "reports", "goal": "goals", "theme": "themes", "assessment": "themes",
                "risk": "risk", "risk_not_assessed": "risk", "intervention": "interventions",
                "response": "responses", "plan": "plan"}
_KEPT_KINDS = frozenset({"fact", "risk", "risk_not_assessed"})  # never removed or shortened
_SHORTENED_KINDS = frozenset({"quote", "goal", "response", "plan", "theme"})

CAN_DO = ('roomnote can: "include more details about <topic>", "less about <topic>", "shorter", '
          '"remove the part about <topic>", "rewrite as SOAP|DAP|BIRP|GIRP", "use plainer wording", '
          '"more clinical wording"')

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
_REMOVE_RE = re.compile(r"^(?:please )?(?:remove|drop|delete|take out|leave out|cut|omit|exclude|get rid of|scrap|lose|"
                        r"don't mention|do not mention|don't include|do not include)\s+"
                        r"(?:(?:the|any|all)\s+)?(?:(?:parts?|bits?|section|stuff|mentions?|lines?|details?)\s+)?"
                        r"(?:(?:about|on|regarding|of|concerning|that mentions)\s+)?(?P<topic>.+)$")
_DETAIL_RE = re.compile(r"^(?:please )?(?:include|add|give|expand|elaborate|say|write)\s+"
                        r"(?:(?:a bit |a little |much |some )?more\s+)?(?:(?:details?|detail|information|about|on)\s+)?"
                        r"(?:(?:about|on|regarding|of|concerning)\s+)?(?P<topic>.+)$")


_BRIEF_RE = re.compile(r"\b(too long|too wordy|less wordy|shorten|shorter|more concise|condense|"
                       r"trim (?:it|this|the note)(?: down)?|trim down|cut (?:it|this|the note) down|tighten|briefer|"
                       r"keep it brief|boil it down|more succinct|succinct|too much text|half the length)\b")
_OUT_OF_SCOPE = re.compile(r"\b(diagnos\w*|icd|dsm|prognos\w*|billing code|translate|rhyme|poem)\b")
_PLAINER_RE = re.compile(r"\b(plain(?:er)?|simpler|simple words|less jargon|no jargon|easier to read|"
                         r"everyday (?:language|words)|lay (?:language|terms)|more readable|less technical)\b")
_CLINICAL_RE = re.compile(r"\b(more clinical|clinical (?:language|wording|terms|tone)|more professional|"
                          r"more formal|professional (?:language|wording|tone)|formal (?:language|wording|tone)|"
                          r"more technical)\b")
_LESS_RE = re.compile(r"^(?:please )?(?:(?:say |write |put |include )?less|not so much|not as much|"
                      r"fewer (?:details|lines|words)|tone down|play down|downplay|cut back(?: on)?|"
                      r"don't dwell on|do not dwell on|scale back(?: on)?)\s+(?:(?:about|on|regarding|of|the|"
                      r"detail|details|part|parts|bit|stuff|about the|on the)\s+)*(?P<topic>.+)$")
_MORE_RE = re.compile(r"^(?:i want to see |i'd like to see |i would like to see |i'd like |i would like |we need |"
                      r"the note needs |it needs |needs? |say |write |go into |put in )?(?:a bit |a little |much |some |"
                      r"a lot )?(?:more|further|more depth|depth)(?: detail| details| depth| info| information)?\s+"
                      r"(?:about|on|regarding|of|concerning|re)\s+(?P<topic>.+)$")
_ADD_RE = re.compile(r"^(?:please )?(?:add|include|mention|note|put in|insert|record|document)\s+"
                     r"(?:(?:that|the part where|the bit where|what|something about|a line about|a note about|"
                     r"about)\s+)?(?P<topic>.+)$")

INTENT_EXAMPLES: dict[str, tuple[str, ...]] = {
    "detail": ("include more details about the drinking", "add more about her sleep", "expand on the work stress",
               "say more about what happened with his father", "elaborate on the relapse",
               "go into more depth on the panic attacks", "more on the family conflict",
               "i want to see more about her goals", "the note needs more on the arguments at home"),
    "less": ("less about work", "tone down the part about his mother", "not so much on the sleep stuff",
             "too much about the history", "there is too much on the weekend", "fewer details about the argument"),
    "shorter": ("shorter", "make it more concise", "too long", "trim this down", "can you shorten the note",
                "condense it", "tighten it up", "keep it brief", "half the length", "cut it down",
                "this is way too wordy", "boil it down"),
    "remove": ("remove the part about work", "take out the bit about her ex", "delete the line about the dog",
               "leave out the stuff about money", "don't mention the divorce", "drop the sleep section",
               "get rid of the part about alcohol", "omit his brother", "scrap the bit about the car",
               "lose the line about her neighbour"),
    "plainer": ("use plainer language", "simpler wording", "less jargon", "make it easier to read",
                "write it in plain english", "more readable", "say it like a normal person would"),
    "clinical": ("more clinical", "make it sound more professional", "use clinical language",
                 "more formal wording", "use proper clinical terms", "sound like a clinician wrote it"),
}
INTENT_MIN, INTENT_MARGIN = 0.55, 0.05
_INTENT_FRAME = re.compile(r"^(?:(?:i want|i'd like|i would like|we need|it needs|the note needs|needs|need|want)\s+)?"
                           r"(?:to\s+)?(?:(?:see|have|get|put|go into|talk about|say|write|hear|read|add|include|"
                           r"expand|elaborate|mention|remove|delete|drop|omit|scrap|lose|cut|trim|less|more|much|"
                           r"too|there is|there's|on|about|of|the|part|bit|line|lines|stuff|section|details?|"
                           r"depth|info|information|rid|get rid|leave out|take out)\s+)*(?P<topic>.*)$")


def _intent_by_meaning(t: str, encoder) -> "Instruction | None":
    kinds = list(INTENT_EXAMPLES)
    examples = [e for k in kinds for e in INTENT_EXAMPLES[k]]
    owner = np.array([i for i, k in enumerate(kinds) for _ in INTENT_EXAMPLES[k]])
    if "examples" not in _INTENT_CACHE or _INTENT_CACHE.get("encoder") is not encoder:
        _INTENT_CACHE.update(examples=encoder.encode(examples), encoder=encoder)
    sims = _INTENT_CACHE["examples"] @ encoder.encode([t])[0]
    best = np.array([sims[owner == i].max() for i in range(len(kinds))])
    order = np.argsort(-best)
    if best[order[0]] < INTENT_MIN or best[order[0]] - best[order[1]] < INTENT_MARGIN:
        return None
    kind = kinds[order[0]]
    if kind in ("shorter", "plainer", "clinical"):
        return Instruction(kind)
    topic = _INTENT_FRAME.match(t).group("topic").strip()
    return Instruction(kind, topic=topic) if topic_keys(topic) else None


_INTENT_CACHE: dict = {}


@dataclass(frozen=True)
class Instruction:
    kind: str  # "detail" | "less" | "shorter" | "remove" | "reformat" | "plainer" | "clinical"
    topic: str = ""
    fmt: str = ""


def parse_instruction(text: str, encoder=None) -> Instruction:
    """What the therapist asked for, or RevisionRefused naming what can be asked.

    The phrasings of the table in docs/notes.md are read by rule; anything else, with an
    encoder, by the closest example phrasing of an intent (INTENT_EXAMPLES), when it is
    close enough and clearly closest, the topic being the words the examples' frame leaves."""
    t = re.sub(r"[\"'\u2019]s\b", "'s", " ".join(str(text).lower().split())).strip(" .!?")
    t = re.sub(r"\s*[,;:]\s*", " ", t).strip()
    t = re.sub(r"^(?:please|can you|could you)\s+", "", t)
    t = re.sub(r"\s+(?:please|pls|plz|thanks|thank you|thx)$", "", t)
    if not t:
        raise RevisionRefused(f"empty revision instruction; {CAN_DO}")
    fmt = _FORMAT_RE.search(t)
    if fmt and _REFORMAT_RE.search(t):
        return Instruction("reformat", fmt=fmt.group(1))
    if _SHORTER_RE.match(t) or (_BRIEF_RE.search(t) and not re.search(r"\b(about|on|regarding)\b", t)):
        return Instruction("shorter")
    if _OUT_OF_SCOPE.search(t):
        raise RevisionRefused("roomnote writes only what was said: it does not add diagnoses, codes or "
                              f"judgements; add them in your own version. {CAN_DO}")
    if _PLAINER_RE.search(t):
        return Instruction("plainer")
    if _CLINICAL_RE.search(t):
        return Instruction("clinical")
    if m := _LESS_RE.match(t):
        return Instruction("less", topic=m.group("topic"))
    if m := _REMOVE_RE.match(t):
        return Instruction("remove", topic=m.group("topic"))
    if (m := _DETAIL_RE.match(t)) and ("more" in t.split() or "detail" in t or "expand" in t or "elaborate" in t):
        return Instruction("detail", topic=m.group("topic"))
    if m := _MORE_RE.match(t):
        return Instruction("detail", topic=m.group("topic"))
    if m := _ADD_RE.match(t):
        return Instruction("detail", topic=m.group("topic"))
    if encoder is not None:
        ins = _intent_by_meaning(t, encoder)
        if ins is not None:
            return ins
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
    if encoder is _DEFAULT:
        encoder = shared_encoder()
    ins = parse_instruction(instruction, encoder)
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
    elif ins.kind == "less":
        content = _less(content, ins.topic, encoder)
    elif ins.kind in ("plainer", "clinical"):
        content = _reword(content, ins.kind)
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

# What a line is worth when the note must get shorter: higher stays longer. Facts, risk and
# plan are never dropped; then the presenting concern and the details (amounts, onset,
# medication) that make a note signable; themes, which the other lines already show, go first.
_NEVER_SHORTENED = frozenset({"fact", "risk", "risk_not_assessed", "plan"})
_ALWAYS_KEPT_CATEGORIES = frozenset({"presenting_concern", "details", "change_balance"})


def _value(it: Item) -> int:
    if it.kind == "assessment":
        return 5
    if it.kind == "goal":
        return 5
    if it.kind == "intervention":
        return 4
    if it.category in ("change_talk", "sustain_talk"):
        return 3
    if it.kind == "response":
        return 3
    if it.kind in ("quote", "detail"):
        return 2 + (bool(it.evidence) and it.evidence[0].basis == "cue")
    return 1  # themes


def _shorter(content: dict[str, list[Item]]) -> dict[str, list[Item]]:
    """About half the lines that may go, the least valuable first (_value); risk, plan,
    facts, the presenting concern and the details stay."""
    flat = [(kind, i, it) for kind, its in content.items() for i, it in enumerate(its)
            if it.kind not in _NEVER_SHORTENED and it.category not in _ALWAYS_KEPT_CATEGORIES]
    if not flat:
        raise RevisionRefused("the note cannot be shorter without dropping risk, plan, the presenting "
                              "concern or session facts; nothing was changed")
    n_drop = max(1, len(flat) // 2)
    ranked = sorted(flat, key=lambda t: (_value(t[2]), -t[1]))  # least valuable, latest first
    drop = {id(it) for _, _, it in ranked[:n_drop]}
    return {kind: [it for it in its if id(it) not in drop] for kind, its in content.items()}


def _less(content: dict[str, list[Item]], topic: str, encoder) -> dict[str, list[Item]]:
    """Fewer lines about the topic: the most valuable one stays, the others go."""
    hits = _about(content, topic, encoder)
    removable = [it for it in hits if it.kind not in _KEPT_KINDS and it.kind != "plan"]
    if len(removable) < 2:
        raise RevisionRefused("the note has at most one line about that (risk and plan lines are never cut); "
                              "say 'remove the part about ...' to drop it; nothing was changed")
    keep = max(removable, key=_value)
    drop = {id(it) for it in removable if it is not keep}
    return {kind: [it for it in its if id(it) not in drop] for kind, its in content.items()}


# Plain and clinical wording of the same templates (prose.py); both keep every quote.
_REGISTERS = (
    ("Client expressed change talk:", "Client talked about wanting to change:"),
    ("Client expressed sustain talk:", "Client gave reasons to keep things as they are:"),
    ("Presenting concern as discussed:", "Main concern talked about:"),
    ("Client's talk leaned toward change: change talk outweighed sustain talk.",
     "Client talked more about changing than about keeping things as they are."),
    ("Client's talk leaned toward the current pattern: sustain talk outweighed change talk.",
     "Client talked more about keeping things as they are than about changing."),
    ("Client expressed ambivalence: both change talk and sustain talk were heard.",
     "Client was ambivalent: talked both about changing and about keeping things as they are."),
    ("Readiness as the client expressed it:", "How ready the client said they are:"),
    ("Progress as the client described it:", "How things have gone, in the client's words:"),
    ("Therapist used reflections", "Therapist repeated back what the client said"),
    ("Therapist used open questions", "Therapist asked open questions"),
    ("Therapist used eliciting change talk", "Therapist asked about reasons to change"),
    ("Therapist used information with permission", "Therapist asked before giving information"),
    ("Session addressed", "Talked about"),
    ("Client reported:", "Client said:"),
)


def _reword(content: dict[str, list[Item]], register: str) -> dict[str, list[Item]]:
    src, dst = (0, 1) if register == "plainer" else (1, 0)
    changed = 0

    def reword(it: Item) -> Item:
        nonlocal changed
        for pair in _REGISTERS:
            if it.text.startswith(pair[src]):
                changed += 1
                return replace(it, text=pair[dst] + it.text[len(pair[src]):])
        return it

    out = {kind: [reword(it) if it.kind not in _KEPT_KINDS else it for it in its] for kind, its in content.items()}
    if not changed:
        raise RevisionRefused(f"the note's wording is already as {register} as roomnote writes it; nothing was changed")
    return out


def _about(content: dict[str, list[Item]], topic: str, encoder) -> list[Item]:
    """The note's lines about a topic: its theme by name, its words, or close in meaning."""
    keys = topic_keys(topic)
    if not keys:
        raise RevisionRefused(f"the instruction names no topic; {CAN_DO}")
    themes = _theme_labels(keys)
    flat = [it for its in content.values() for it in its]
    sims = _similarity(encoder, topic, [it.text for it in flat])

    def about(it: Item, sim: float) -> bool:
        if it.kind == "theme":
            return it.category in themes or lexical(keys, it.category) >= LEXICAL_MIN
        if it.kind == "intervention":
            return lexical(keys, it.category) >= LEXICAL_MIN
        return (lexical(keys, it.text) >= LEXICAL_MIN or sim >= REMOVE_MIN
                or any(_theme_cue_in(lb, it.text) for lb in themes))

    return [it for it, sim in zip(flat, sims) if about(it, float(sim))]


def _remove(content: dict[str, list[Item]], topic: str, encoder) -> dict[str, list[Item]]:
    hits = _about(content, topic, encoder)
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
    signals = read_transcript(rt)
    if note.speaker_roles == INFERRED and encoder is not None:
        from .classify import shared_classifier
        from .composer import classify_signals
        classify_signals(signals, encoder, shared_classifier(), everything=True)
        infer_roles(signals)
    # both speakers' turns: what the therapist said about X is detail too, said as theirs
    signals = [s for s in signals if not s.risks and s.speaker != "other"
               and (not note.speakers_identified or s.speaker in ("client", "therapist"))]
    role = {id(s.chunk): s.speaker for s in signals}
    chunks = [s.chunk for s in signals]
    sims = _similarity(encoder, topic, [c.text for c in chunks])
    scored = []
    themes = _theme_labels(keys)  # "more about sleep": a passage holding a sleep cue is about it
    for i, (c, sim) in enumerate(zip(chunks, sims)):
        lex = max(lexical(keys, c.text), LEXICAL_MIN if any(_theme_cue_in(lb, c.text) for lb in themes) else 0.0)
        if lex >= LEXICAL_MIN or sim >= DETAIL_MIN:
            # the client's own account first; the therapist's words when they hold the topic
            score = max(lex, float(sim)) * (THERAPIST_WEIGHT if role[id(c)] == "therapist" else 1.0)
            scored.append((score, c))
            # what the client went on to say about it is detail too ("more details")
            scored += [(round(score * CONTEXT_WEIGHT, 3), nxt) for nxt in chunks[i + 1:i + 1 + CONTEXT_CHUNKS]
                       if nxt.start - c.end <= CONTEXT_WINDOW_S]
    if not scored:
        raise RevisionRefused("no passage of the transcript supports that topic, so nothing was "
                              "added (roomnote adds only what was said); add it in your own version")
    # what the note already says as someone's account (a therapist's words quoted only as an
    # intervention's example are not yet a detail of the session)
    shown = {it.text for its in content.values() for it in its if it.kind != "intervention"}
    shown |= {part for t in shown for part in re.findall(r'"[^"]*"', t)}
    fresh, seen = [], set(shown)
    for score, c in sorted(scored, key=lambda p: -p[0]):
        if quote(c) not in seen:
            seen.add(quote(c))
            fresh.append((score, c))
    if not fresh:
        raise RevisionRefused("every passage of the transcript on that topic is already in the note; "
                              "nothing was changed")
    added = [Item(f"Therapist said: {quote(c)}." if role[id(c)] == "therapist" else quote(c),
                  [c.evidence(None, "revision", score)],
                  "detail" if role[id(c)] == "therapist" else "quote", "detail")
             for score, c in fresh[:MAX_DETAILS]]
    reports = content["reports"] + added
    reports.sort(key=lambda it: it.evidence[0].start if it.evidence else -1.0)
    return {**content, "reports": reports}


__all__ = ["revise_note", "parse_instruction", "Instruction", "RevisionRefused", "set_shared_encoder"]
