"""Issue 19, item 11: no speech segment is longer than vad.max_segment_s, whatever the talk.

Continuous talk with no 400 ms pause (or a noisy room) used to make one endless segment, and
every engine holds a segment's audio or search lattice until it ends: memory grew ~0.8 MB per
second. The cut is made by the VAD gate, so every engine gets it.
"""
from __future__ import annotations

import numpy as np
import pytest

from roomnote.audio import FRAME_SAMPLES
from roomnote.audio.vad import FRAME_SECONDS, SegmentEnd, SegmentStart, SpeechAudio, SpeechGate
from roomnote.config import config_from_dict
from roomnote.errors import ConfigError
from roomnote.synth import babble


def _segments(gate: SpeechGate, probs) -> list[tuple[float, float, int]]:
    """(start, end, frames) of each segment the gate makes from these frame scores."""
    out, start, frames = [], None, 0
    frame = np.ones(FRAME_SAMPLES, np.int16)
    for p in probs:
        for ev in gate.push(frame, p):
            if isinstance(ev, SegmentStart):
                start, frames = ev.at, 0
            elif isinstance(ev, SpeechAudio):
                frames += 1
            elif isinstance(ev, SegmentEnd):
                out.append((start, ev.at, frames))
    for ev in gate.flush():
        out.append((start, ev.at, frames))
    return out


def test_unbroken_speech_is_cut_at_the_limit_and_nothing_is_dropped():
    gate = SpeechGate(max_segment_s=10.0)
    n = int(65 / FRAME_SECONDS)  # 65 s scoring as speech throughout
    segs = _segments(gate, [0.95] * n)
    assert len(segs) == 7 and gate.forced_cuts == 6
    assert all(frames <= gate.max_frames for *_, frames in segs)
    assert sum(frames for *_, frames in segs) == n  # every frame reaches the recogniser
    for (_, end, _), (start, _, _) in zip(segs, segs[1:]):
        assert start == pytest.approx(end)  # the next segment starts where the last was cut


def test_near_the_limit_a_dip_between_words_is_the_cut():
    gate = SpeechGate(max_segment_s=10.0)
    probs = [0.9] * int(8 / FRAME_SECONDS) + [0.3] + [0.9] * int(8 / FRAME_SECONDS)  # a 32 ms dip at 8 s
    segs = _segments(gate, probs)
    assert segs[0][1] == pytest.approx(8 + FRAME_SECONDS, abs=FRAME_SECONDS)  # cut at the dip, not at 10 s
    early = SpeechGate(max_segment_s=10.0)
    probs = [0.9] * int(3 / FRAME_SECONDS) + [0.3] + [0.9] * int(3 / FRAME_SECONDS)  # a dip early on
    assert len(_segments(early, probs)) == 1  # is just a dip: min_silence_ms still decides


def test_the_limit_is_a_validated_setting():
    assert config_from_dict({}).vad.max_segment_s == 28.0
    assert config_from_dict({"vad": {"max_segment_s": 15}}).vad.max_segment_s == 15.0
    with pytest.raises(ConfigError, match="vad.max_segment_s: expected a value from 5.0 to 120.0"):
        config_from_dict({"vad": {"max_segment_s": 3600}})


@pytest.fixture(scope="module")
def babble_audio(tmp_path_factory):
    return babble(90, tmp_path_factory.mktemp("babble"))


def test_real_babble_is_one_unbroken_segment_without_the_limit_and_bounded_with_it(babble_audio, english_engines):
    """Silero on 90 s of three voices talking over each other: no pause the gate would end a segment on."""
    vad = english_engines.vad
    vad.reset()
    probs = [vad(babble_audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES])
             for i in range(len(babble_audio) // FRAME_SAMPLES)]
    vad.wipe()
    unbounded = _segments(SpeechGate(max_segment_s=120.0), probs)
    bounded = _segments(SpeechGate(), probs)  # the default, 28 s
    assert max(f for *_, f in unbounded) * FRAME_SECONDS > 80  # the hostile case: one segment for nearly all
    assert max(f for *_, f in bounded) * FRAME_SECONDS <= 28.0
    assert sum(f for *_, f in bounded) == sum(f for *_, f in unbounded)  # nothing dropped by the cuts


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def test_memory_stays_flat_through_unbroken_talk_with_a_real_recogniser(babble_audio, sphinx_engines):
    """pocketsphinx on 18 s of babble cut every 5 s (the shortest limit allowed, so the test is short;
    bench/segment_memory.py runs an hour at the default). Without the cut RSS grows ~1 MB per second
    here and jumps ~40 MB when the one long segment ends; with it, it stays within a few MB."""
    from roomnote.pipeline import Engines, LiveRecognition

    cfg = config_from_dict({"vad": {"max_segment_s": 5}, "speakers": {"enabled": False}})
    rec = LiveRecognition(Engines(sphinx_engines.vad, sphinx_engines.transcriber), cfg)
    audio = babble_audio[: 18 * 16000]
    rss = {}
    for i in range(len(audio) // FRAME_SAMPLES):
        rec.push(audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES].copy())
        if i == int(6 / FRAME_SECONDS):
            rss["6 s"] = _rss_mb()
    transcript = rec.finish()
    rss["end"] = _rss_mb()
    assert rec.gate.forced_cuts >= 3 and len(transcript.segments) >= 3
    assert max(s.end - s.start for s in transcript.segments) <= 5.0 + 0.1
    assert rss["end"] - rss["6 s"] < 8, rss
