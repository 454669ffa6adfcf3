"""Who said what: label each transcript segment therapist, client, other or unknown.

Streaming, so the recognition loop calls it as the VAD cuts speech:

    who = model.new_session()             # SpeakerModel from load_speaker_model()
    who.start_segment(at)                 # VAD SegmentStart
    who.feed(pcm)                         # each SpeechAudio frame (copied; caller may zero it)
                                          #   (every 12 s of speech, feed embeds that piece)
    who.end_segment(segment_id)           # VAD SegmentEnd -> provisional label; None drops it
    segments = who.label(segments)        # at stop: final labels, then every voice vector wiped

The expensive part (the voice embedding of a segment) runs live at each segment end; the
final labelling only compares vectors, so stopping costs milliseconds. Audio of the open
segment is held in one in-memory buffer that is zeroed as soon as it is embedded (P1);
voice vectors are biometric data and are zeroed by label() / wipe(). A long monologue is
embedded in 12 s pieces as it is fed, so no more than 12 s of audio is ever held and no
single call does more than 12 s worth of work.

How labels are decided (thresholds in [speakers] of the config):

1. Segments whose windows all sound alike are grouped by average-linkage clustering
   (``same_voice``), together with the single windows of segments that do not (two voices
   without a pause between them). A group with enough speech is a voice.
2. With an enrolled therapist profile, the voice most alike to it (at least
   ``therapist_match``, and any voice nearly as alike) is the therapist, the voice with the most remaining speech the client, any further voice
   ``other`` (a partner in a couples session). Without a profile,
   or when no voice matches it, voices are "speaker 1", "speaker 2", ... by first appearance.
3. A segment gets its nearest voice only if that voice is at least ``min_similarity`` alike
   and ``min_margin`` closer than the runner-up; otherwise "unknown", never a guess.
4. A segment whose 1.6 s windows confidently belong to different voices (a quick exchange
   with no pause, overlapping speech) is split at word boundaries, each word labelled by the
   windows that cover it (again "unknown" when unsure).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..config import SpeakersConfig
from ..transcript import Segment
from .clustering import agglomerate, centroid
from .encoder import HOP, SAMPLE_RATE, VoiceEncoder

THERAPIST, CLIENT, OTHER, UNKNOWN = "therapist", "client", "other", "unknown"
STEP_FRAMES = 40  # a window every 0.4 s: fine enough to find a change of voice mid-segment
MIN_SPEECH_S = 0.3  # less voiced audio than this says nothing about the voice
MIN_VOICE_S = 3.0  # a voice needs this much speech (and 5 % of the session) to be one
MIN_VOICE_SHARE = 0.05
MIN_VOICE_UNITS = 2  # one odd segment (a laugh, a radio) is not a voice; windows of a mixed one count singly
MAX_VOICES = 4
SILENCE_DB = 35.0  # 10 ms frames this far below the segment's loud frames are left out
WINDOW_SLACK = 0.1  # single windows of one voice are grouped at same_voice - this (they vary more)
MIXED_MIN_WINDOWS = 3  # a second voice needs this many windows (1.2 s of new audio) in a segment
MAX_UNITS = 2000  # at most this many vectors are clustered at once (32 MB of similarities)
SAME_PERSON_MARGIN = 0.1  # voices this close to the best match of the profile are the therapist too
PIECE_S = 12.0  # audio held before it is embedded: bounds the buffer and the work per call
REFRESH = 8  # provisional labels re-cluster after this many new segments (or a quarter more)


@dataclass
class Turn:
    """The voice evidence of one VAD segment: vectors and times, never audio."""

    segment_id: str
    emb: np.ndarray  # (256,) unit mean of the windows
    partials: np.ndarray  # (k, 256) one unit vector per 1.6 s window
    spans: np.ndarray  # (k, 2) first and last second each window covers
    speech_s: float
    mixed: bool = False  # its windows fall into more than one voice

    def wipe(self) -> None:
        for a in (self.emb, self.partials, self.spans):
            a.fill(0)


@dataclass
class Voices:
    """The voices found so far: one unit centroid and one label per voice."""

    centroids: np.ndarray  # (v, 256)
    names: list[str]

    def pick(self, emb: np.ndarray, cfg: SpeakersConfig) -> str:
        return _pick(self.centroids @ emb, self.names, cfg)


class SpeakerAttributor:
    def __init__(self, encoder: VoiceEncoder, cfg: SpeakersConfig, profile: np.ndarray | None = None):
        self.encoder, self.cfg, self.profile = encoder, cfg, profile
        self.buf = np.zeros(int(SAMPLE_RATE * (PIECE_S + 1)), np.float32)
        self.n = 0
        self.start = 0.0  # recording time of the first buffered sample
        self.pieces: list[tuple] = []  # window vectors of the open segment's earlier pieces
        self.turns: list[Turn] = []
        self.voices: Voices | None = None
        self._clustered_at = 0

    # --- streaming ---------------------------------------------------------------------

    def start_segment(self, at: float) -> None:
        self.buf[:self.n].fill(0)
        for piece in self.pieces:
            piece[0].fill(0)
        self.n, self.start, self.pieces = 0, at, []

    def feed(self, pcm: np.ndarray) -> None:
        """Samples at 16 kHz, int16 scale (as the VAD passes them); copied."""
        k = len(pcm)
        if self.n + k > len(self.buf):
            bigger = np.zeros(max(2 * len(self.buf), self.n + k), np.float32)
            bigger[:self.n] = self.buf[:self.n]
            self.buf.fill(0)  # P1: the old buffer is zeroed, not just dropped
            self.buf = bigger
        self.buf[self.n:self.n + k] = pcm
        self.buf[self.n:self.n + k] *= 1 / 32768
        self.n += k
        if self.n >= PIECE_S * SAMPLE_RATE:  # a long monologue is embedded as it goes
            self._embed_buffer()

    def end_segment(self, segment_id: str | None) -> str:
        """Embed the segment's audio, wipe it, and return a provisional label.

        segment_id None (the recogniser heard no words) drops the segment.
        """
        try:
            if segment_id is not None and self.n:
                self._embed_buffer()
            pieces = self.pieces
        finally:
            self.buf[:self.n].fill(0)
            self.n, self.pieces = 0, []
        if segment_id is None or not pieces:
            for piece in pieces:
                piece[0].fill(0)
            return UNKNOWN
        partials = np.concatenate([p[0] for p in pieces])
        for piece in pieces:
            piece[0].fill(0)
        turn = Turn(segment_id, centroid(partials), partials, np.concatenate([p[1] for p in pieces]),
                    sum(p[2] for p in pieces), self._is_mixed(partials))
        self.turns.append(turn)
        if self.voices is None or len(self.turns) - self._clustered_at >= max(REFRESH, self._clustered_at // 4):
            self.voices = self._find_voices()
            self._clustered_at = len(self.turns)
        return self.voices.pick(turn.emb, self.cfg) if self.voices.names else UNKNOWN

    def label(self, segments: list[Segment]) -> list[Segment]:
        """Final labels for the session's segments, split where the voice changes mid-segment.

        Wipes every voice vector afterwards: call once, at the end of the session.
        """
        try:
            voices = self.voices = self._find_voices()  # kept on self so wipe() zeroes it
            by_id = {t.segment_id: t for t in self.turns}
            out: list[Segment] = []
            for seg in segments:
                turn = by_id.get(seg.id)
                out += [replace(seg, speaker=UNKNOWN)] if turn is None or not voices.names \
                    else self._label_segment(seg, turn, voices)
            return out
        finally:
            self.wipe()

    def wipe(self) -> None:
        self.buf.fill(0)
        self.n = 0
        for piece in self.pieces:
            piece[0].fill(0)
        self.pieces = []
        for t in self.turns:
            t.wipe()
        self.turns.clear()
        if self.voices is not None:
            self.voices.centroids.fill(0)
            self.voices = None

    # --- inside ------------------------------------------------------------------------

    def _embed_buffer(self) -> None:
        """Embed the buffered audio as one piece of the open segment, then zero the buffer."""
        try:
            piece = self._embed_audio(self.buf[:self.n], self.start)
        finally:
            self.buf[:self.n].fill(0)
            self.start += self.n / SAMPLE_RATE
            self.n = 0
        if piece is not None:
            self.pieces.append(piece)

    def _embed_audio(self, audio: np.ndarray, start: float) -> tuple | None:
        """(window vectors, window times in seconds, seconds of voiced audio), or None."""
        frames = audio[:len(audio) // HOP * HOP].reshape(-1, HOP)
        if not len(frames):
            return None
        energy = 10 * np.log10(np.einsum("ij,ij->i", frames, frames) / HOP + 1e-12)  # no copy of the audio
        voiced = np.flatnonzero(energy >= np.percentile(energy, 95) - SILENCE_DB)
        if len(voiced) * HOP / SAMPLE_RATE < MIN_SPEECH_S:
            return None
        wav = frames[voiced].reshape(-1)  # a copy: only the voiced 10 ms frames
        try:
            partials, spans = self.encoder.embed_partials(wav, STEP_FRAMES)
        finally:
            wav.fill(0)
        # window sample ranges -> seconds in the recording, through the kept frames
        last = len(voiced) - 1
        times = np.array([[voiced[min(a // HOP, last)], voiced[min(max(b - 1, 0) // HOP, last)] + 1]
                          for a, b in spans], np.float64) * HOP / SAMPLE_RATE + start
        return partials, times, len(voiced) * HOP / SAMPLE_RATE

    def _is_mixed(self, partials: np.ndarray) -> bool:
        """True when the segment's windows group into two voices, each with a few windows."""
        if len(partials) < 2 * MIXED_MIN_WINDOWS:
            return False
        sizes = sorted(len(g) for g in agglomerate(partials, self.cfg.same_voice - WINDOW_SLACK))
        return len(sizes) > 1 and sizes[-2] >= MIXED_MIN_WINDOWS

    def _find_voices(self) -> Voices:
        """Cluster one-voice segments as wholes and mixed ones window by window."""
        units, weights, order = [], [], []
        for i, t in enumerate(self.turns):
            if not t.mixed:
                units.append(t.emb[None])
                weights.append(t.speech_s)
                order.append(i)
            else:  # more than one voice: each 1.6 s window on its own
                units.append(t.partials)
                weights += [t.speech_s / len(t.partials)] * len(t.partials)
                order += [i] * len(t.partials)
        if not units:
            return Voices(np.zeros((0, 256), np.float32), [])
        emb, speech = np.concatenate(units), np.array(weights)
        if len(emb) > MAX_UNITS:  # bound the similarity matrix: every n-th unit is clustered
            keep = np.linspace(0, len(emb) - 1, MAX_UNITS).astype(int)
            emb, speech, order = emb[keep], speech[keep], [order[i] for i in keep]
        groups = agglomerate(emb, self.cfg.same_voice)
        enough = max(MIN_VOICE_S, MIN_VOICE_SHARE * float(speech.sum()))
        groups = [g for g in groups if speech[g].sum() >= enough and len(g) >= MIN_VOICE_UNITS]
        groups = sorted(sorted(groups, key=lambda g: -speech[g].sum())[:MAX_VOICES], key=lambda g: order[g[0]])
        if not groups:
            return Voices(np.zeros((0, emb.shape[1]), np.float32), [])
        cents = np.stack([_core_centroid(emb[g], speech[g]) for g in groups])
        return Voices(cents, self._name(cents, [float(speech[g].sum()) for g in groups]))

    def _name(self, cents: np.ndarray, speech: list[float]) -> list[str]:
        """Roles when the therapist's voice is known, neutral names otherwise."""
        names = [f"speaker {i + 1}" for i in range(len(cents))]
        if self.profile is None:
            return names
        match = cents @ self.profile
        t = int(np.argmax(match))
        if match[t] < self.cfg.therapist_match:
            return names  # the enrolled therapist is not among the voices: nothing is assumed
        # One person can fall into two groups (the profile sits between them, both about as
        # alike to it): both are the therapist, whose words must never be quoted as the
        # client's. A voice clearly less alike than the best one is somebody else.
        near = max(self.cfg.therapist_match, float(match[t]) - SAME_PERSON_MARGIN)
        mine = {i for i in range(len(cents)) if match[i] >= near}
        for i in mine:
            names[i] = THERAPIST
        rest = sorted((i for i in range(len(cents)) if i not in mine), key=lambda i: -speech[i])
        for rank, i in enumerate(rest):
            names[i] = CLIENT if rank == 0 else OTHER
        return names

    def _label_segment(self, seg: Segment, turn: Turn, voices: Voices) -> list[Segment]:
        sims = turn.partials @ voices.centroids.T  # (windows, voices)
        window_labels = {_pick(s, voices.names, self.cfg) for s in sims} - {UNKNOWN}
        if len(window_labels) < 2 or len(seg.words) < 2:
            return [replace(seg, speaker=voices.pick(turn.emb, self.cfg))]
        # Several voices in one segment: each word takes the windows that cover its middle.
        labels = []
        for w in seg.words:
            mid = (w.start + w.end) / 2
            cover = (turn.spans[:, 0] <= mid) & (mid <= turn.spans[:, 1])
            if not cover.any():
                cover = np.abs(turn.spans.mean(axis=1) - mid) == np.min(np.abs(turn.spans.mean(axis=1) - mid))
            labels.append(_pick(sims[cover].mean(axis=0), voices.names, self.cfg))
        out, first = [], 0
        for i in range(1, len(labels) + 1):
            if i == len(labels) or labels[i] != labels[first]:
                words = seg.words[first:i]
                out.append(Segment(f"{seg.id}-{len(out) + 1}", words[0].start, words[-1].end,
                                   list(words), labels[first]))
                first = i
        return out if len(out) > 1 else [replace(seg, speaker=labels[0])]


def _core_centroid(emb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A voice's centre from its more typical half: windows that blend two voices (overlapping
    speech, a turn change inside a window) sit at the edge of a group and would pull it."""
    c = centroid(emb, weights)
    if len(emb) < 4:
        return c
    core = emb @ c >= np.median(emb @ c)
    return centroid(emb[core], weights[core])


def _pick(sims: np.ndarray, names: list[str], cfg: SpeakersConfig) -> str:
    """The nearest voice when it is alike enough and clearly nearer than the next one."""
    if not len(names):
        return UNKNOWN
    top = int(np.argmax(sims))
    best = float(sims[top])
    others = [float(x) for x, name in zip(sims, names) if name != names[top]]  # another label, not another group
    runner_up = max(others, default=-1.0)
    if best < cfg.min_similarity or best - runner_up < cfg.min_margin:
        return UNKNOWN
    return names[top]
