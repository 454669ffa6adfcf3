"""Synthesised sessions for the demo, the tests and the benchmarks.

English turns are spoken by Debian's flite voices (slt, rms, awb, kal16), Korean ones by
espeak-ng. The result is written as a 16 kHz mono WAV: it is made-up speech, never a
recording of a session.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from .audio.resample import Resampler

RATE = 16000


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise RuntimeError(f"{tool} is not installed; run: apt-get install {package}")
    return path


def speak(voice: str, text: str, tmpdir: Path) -> np.ndarray:
    """One utterance as 16 kHz float samples (int16 scale)."""
    out = tmpdir / "turn.wav"
    if voice.startswith("espeak:"):
        cmd = [_require("espeak-ng", "espeak-ng"), "-v", voice.split(":", 1)[1], "-w", str(out), text]
    else:
        cmd = [_require("flite", "flite"), "-voice", voice, "-t", text, "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    with wave.open(str(out)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32)
    r = Resampler(rate, RATE)
    return np.concatenate([r.process(pcm), r.process(np.zeros(64, np.float32))])


def synthesise(turns: list[tuple[str, str]], path: str | Path, gap: float = 0.7,
               lead: float = 0.5) -> list[tuple[float, float]]:
    """Speak (voice, text) turns one after another with `gap` seconds of silence between them.

    Returns each turn's (start, end) time in the file, for reference labels.
    """
    parts = [np.zeros(int(lead * RATE), np.float32)]
    times, t = [], lead
    with tempfile.TemporaryDirectory(prefix="roomnote-synth-") as tmp:
        for voice, text in turns:
            speech = speak(voice, text, Path(tmp))
            times.append((round(t, 3), round(t + len(speech) / RATE, 3)))
            parts += [speech, np.zeros(int(gap * RATE), np.float32)]
            t += len(speech) / RATE + gap
    write_wav(path, np.concatenate(parts))
    return times


def write_wav(path: str | Path, samples: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(samples, -32768, 32767).astype(np.int16).tobytes())


# The demo session: every identifier in it is made up. Client: slt; therapist: rms.
DEMO_TURNS = [
    ("rms", "Hello, welcome back. How have you been since our last session?"),
    ("slt", "My name is Sarah Johnson and honestly it has been a hard week. I have been feeling anxious most mornings."),
    ("rms", "It sounds like the mornings are the hardest part. What goes through your mind when you wake up?"),
    ("slt", "I worry about work. My boss Daniel keeps calling me at home. My number is five five five, two one nine, four three eight seven."),
    ("rms", "Let's try to look at the evidence for that worry. What would you tell a friend in the same situation?"),
    ("slt", "I would tell her that one bad meeting does not mean she will lose her job."),
    ("slt", "My new address is eighty one Maple Drive. I moved there on March fourteenth and everything changed at once."),
    ("rms", "That makes sense. For homework this week, try writing down the worried thought and one piece of evidence against it. We will meet again next week."),
    ("slt", "Okay, I can try that. I think it will help."),
]


def main(argv: list[str] | None = None) -> int:
    """python -m roomnote.synth OUT.wav: write the demo session."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m roomnote.synth OUT.wav", file=sys.stderr)
        return 2
    Path(argv[0]).parent.mkdir(parents=True, exist_ok=True)
    times = synthesise(DEMO_TURNS, argv[0])
    print(f"synthesised {len(DEMO_TURNS)} turns, {times[-1][1]:.0f} s, to {argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


BABBLE_LINES = (
    ("slt", "we went to the market on monday and then we walked along the river until the evening came"),
    ("rms", "i think the weather will change soon so we should plan the garden before the rain starts again"),
    ("awb", "there were many people at the station waiting for the train that was late because of the storm"),
)


def babble(seconds: float, tmpdir: Path) -> np.ndarray:
    """Continuous talk with no pause: three flite voices over each other, looped (int16, 16 kHz).

    Made-up sentences; for testing that long unbroken speech (or a noisy room) is bounded.
    """
    voices = [speak(v, text, tmpdir) for v, text in BABBLE_LINES]
    n = max(len(x) for x in voices)
    mix = np.zeros(n, np.float32)
    for i, x in enumerate(voices):  # staggered, wrapped around: one voice's pause is another's word
        mix += np.roll(np.pad(x, (0, n - len(x))), i * n // len(voices)) * 0.6
    reps = int(np.ceil(seconds * RATE / n))
    return np.clip(np.tile(mix, reps)[: int(seconds * RATE)], -32768, 32767).astype(np.int16)
