"""Streaming conversion of PCM to 16 kHz mono float, in memory."""
from __future__ import annotations

import numpy as np


def to_mono(samples: np.ndarray, channels: int) -> np.ndarray:
    """Interleaved samples -> mono by averaging the channels."""
    if channels == 1:
        return samples
    return samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)


def _lowpass_taps(cutoff: float, n: int = 63) -> np.ndarray:
    """A windowed-sinc low-pass filter; cutoff as a fraction of the input rate."""
    k = np.arange(n) - (n - 1) / 2
    taps = 2 * cutoff * np.sinc(2 * cutoff * k) * np.hamming(n)
    return (taps / taps.sum()).astype(np.float32)


class Resampler:
    """Resample a stream of mono float chunks from `rate_in` to `rate_out`.

    Downsampling first removes what lies above the new Nyquist frequency (so 44.1 or
    48 kHz input does not fold hiss into the speech band), then interpolates linearly.
    State carries over between chunks, so chunk boundaries leave no clicks.
    """

    def __init__(self, rate_in: int, rate_out: int):
        self.rate_in, self.rate_out = rate_in, rate_out
        self.step = rate_in / rate_out  # input samples per output sample
        self.taps = _lowpass_taps(0.45 * rate_out / rate_in) if rate_in > rate_out else None
        self.history = np.zeros(0 if self.taps is None else len(self.taps) - 1, np.float32)
        self.pending = np.zeros(0, np.float32)  # filtered input not yet consumed
        self.pos = 0.0  # position of the next output sample within `pending`

    def process(self, chunk: np.ndarray) -> np.ndarray:
        if self.rate_in == self.rate_out:
            return chunk.astype(np.float32, copy=False)
        x = chunk.astype(np.float32, copy=False)
        if self.taps is not None:
            padded = np.concatenate([self.history, x])
            self.history = padded[len(padded) - len(self.history):].copy()
            x = np.convolve(padded, self.taps, mode="valid").astype(np.float32)
        self.pending = np.concatenate([self.pending, x])
        last = len(self.pending) - 1  # interpolation needs a sample on each side
        if last < 1 or self.pos > last - 1:
            return np.zeros(0, np.float32)
        t = np.arange(self.pos, last, self.step)
        out = np.interp(t, np.arange(len(self.pending)), self.pending).astype(np.float32)
        consumed = int(t[-1] + self.step) if len(t) else 0
        consumed = min(consumed, last)
        self.pos = t[-1] + self.step - consumed if len(t) else self.pos
        self.pending = self.pending[consumed:]
        return out

    def wipe(self) -> None:
        self.history.fill(0)
        self.pending.fill(0)
