"""Whisper writes identifiers in written form (digits, symbols, capitals, punctuation); the
redactor, the egress check and the composer must handle them as they handle the spoken,
lowercase form of pocketsphinx and vosk. Pure functions: segments built as whisper gives them."""
import json
from datetime import datetime, timezone

import pytest

from roomnote.notes import SessionFacts, compose_note
from roomnote.notes.render import to_dict, to_markdown
from roomnote.redact import redact_transcript
from roomnote.redact.egress import EgressError, check_egress
from roomnote.transcript import Segment, Transcript, Word

# Made-up identifiers in written form, each in a turn as whisper would write it.
TURNS = [
    ("therapist", "Hello, welcome back. How have you been since our last session?"),
    ("client", "My name is Marisol Vega, and honestly it has been a hard week."),
    ("client", "You can reach me at 555-0142 or by email at marisol.v@gmail.com if that's easier."),
    ("client", "I moved to 3214 Oakhurst Dr. on June 9th, and I have been feeling anxious most mornings."),
    ("therapist", "It sounds like the mornings are the hardest part. What goes through your mind when you wake up?"),
    ("client", "I worry about work. I think I will lose my job."),
    ("therapist", "For homework this week, try writing down the worried thought and one piece of evidence against it."),
]
IDENTIFIERS = ["marisol", "vega", "555", "0142", "gmail", "3214", "oakhurst", "june", "9th"]


def whisper_transcript() -> Transcript:
    segs, t = [], 0.0
    for i, (speaker, text) in enumerate(TURNS):
        words = []
        for w in text.split():
            words.append(Word(w, round(t, 3), round(t + 0.3, 3), 0.9))
            t += 0.35
        segs.append(Segment(f"s{i + 1:04d}", words[0].start, words[-1].end, words, speaker))
        t += 1.0
    return Transcript(segs, round(t, 3), round(t - len(TURNS), 3), "whisper/whisper-tiny-en")


@pytest.fixture(scope="module")
def redacted():
    return redact_transcript(whisper_transcript())


def test_written_identifiers_are_redacted(redacted):
    text = " ".join(s.text for s in redacted.segments).lower()
    for ident in IDENTIFIERS:
        assert ident not in text, ident
    for kind in ("NAME", "PHONE", "EMAIL", "ADDRESS", "DATE"):
        assert redacted.report.counts.get(kind, 0) >= 1, kind
    # the rest of the written form is kept: capitals and punctuation for the composer
    assert "Hello, welcome back." in redacted.segments[0].text


@pytest.mark.parametrize("raw", ["Call me at 555-0142.", "It is marisol.v@gmail.com, thanks.",
                                 "We met on June 9th.", "I live at 3214 Oakhurst Dr. now."])
def test_egress_check_refuses_written_identifiers(raw):
    with pytest.raises(EgressError):
        check_egress({"sections": [{"items": [{"text": raw}]}]})


def test_doctor_is_not_an_address():
    rt = redact_transcript(Transcript([Segment("s0001", 0, 3, [Word(w, 0, 0.1, 0.9) for w in
                                       "In 2021 Dr. Patel saw me twice.".split()])], 3, 3, "whisper/x"))
    assert "ADDRESS" not in rt.report.counts


def test_note_from_written_form_leaks_nothing_and_passes_egress(redacted):
    facts = SessionFacts(session_id="s1", device_id="box", started_at=datetime(2026, 12, 1, 10, tzinfo=timezone.utc),
                         ended_at=datetime(2026, 12, 1, 10, 50, tzinfo=timezone.utc), duration_s=3000.0,
                         speech_s=40.0, engine="whisper/whisper-tiny-en", consent=None)
    note = compose_note(redacted, "soap", facts)
    payload = to_dict(note)
    check_egress(payload)  # P2: nothing identifying left for the egress check to find
    out = (json.dumps(payload) + to_markdown(note)).lower()
    for ident in IDENTIFIERS:
        assert ident not in out, ident


def test_punctuation_after_a_placeholder_is_kept():
    """The sentence's own mark after an identifier survives redaction, so quotes read as
    sentences; an abbreviation's full stop ("Dr. with") does not become one."""
    def one(text):
        words = [Word(w, i * 0.3, i * 0.3 + 0.2, 0.9) for i, w in enumerate(text.split())]
        return redact_transcript(Transcript([Segment("s0001", 0, 9, words)], 9, 9, "whisper/x")).segments[0].text

    assert one("My number is 555-0142, call me after June 9th.") == "My number is [PHONE], call me after [DATE]."
    assert one("My address is 81 Maple Drive. I moved there last year.").startswith("My address is [ADDRESS]. I moved")
    assert one("I live at 3214 Oakhurst Dr. with my sister.") == "I live at [ADDRESS] with my sister."


def test_a_compound_written_in_two_words_is_still_the_cue():
    """Whisper writes "home work" where pocketsphinx writes "homework": the composer still sees a
    homework assignment and a revision still finds it."""
    from roomnote.notes.revise import revise_note

    text = "For home work this week, try writing down the worried thought. We will meet again next week."
    words = [Word(w, i * 0.3, i * 0.3 + 0.2, 0.9) for i, w in enumerate(text.split())]
    rt = redact_transcript(Transcript([Segment("s0001", 0, 9, words, "therapist")], 9, 9, "whisper/x"))
    facts = SessionFacts(session_id="s1", device_id="box", started_at=datetime(2026, 12, 1, 10, tzinfo=timezone.utc),
                         ended_at=datetime(2026, 12, 1, 10, 50, tzinfo=timezone.utc), duration_s=3000.0,
                         speech_s=9.0, engine="whisper/whisper-tiny-en", consent=None)
    note = compose_note(rt, "soap", facts)
    assert "homework assignment" in to_markdown(note)
    revised = revise_note(rt, note, "remove the part about homework", encoder=None)
    assert "home work" not in to_markdown(revised).lower() and "homework" not in to_markdown(revised).lower()
