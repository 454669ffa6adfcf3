"""Voice activity detection with Silero's ONNX model on onnxruntime.

`SileroVad` scores one 32 ms frame at a time; `SpeechGate` turns those scores into
speech segments, so silence never reaches the recogniser.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import FRAME_SAMPLES, SAMPLE_RATE

MODEL_NAME = "silero-vad"
MODEL_FILE = "silero_vad.onnx"
CONTEXT_SAMPLES = 64  # Silero v5+ expects the tail of the previous frame before each frame
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE


class SileroVad:
    """Speech probability per frame; the recurrent state lives in this object."""

    def __init__(self, model: bytes):
        """model: the ONNX file's bytes, as verified against the manifest (`load_vad`)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.inter_op_num_threads = 1  # one small model per frame: threads only add overhead
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model, sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.state = np.zeros((2, 1, 128), np.float32)
        self.window = np.zeros((1, CONTEXT_SAMPLES + FRAME_SAMPLES), np.float32)

    def reset(self) -> None:
        """A new recording: zeroed in place, so the last one's audio is not left in freed memory."""
        self.wipe()

    def __call__(self, frame: np.ndarray) -> float:
        """frame: FRAME_SAMPLES int16 samples at 16 kHz."""
        self.window[0, :CONTEXT_SAMPLES] = self.window[0, -CONTEXT_SAMPLES:]
        np.multiply(frame, 1 / 32768.0, out=self.window[0, CONTEXT_SAMPLES:])  # no temporary copy (P1)
        out, self.state = self.session.run(None, {"input": self.window, "state": self.state, "sr": self.sr})
        return float(out[0, 0])

    def wipe(self) -> None:
        self.window.fill(0)
        self.state.fill(0)


def load_vad(manifest, models_dir: str | Path) -> SileroVad:
    """Silero VAD from the very bytes that matched the manifest (P6)."""
    from ..models import open_model

    with open_model(manifest.get(MODEL_NAME), models_dir) as vm:
        return SileroVad(vm.read_bytes(MODEL_FILE))


@dataclass(frozen=True)
class SegmentStart:
    at: float  # seconds from the start of the recording


@dataclass(frozen=True)
class SpeechAudio:
    pcm: np.ndarray  # int16 frame, owned by the receiver


@dataclass(frozen=True)
class SegmentEnd:
    at: float


MAX_SEGMENT_S = 28.0  # the longest segment any recogniser is given (docs/limits.md)
SOFT_CUT_S = 3.0  # in a segment's last seconds before the limit, any dip in speech ends it


class SpeechGate:
    """Cut a stream of scored frames into speech segments.

    A segment starts at the first frame scoring at least `threshold`, with `pad_ms` of
    audio before it, and ends after `min_silence_ms` below `threshold - 0.15` (the
    hysteresis keeps soft word endings inside the segment).

    No segment is longer than `max_segment_s`: every engine holds a segment's audio or
    lattice until it ends, so continuous talk (or a noisy room) with no pause would grow
    without bound. From `SOFT_CUT_S` before the limit the first frame below the off level
    (a gap between words, usually) ends the segment; at the limit it is cut regardless. The
    next speech frame starts a new segment at once.
    """

    def __init__(self, threshold: float = 0.5, min_silence_ms: int = 400, pad_ms: int = 200,
                 max_segment_s: float = MAX_SEGMENT_S):
        self.on, self.off = threshold, max(threshold - 0.15, 0.01)
        self.pad_frames = max(1, round(pad_ms / 1000 / FRAME_SECONDS))
        self.end_frames = max(1, round(min_silence_ms / 1000 / FRAME_SECONDS))
        self.max_frames = max(2, int(max_segment_s / FRAME_SECONDS))
        self.soft_frames = max(1, self.max_frames - round(min(SOFT_CUT_S, max_segment_s / 4) / FRAME_SECONDS))
        self.preroll: deque[np.ndarray] = deque(maxlen=self.pad_frames)
        self.in_speech = False
        self.quiet = 0  # frames below `off` since the last speech frame
        self.seg_frames = 0  # frames in the open segment, pre-roll included
        self.index = 0  # frames seen
        self.speech_frames = 0  # frames passed on to the recogniser
        self.forced_cuts = 0  # segments ended by the length limit

    def push(self, frame: np.ndarray, prob: float) -> list:
        t = self.index * FRAME_SECONDS
        self.index += 1
        if not self.in_speech:
            if prob < self.on:
                if len(self.preroll) == self.preroll.maxlen:
                    self.preroll[0].fill(0)  # P1: audio leaving the pre-roll is wiped, not just dropped
                self.preroll.append(frame.copy())
                return []
            self.in_speech, self.quiet = True, 0
            events = [SegmentStart(max(t - len(self.preroll) * FRAME_SECONDS, 0.0))]
            events += [SpeechAudio(f) for f in self.preroll]
            self.preroll.clear()
            events.append(SpeechAudio(frame.copy()))
            self.speech_frames += len(events) - 1
            self.seg_frames = len(events) - 1
            return events
        self.quiet = self.quiet + 1 if prob < self.off else 0
        self.speech_frames += 1
        self.seg_frames += 1
        events = [SpeechAudio(frame.copy())]
        long = self.seg_frames >= self.max_frames or (self.seg_frames >= self.soft_frames and self.quiet)
        if self.quiet >= self.end_frames or long:
            self.in_speech = False
            self.forced_cuts += self.quiet < self.end_frames
            events.append(SegmentEnd(t + FRAME_SECONDS))
        return events

    def flush(self) -> list:
        """End of audio: close an open segment."""
        for f in self.preroll:
            f.fill(0)
        self.preroll.clear()
        if self.in_speech:
            self.in_speech = False
            return [SegmentEnd(self.index * FRAME_SECONDS)]
        return []

    @property
    def duration(self) -> float:
        return self.index * FRAME_SECONDS

    @property
    def speech(self) -> float:
        return self.speech_frames * FRAME_SECONDS
