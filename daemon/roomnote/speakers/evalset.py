"""Synthesised sessions with reference speaker labels, for the tests and bench/speakers.py.

Voices are flite's (slt, rms, awb, kal16) and espeak-ng's, optionally changed with sox
(``"awb|pitch=-300|speed=0.95"``). A session is a list of turns; a turn with a negative
gap starts before the previous one ends (overlapping speech, mixed by addition). The
reference is each turn's role and time span. Made-up speech only, never a recording.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..synth import RATE, _require, speak, write_wav


@dataclass(frozen=True)
class Turn:
    role: str  # "therapist" | "client" | "other"
    text: str
    gap: float = 0.7  # seconds of silence before the turn; negative: overlap


@dataclass(frozen=True)
class Session:
    name: str
    voices: dict  # role -> voice spec
    turns: tuple


@dataclass(frozen=True)
class RefTurn:
    role: str
    start: float
    end: float


def speak_voice(spec: str, text: str, tmp: Path) -> np.ndarray:
    """One utterance in a voice spec: ``voice[|pitch=CENTS][|speed=FACTOR]``."""
    voice, *effects = spec.split("|")
    audio = speak(voice, text, tmp)
    if not effects:
        return audio
    src, dst = tmp / "fx-in.wav", tmp / "fx-out.wav"
    write_wav(src, audio)
    args = []
    for e in effects:
        k, v = e.split("=")
        args += [k, v]
    subprocess.run([_require("sox", "sox"), str(src), "-r", str(RATE), str(dst), *args], check=True,
                   capture_output=True)
    import wave
    with wave.open(str(dst)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32)


def render(session: Session, path: str | Path, lead: float = 0.5) -> list[RefTurn]:
    """Write the session as a 16 kHz WAV; return the reference turns."""
    with tempfile.TemporaryDirectory(prefix="roomnote-synth-") as tmp:
        clips = [(t, speak_voice(session.voices[t.role], t.text, Path(tmp))) for t in session.turns]
    ref, t = [], lead
    for turn, clip in clips:
        start = max(t + turn.gap, 0.0)
        ref.append(RefTurn(turn.role, round(start, 3), round(start + len(clip) / RATE, 3)))
        t = max(t, start + len(clip) / RATE)
    out = np.zeros(int((t + 1.0) * RATE), np.float32)
    for (_, clip), r in zip(clips, ref):
        i = int(r.start * RATE)
        out[i:i + len(clip)] += clip
    write_wav(path, out)
    return ref


def enrolment_wav(voice: str, path: str | Path) -> None:
    """About 30 s of the therapist reading alone, as `roomnote enroll` asks for."""
    turns = tuple(Turn("therapist", text, 0.5) for text in ENROL_TEXT)
    render(Session("enrol", {"therapist": voice}, turns), path)


ENROL_TEXT = (
    "Good morning. I am recording my voice so the box can tell me apart from my clients.",
    "I will read a few sentences at my usual pace, in my usual speaking voice.",
    "The rainbow is a division of white light into many beautiful colours.",
    "These take the shape of a long round arch, with its path high above.",
    "Throughout the centuries people have explained the rainbow in various ways.",
    "Some have accepted it as a miracle without physical explanation.",
    "That is the end of the passage, and the end of my recording.",
)

T = [  # therapist lines
    "Hello, welcome back. How have you been since our last session?",
    "It sounds like the mornings are the hardest part. What goes through your mind when you wake up?",
    "Let's look at the evidence for that worry. What would you tell a friend in the same situation?",
    "That makes sense. What did you notice in your body when that happened?",
    "For homework this week, try writing down the worried thought and one piece of evidence against it.",
    "How did the breathing exercise go when you tried it at work?",
    "I hear how tired you are. Can we slow down and look at one example together?",
    "What would be a small step you could take before we meet again next week?",
]
C = [  # client lines
    "Honestly it has been a hard week. I have been feeling anxious most mornings.",
    "I worry about work. My manager keeps sending messages late at night and I cannot stop checking them.",
    "I would tell her that one bad meeting does not mean she will lose her job.",
    "My chest got tight and I could not think straight for a while, so I went for a walk.",
    "I tried it twice. The first time it helped a little, the second time I forgot halfway through.",
    "I think I can try that. Writing things down usually helps me sleep.",
    "My sister visited on the weekend and we argued about our parents again.",
    "I want to feel less tense in the evenings and stop snapping at people I love.",
]
P = [  # a partner in a couples session
    "I see it differently. When we argue I just want us to stop and talk calmly.",
    "I feel like I am always the one who has to plan everything at home.",
    "We both want the same thing, we just get there in different ways.",
    "Last Sunday was actually good. We cooked together and nobody raised their voice.",
]
SHORT = ["Yes.", "Okay.", "Mm, I see.", "Right.", "No, not really.", "I guess so."]


def _alternate(n: int, gap: float = 0.7) -> tuple:
    return tuple(t for i in range(n) for t in (Turn("therapist", T[i % len(T)], gap), Turn("client", C[i % len(C)], gap)))


SESSIONS = (
    Session("rms-slt", {"therapist": "rms", "client": "slt"}, _alternate(6)),
    Session("awb-kal16 short turns", {"therapist": "awb", "client": "kal16"},
            _alternate(4) + tuple(t for i in range(6) for t in
                                  (Turn("therapist", T[i], 0.3), Turn("client", SHORT[i], 0.25)))),
    Session("espeak variants", {"therapist": "espeak:en-us+m3", "client": "espeak:en+f4"}, _alternate(5)),
    Session("sox pitch and speed", {"therapist": "awb|pitch=-250|speed=0.95", "client": "rms|pitch=350"},
            _alternate(5)),
    Session("long monologue", {"therapist": "slt", "client": "awb"},
            (Turn("therapist", T[0]),) + tuple(Turn("client", c, 0.45) for c in C) + (Turn("therapist", T[4]),)
            + tuple(Turn("client", c, 0.45) for c in C[:4]) + (Turn("therapist", T[7]),)),
    Session("overlaps", {"therapist": "kal16", "client": "slt"},
            tuple(t for i in range(6) for t in (Turn("therapist", T[i], -0.6 if i else 0.7),
                                                Turn("client", C[i], -0.5 if i % 2 else 0.5)))),
    Session("close voices", {"therapist": "rms", "client": "rms|pitch=300"}, _alternate(5)),
    Session("couple", {"therapist": "rms", "client": "slt", "other": "awb"},
            tuple(t for i in range(4) for t in (Turn("therapist", T[i]), Turn("client", C[i]), Turn("other", P[i])))),
)


# --- scoring ------------------------------------------------------------------------------

ROLES = ("therapist", "client", "other")
COLLAR = 0.25  # seconds around each reference boundary left out of the error rate (NIST practice)


@dataclass
class Score:
    words: int = 0
    wrong: int = 0  # labelled with a voice that did not speak the word
    unknown: int = 0
    ref_s: float = 0.0  # scored reference speech
    missed_s: float = 0.0  # speech labelled unknown or not at all
    false_s: float = 0.0  # labelled where nobody spoke
    confused_s: float = 0.0  # labelled with the wrong voice

    def __iadd__(self, o: "Score") -> "Score":
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        return self

    @property
    def wrong_share(self) -> float:
        return self.wrong / max(self.words, 1)

    @property
    def unknown_share(self) -> float:
        return self.unknown / max(self.words, 1)

    @property
    def der(self) -> float:
        return (self.missed_s + self.false_s + self.confused_s) / max(self.ref_s, 1e-9)


def _roles_at(ref: list[RefTurn], t: float) -> set[str]:
    covering = {r.role for r in ref if r.start - 0.05 <= t <= r.end + 0.05}
    if covering:
        return covering
    return {min(ref, key=lambda r: min(abs(r.start - t), abs(r.end - t))).role}


def role_mapping(segments, ref: list[RefTurn]) -> dict[str, str]:
    """Hypothesis label -> reference role. Roles map to themselves; neutral labels
    ("speaker 1") take the role they share most words with, one label per role."""
    mapping = {r: r for r in ROLES}
    counts: dict[tuple[str, str], int] = {}
    for seg in segments:
        if seg.speaker in ROLES or seg.speaker == "unknown":
            continue
        for w in seg.words:
            for role in _roles_at(ref, (w.start + w.end) / 2):
                counts[seg.speaker, role] = counts.get((seg.speaker, role), 0) + 1
    taken = set()
    for (label, role), _ in sorted(counts.items(), key=lambda kv: -kv[1]):
        if label not in mapping and role not in taken:
            mapping[label] = role
            taken.add(role)
    return mapping


def score(segments, ref: list[RefTurn], step: float = 0.01) -> Score:
    """Word-level labels and the diarization error rate of labelled segments against the reference."""
    mapping = role_mapping(segments, ref)
    s = Score()
    for seg in segments:
        for w in seg.words:
            s.words += 1
            if seg.speaker == "unknown":
                s.unknown += 1
            elif mapping.get(seg.speaker, "?") not in _roles_at(ref, (w.start + w.end) / 2):
                s.wrong += 1
    end = max([r.end for r in ref] + [seg.end for seg in segments]) + 1
    grid = np.arange(0, end, step)
    near_boundary = np.zeros(len(grid), bool)
    ref_sets = [set() for _ in grid]
    for r in ref:
        near_boundary |= (np.abs(grid - r.start) < COLLAR) | (np.abs(grid - r.end) < COLLAR)
        for i in np.flatnonzero((grid >= r.start) & (grid < r.end)):
            ref_sets[i].add(r.role)
    hyp = [None] * len(grid)
    for seg in segments:
        if not seg.words:
            continue
        label = mapping.get(seg.speaker) if seg.speaker != "unknown" else "unknown"
        for i in np.flatnonzero((grid >= seg.words[0].start) & (grid < seg.words[-1].end)):
            hyp[i] = label
    for i in np.flatnonzero(~near_boundary):
        refs, h = ref_sets[i], hyp[i]
        labelled = h is not None and h != "unknown"
        s.ref_s += len(refs) * step
        if not labelled:
            s.missed_s += len(refs) * step
        elif not refs:
            s.false_s += step
        else:
            s.missed_s += (len(refs) - 1) * step  # one label per moment: overlap is partly missed
            s.confused_s += (h not in refs) * step
    return s


# --- real human voices ----------------------------------------------------------------------

TESTDATA = Path("/usr/share/pocketsphinx/test/data")  # Debian's pocketsphinx-testdata


def real_session(path: str | Path, gap: float = 0.7, lead: float = 0.5) -> list[RefTurn]:
    """Two real human voices from pocketsphinx-testdata, turn about: the LibriVox reader
    (five passages, 25 s) and the speaker of the "cards" recordings (five short phrases, 10 s)."""
    import wave

    def read(p: Path) -> np.ndarray:
        with wave.open(str(p)) as w:
            if w.getframerate() != RATE or w.getnchannels() != 1:
                raise RuntimeError(f"{p}: expected 16 kHz mono")
            return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32)

    reader = [read(p) for p in sorted((TESTDATA / "librivox").glob("*.wav"))]
    cards = [read(p) for p in sorted((TESTDATA / "cards").glob("*.wav"))]
    if not reader or not cards:
        raise RuntimeError(f"{TESTDATA}: recordings missing; run: apt-get install pocketsphinx-testdata")
    parts, ref, t = [np.zeros(int(lead * RATE), np.float32)], [], lead
    for a, b in zip(reader, cards):
        for role, clip in (("therapist", a), ("client", b)):
            ref.append(RefTurn(role, round(t, 3), round(t + len(clip) / RATE, 3)))
            parts += [clip, np.zeros(int(gap * RATE), np.float32)]
            t += len(clip) / RATE + gap
    write_wav(path, np.concatenate(parts))
    return ref


# Beyond what the encoder can tell apart: the same voice one semitone higher. Printed by the
# benchmark as a limit, not counted in its totals.
TOO_CLOSE = Session("too close (limit)", {"therapist": "rms", "client": "rms|pitch=100"}, _alternate(5))
