"""Streaming conversion of PCM to 16 kHz mono frames, in memory."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from . import FRAME_SAMPLES, SAMPLE_RATE


def to_mono(samples: np.ndarray, channels: int) -> np.ndarray:
    """Interleaved samples -> mono by averaging the channels."""
    if channels == 1:
        return samples
    return samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)  # a new array


def _lowpass_taps(cutoff: float, n: int = 63) -> np.ndarray:
    """A windowed-sinc low-pass filter; cutoff as a fraction of the input rate."""
    k = np.arange(n) - (n - 1) / 2
    taps = 2 * cutoff * np.sinc(2 * cutoff * k) * np.hamming(n)
    return (taps / taps.sum()).astype(np.float32)


class Resampler:
    """Resample a stream of mono float chunks from `rate_in` to `rate_out`.

    Downsampling first removes what lies above the new Nyquist frequency (so 44.1 or
    48 kHz input does not fold hiss into the speech band), then interpolates linearly.
    State carries over between chunks, so chunk boundaries leave no clicks. Every
    intermediate array is zeroed once used (P1); the caller wipes what it is given.
    """

    def __init__(self, rate_in: int, rate_out: int):
        self.rate_in, self.rate_out = rate_in, rate_out
        self.step = rate_in / rate_out  # input samples per output sample
        self.taps = _lowpass_taps(0.45 * rate_out / rate_in) if rate_in > rate_out else None
        self.history = np.zeros(0 if self.taps is None else len(self.taps) - 1, np.float32)
        self.pending = np.zeros(0, np.float32)  # filtered input not yet consumed
        self.pos = 0.0  # position of the next output sample within `pending`

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """A new array of output samples for this chunk (possibly empty)."""
        if self.rate_in == self.rate_out:
            return chunk.astype(np.float32, copy=True)
        x = chunk.astype(np.float32, copy=True)
        if self.taps is not None:
            padded = np.concatenate([self.history, x])
            self.history[:] = padded[len(padded) - len(self.history):]
            wipe(x)
            x = np.convolve(padded, self.taps, mode="valid").astype(np.float32, copy=False)
            wipe(padded)
        pending = np.concatenate([self.pending, x])
        wipe(self.pending, x)
        last = len(pending) - 1  # interpolation needs a sample on each side
        if last < 1 or self.pos > last - 1:
            self.pending = pending
            return np.zeros(0, np.float32)
        t = np.arange(self.pos, last, self.step)
        wide = np.interp(t, np.arange(len(pending)), pending)  # float64
        out = wide.astype(np.float32)
        wipe(wide)
        nxt = t[-1] + self.step
        consumed = min(int(nxt), last)
        self.pos = nxt - consumed
        self.pending = pending[consumed:].copy()
        wipe(pending)
        return out

    def wipe(self) -> None:
        wipe(self.history, self.pending)


class FrameAssembler:
    """Blocks of interleaved samples (the microphone's int16, a WAV file's decoded float)
    -> 16 kHz mono int16 frames of FRAME_SAMPLES. The caller wipes the blocks it gives.

    The frame yielded is one buffer reused for every frame: consumers copy what they keep.
    """

    def __init__(self, rate: int, channels: int):
        self.channels = channels
        self.resampler = Resampler(rate, SAMPLE_RATE)
        self.carry = np.zeros(0, np.float32)  # resampled samples short of a whole frame
        self.frame = np.zeros(FRAME_SAMPLES, np.int16)

    def push(self, block: np.ndarray) -> Iterator[np.ndarray]:
        x = block.astype(np.float32)
        mono = to_mono(x, self.channels)
        out = self.resampler.process(mono)
        pending = np.concatenate([self.carry, out])
        wipe(x, mono, out, self.carry)
        try:
            whole = len(pending) // FRAME_SAMPLES * FRAME_SAMPLES
            for i in range(0, whole, FRAME_SAMPLES):
                np.clip(pending[i:i + FRAME_SAMPLES], -32768, 32767, out=self.frame, casting="unsafe")
                yield self.frame
            self.carry = pending[whole:].copy()
        finally:
            wipe(pending)  # also when the consumer stops early (an error, a withdrawal)

    def flush(self) -> Iterator[np.ndarray]:
        """The last partial frame, zero-padded."""
        if len(self.carry):
            self.frame[:] = 0
            np.clip(self.carry, -32768, 32767, out=self.frame[:len(self.carry)], casting="unsafe")
            wipe(self.carry)
            self.carry = np.zeros(0, np.float32)
            yield self.frame

    def wipe(self) -> None:
        wipe(self.carry, self.frame)
        self.resampler.wipe()


def wipe(*arrays: np.ndarray) -> None:
    """Zero audio that is no longer needed, so freed memory holds no speech (P1)."""
    for a in arrays:
        a.fill(0)
