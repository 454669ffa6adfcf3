"""Facts the device knows without listening to the words: time, duration, billing code."""
from __future__ import annotations

from .model import Item, SessionFacts

# CPT psychotherapy time codes (individual psychotherapy, patient present): the code whose
# range holds the session's whole minutes. Below 16 minutes no psychotherapy code applies.
CPT_TIME_CODES = (
    ("90832", 16, 37),
    ("90834", 38, 52),
    ("90837", 53, None),
)


def whole_minutes(seconds: float) -> int:
    return int(max(0.0, seconds) // 60)


def duration_text(seconds: float) -> str:
    """"42 min" for the note's reader; a short recording reads "under 1 min", not "0 min"."""
    minutes = whole_minutes(seconds)
    return f"{minutes} min" if minutes else "under 1 min"


def cpt_code(duration_s: float) -> str | None:
    """Suggested time code for a session of this length; the clinician confirms it."""
    minutes = whole_minutes(duration_s)
    for code, lo, hi in CPT_TIME_CODES:
        if minutes >= lo and (hi is None or minutes <= hi):
            return code
    return None


def _cpt_text(code: str | None) -> str:
    if code is None:
        return "No psychotherapy time code: the session was shorter than 16 minutes."
    lo, hi = next((lo, hi) for c, lo, hi in CPT_TIME_CODES if c == code)
    span = f"{lo}-{hi} min" if hi else f"{lo}+ min"
    return (f"Suggested CPT psychotherapy code: {code} ({span}), from the recorded duration; "
            "confirm face-to-face time.")


def fact_items(facts: SessionFacts, speakers_identified: bool, roles: str = "") -> list[Item]:
    """The session facts as note items (kind "fact", no transcript evidence)."""
    start, end = facts.started_at, facts.ended_at

    def fact(text: str, category: str) -> Item:
        return Item(text, [], "fact", category)

    items = [
        # The date of service lives in the note's session record (a box field): in an item's
        # text the egress check (P2) would rightly treat it as a date about the client.
        fact(f"Session time {start:%H:%M}-{end:%H:%M} UTC, {duration_text(facts.duration_s)}.",
             "duration"),
        fact(f"Speech detected: {duration_text(facts.speech_s)}.", "speech_time"),
        fact(f"Modality: {facts.modality}.", "modality"),
        fact("Audio-only recording: no observations of appearance or behaviour were made.",
             "observation_limits"),
        fact(_cpt_text(cpt_code(facts.duration_s)), "cpt_code"),
    ]
    if not speakers_identified:
        items.append(fact("Speakers were not identified: statements are not attributed.",
                          "speaker_attribution"))
    elif roles == "inferred from the talk":  # roles.INFERRED
        items.append(fact("No therapist voice was enrolled: speaker roles were inferred from the talk "
                          "(who asks, reflects and reports); check attributions before signing.",
                          "speaker_attribution"))
    return items
