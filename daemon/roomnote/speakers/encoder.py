"""Voice embeddings in numpy: resemblyzer's GE2E voice encoder, without PyTorch.

The network is small (40 mel bands -> 3-layer LSTM of 256 -> linear 256 -> ReLU -> L2
norm), so a numpy forward pass costs a few percent of real time and the box needs neither
torch nor a converted model file: the weights are read straight from the ``pretrained.pt``
that the resemblyzer wheel ships (Apache-2.0), pinned by SHA-256 in models/manifest.toml.

A 1.6 s window of speech ("partial") gives one 256-d unit vector; cosine similarity between
two vectors says how alike the voices are (same voice about 0.8 to 0.95, different voices
mostly below 0.75).
"""
from __future__ import annotations


import numpy as np

from .torchfile import load_state_dict

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms step
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s of mel frames per partial
WEIGHTS_FILE = "pretrained.pt"
TARGET_DBFS = -30.0  # resemblyzer's volume normalisation (only ever raised)


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-style mel filterbank with area normalisation (librosa's default), (n_mels, bins)."""
    def hz_to_mel(f):
        f = np.asarray(f, np.float64)
        lin = f / (200.0 / 3)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), lin)

    def mel_to_hz(m):
        m = np.asarray(m, np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))

    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


class VoiceEncoder:
    def __init__(self, weights: bytes):
        """weights: pretrained.pt's bytes, as verified against the manifest (speakers.load_encoder)."""
        w = load_state_dict(weights)
        self.layers = []
        for i in range(3):
            self.layers.append((np.ascontiguousarray(w[f"lstm.weight_ih_l{i}"].T),
                                np.ascontiguousarray(w[f"lstm.weight_hh_l{i}"].T),
                                w[f"lstm.bias_ih_l{i}"] + w[f"lstm.bias_hh_l{i}"]))
        self.linear_w = np.ascontiguousarray(w["linear.weight"].T)
        self.linear_b = w["linear.bias"]
        self.mel = mel_filters()
        # The recurrent matmuls are small: BLAS threads only spin (4x the CPU for no speed-up),
        # so the encoder runs single-threaded and leaves the other cores to recognition.
        from threadpoolctl import ThreadpoolController
        self._blas = ThreadpoolController()
        n = np.arange(N_FFT)
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)  # periodic Hann

    def mel_frames(self, wav: np.ndarray) -> np.ndarray:
        """Mel power spectrogram (frames, 40) of float audio in [-1, 1], centred frames."""
        padded = np.pad(wav.astype(np.float32, copy=False), N_FFT // 2)
        n = 1 + (len(padded) - N_FFT) // HOP
        frames = np.lib.stride_tricks.as_strided(padded, (n, N_FFT), (HOP * 4, 4))
        windowed = frames * self.window
        spec = np.abs(np.fft.rfft(windowed, axis=1)) ** 2
        out = (spec.astype(np.float32) @ self.mel.T)
        for a in (padded, windowed, spec):  # P1: copies of the audio are zeroed, not just dropped
            a.fill(0)
        return out

    def forward(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) mel windows -> (batch, 256) unit embeddings."""
        with self._blas.limit(limits=1, user_api="blas"):
            return self._forward(mels.astype(np.float32, copy=False))

    def _forward(self, x: np.ndarray) -> np.ndarray:
        b, t, _ = x.shape
        for w_ih, w_hh, bias in self.layers:
            hidden = w_hh.shape[0]
            proj = (x.reshape(b * t, -1) @ w_ih + bias).reshape(b, t, 4 * hidden)
            h = np.zeros((b, hidden), np.float32)
            c = np.zeros((b, hidden), np.float32)
            outs = np.empty((b, t, hidden), np.float32)
            for step in range(t):
                g = proj[:, step] + h @ w_hh
                i = _sigmoid(g[:, :hidden])
                f = _sigmoid(g[:, hidden:2 * hidden])
                cand = np.tanh(g[:, 2 * hidden:3 * hidden])
                o = _sigmoid(g[:, 3 * hidden:])
                c = f * c + i * cand
                h = o * np.tanh(c)
                outs[:, step] = h
            x = outs
        emb = np.maximum(h @ self.linear_w + self.linear_b, 0)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)

    def embed_partials(self, wav: np.ndarray, step_frames: int = 80) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Unit embeddings of 1.6 s windows every `step_frames` (10 ms each) over float audio.

        Audio shorter than a window is zero-padded to one window. Returns the embeddings and
        each window's (first, last) sample. The caller owns `wav` and wipes it.
        """
        wav = normalise_volume(wav)
        mel = self.mel_frames(wav)
        if len(mel) < PARTIAL_FRAMES:
            mel = np.pad(mel, ((0, PARTIAL_FRAMES - len(mel)), (0, 0)))
        starts = list(range(0, len(mel) - PARTIAL_FRAMES + 1, step_frames))
        # the tail: one more window ending at the last frame when it is mostly uncovered
        if len(mel) - (starts[-1] + PARTIAL_FRAMES) > step_frames // 2:
            starts.append(len(mel) - PARTIAL_FRAMES)
        batch = np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])
        mel.fill(0)
        emb = self.forward(batch)
        batch.fill(0)
        wav.fill(0)
        spans = [(s * HOP, min((s + PARTIAL_FRAMES) * HOP, len(wav))) for s in starts]
        return emb, spans


def normalise_volume(wav: np.ndarray) -> np.ndarray:
    """A copy raised to -30 dBFS (never lowered), as the encoder was trained."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    gain = 1.0
    if rms > 0:
        change = TARGET_DBFS - 20 * np.log10(rms)
        gain = 10 ** (change / 20) if change > 0 else 1.0
    return wav * np.float32(gain)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)
