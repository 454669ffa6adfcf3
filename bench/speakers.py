"""Speaker attribution on synthesised sessions: error rates and added CPU cost.

    .venv/bin/python bench/speakers.py

Each session of roomnote.speakers.evalset (flite and espeak-ng voices, sox pitch and speed
changes, short turns, overlapping speech, a long monologue, a couples session) is rendered
to a WAV, run through the real pipeline (Silero VAD, pocketsphinx, the voice encoder) twice:
without a therapist profile ("speaker 1/2/3", mapped to the reference roles for scoring) and
with one enrolled from ~30 s of the therapist's voice reading other text.

Then one session of two real human voices from Debian's pocketsphinx-testdata (the LibriVox
reader and the "cards" speaker, turn about), without a profile.

A last synthesised session is beyond what the encoder can tell apart (the same voice one
semitone higher); it is printed as a limit and left out of the totals.

Prints per session and overall: words labelled wrongly (target < 5 %), words labelled
unknown, diarization error rate (10 ms grid, 0.25 s collar; unknown counts as missed
speech), and the CPU time spent in speaker attribution per hour of audio.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from roomnote.audio.wavfile import wav_frames  # noqa: E402
from roomnote.config import Config  # noqa: E402
from roomnote.pipeline import load_engines, transcribe  # noqa: E402
from roomnote.speakers import SpeakerAttributor, enroll_from_frames  # noqa: E402
from roomnote.speakers.evalset import SESSIONS, TOO_CLOSE, Score, enrolment_wav, real_session, render, score  # noqa: E402


class TimedAttributor(SpeakerAttributor):
    """Counts the CPU time of every call the recognition loop makes."""

    cpu = 0.0

    def _timed(self, fn, *a):
        t = time.process_time()
        try:
            return fn(*a)
        finally:
            TimedAttributor.cpu += time.process_time() - t

    def start_segment(self, at):
        return self._timed(super().start_segment, at)

    def feed(self, pcm):
        return self._timed(super().feed, pcm)

    def end_segment(self, segment_id):
        return self._timed(super().end_segment, segment_id)

    def label(self, segments):
        return self._timed(super().label, segments)


class TimedModel:
    def __init__(self, model, profile):
        self.model, self.profile = model, profile

    def new_session(self):
        return TimedAttributor(self.model.encoder, self.model.cfg, self.profile)

    def wipe(self):
        pass


def main() -> int:
    logging.disable(logging.INFO)
    cfg = Config()
    engines = load_engines(cfg)
    model = engines.speakers
    totals = {False: Score(), True: Score()}
    audio_s = 0.0
    print(f"{'session':24} {'profile':8} {'words':>5} {'wrong':>7} {'unknown':>8} {'DER':>7}  labels")
    with tempfile.TemporaryDirectory(prefix="roomnote-bench-") as tmp:
        for sess in SESSIONS + (TOO_CLOSE,):
            limit = sess is TOO_CLOSE
            wav, enrol = Path(tmp) / "session.wav", Path(tmp) / "enrol.wav"
            ref = render(sess, wav)
            enrolment_wav(sess.voices["therapist"], enrol)
            profile = enroll_from_frames(wav_frames(enrol), engines.vad, model.encoder, cfg)
            for with_profile in (False, True):
                engines.speakers = TimedModel(model, profile.embedding if with_profile else None)
                tr = transcribe(wav_frames(wav), engines, cfg)
                audio_s += tr.duration
                s = score(tr.segments, ref)
                if not limit:
                    totals[with_profile] += s
                words: dict[str, int] = {}
                for seg in tr.segments:
                    words[seg.speaker] = words.get(seg.speaker, 0) + len(seg.words)
                labels = ", ".join(f"{k} {v}" for k, v in sorted(words.items()))
                print(f"{sess.name:24} {'yes' if with_profile else 'no':8} {s.words:5d} {s.wrong_share:7.1%} "
                      f"{s.unknown_share:8.1%} {s.der:7.1%}  {labels}", flush=True)
                tr.wipe()
            profile.wipe()
        # real human voices (pocketsphinx-testdata): too little of either voice to enrol one
        ref = real_session(wav)
        engines.speakers = TimedModel(model, None)
        tr = transcribe(wav_frames(wav), engines, cfg)
        audio_s += tr.duration
        s = score(tr.segments, ref)
        print(f"{'real: LibriVox + cards':24} {'no':8} {s.words:5d} {s.wrong_share:7.1%} {s.unknown_share:8.1%} "
              f"{s.der:7.1%}", flush=True)
        tr.wipe()
    engines.speakers = model
    engines.close()
    for with_profile, s in totals.items():
        print(f"{'ALL synthesised':24} {'yes' if with_profile else 'no':8} {s.words:5d} {s.wrong_share:7.1%} "
              f"{s.unknown_share:8.1%} {s.der:7.1%}")
    per_hour = TimedAttributor.cpu / audio_s * 3600
    print(f"speaker attribution CPU: {TimedAttributor.cpu:.1f} s for {audio_s / 60:.1f} min of audio = "
          f"{per_hour:.0f} s per hour of audio ({per_hour / 36:.1f} % of one core); "
          "target: under 5 % of words labelled wrongly")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
