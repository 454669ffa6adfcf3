"""Whisper through faster-whisper (CTranslate2, int8), recognising on a worker thread.

Whisper reads up to 30 s of audio at a time and gives no partial results, so the VAD's
segments are packed into spans of at most `max_span_s` (one call per short segment costs
about 3x the CPU) and each full span is recognised on a worker while the session goes on;
at the end only the last span is left. `end_segment()` therefore returns [] and the words
of every segment come from `results()`, in the order the segments ended.

Whisper's habits are handled here: text on silence ("you", "Thank you.") is dropped by
`no_speech_prob` and low average log-probability, repetition loops on noise are cut, and
words keep their times on the recording's clock. Audio lives in buffers this class owns and
zeroes (P1); faster-whisper's own intermediate arrays (padded waveform, STFT frames) are
freed by numpy, not zeroed, like vosk's and pocketsphinx's internal buffers.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..transcript import Word

log = logging.getLogger("roomnote.asr")

RATE = 16000
GAP_S = 0.3  # silence put between packed segments, so whisper hears a pause there
# Whisper's own rule for "this window was silence": both must hold
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
# a window this unlikely is noise written as words, whatever no_speech_prob says
VERY_LOW_LOGPROB = -1.6
# what whisper writes on near-silence; dropped only when the window is doubtful
SILENCE_PHRASES = {"you", "thank you", "thanks for watching", "thank you for watching", "bye",
                   "thank you very much", "thanks", "so", "okay", "oh", "uh", "um", "hmm"}
DOUBTFUL_NO_SPEECH = 0.3
DOUBTFUL_WORD_PROB = 0.45


def default_cpu_threads() -> int:
    """All cores but one, so the control loop and the VAD stay responsive."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class _Piece:
    """One VAD segment inside a span: where it sits in the span and on the recording."""

    at: float  # recording time of its first sample
    offset: float  # span time of its first sample
    length: float  # seconds
    words: list[Word] = field(default_factory=list)


class _Span:
    def __init__(self, max_s: float, generation: int = 0):
        self.generation = generation  # a discard() moves on: older spans are dropped unheard
        self.audio = np.zeros(int(max_s * RATE) + RATE, np.float32)  # owned, zeroed after use (P1)
        self.n = 0
        self.pieces: list[_Piece] = []

    @property
    def seconds(self) -> float:
        return self.n / RATE

    def add(self, at: float, pcm: list[np.ndarray]) -> None:
        if self.pieces:
            self.n += int(GAP_S * RATE)  # zeros already
        k = sum(len(p) for p in pcm)
        if self.n + k > len(self.audio):  # a segment longer than a span: grow, zero the old buffer
            bigger = np.zeros(self.n + k + RATE, np.float32)
            bigger[:self.n] = self.audio[:self.n]
            self.audio.fill(0)
            self.audio = bigger
        self.pieces.append(_Piece(at, self.n / RATE, k / RATE))
        for p in pcm:
            np.multiply(p, 1 / 32768.0, out=self.audio[self.n:self.n + len(p)], casting="unsafe")
            self.n += len(p)

    def wipe(self) -> None:
        self.audio.fill(0)
        self.n = 0


class WhisperTranscriber:
    deferred = True  # words come from results(), not end_segment()

    def __init__(self, model_dir: Path, name: str = "whisper", cpu_threads: int = 0,
                 max_span_s: float = 28.0, beam_size: int = 1, language: str = "en"):
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # its INFO lines are noise in the journal
        self.threads = cpu_threads or default_cpu_threads()
        # a local directory: faster-whisper never contacts a model hub for it
        self.model = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                  cpu_threads=self.threads, num_workers=1, local_files_only=True)
        self.name, self.max_span_s, self.beam_size, self.language = name, max_span_s, beam_size, language
        self.open: list[np.ndarray] = []  # the open segment's audio, int16 copies
        self.open_at = 0.0
        self.generation = 0
        self.span = _Span(max_span_s)
        self.done: list[_Piece] = []  # every segment of the recording, in order
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.queued_s = 0.0  # audio handed to the worker and not yet recognised
        self.error: BaseException | None = None
        self.worker = threading.Thread(target=self._work, name="whisper", daemon=True)
        self.worker.start()

    # --- the Transcriber interface -------------------------------------------------------

    def start_segment(self, at: float) -> None:
        self.open_at = at
        self.open = []

    def feed(self, pcm: np.ndarray) -> None:
        self.open.append(pcm.copy())  # the caller zeroes pcm; this copy is zeroed once packed

    def partial(self) -> str:
        return ""  # whisper has no running hypothesis; the LED shows the box is listening

    def end_segment(self) -> list[Word]:
        seconds = sum(len(p) for p in self.open) / RATE
        if self.span.pieces and self.span.seconds + GAP_S + seconds > self.max_span_s:
            self._submit()
        try:
            self.span.add(self.open_at, self.open)
            self.done.append(self.span.pieces[-1])
        finally:
            for p in self.open:
                p.fill(0)
            self.open = []
        return []

    def results(self) -> list[list[Word]]:
        """Recognise what is left and wait for the worker: the words of every segment
        ended since the last results()/discard(), one list per segment, in order."""
        if self.span.pieces:
            self._submit()
        done = threading.Event()
        self.jobs.put(done)
        done.wait()
        out = [p.words for p in self.done]
        self.done = []
        if self.error is not None:  # nothing of a half-recognised recording is kept
            err, self.error = self.error, None
            self._reset()
            for words in out:
                words.clear()
            raise RuntimeError("whisper recognition failed") from err
        return out

    def backlog(self) -> float:
        """Seconds of speech waiting for the worker (the open span included)."""
        with self.lock:  # a running sum of float seconds: rounded to the millisecond, never below 0
            return max(0.0, round(self.queued_s + self.span.seconds, 3))

    def discard(self) -> None:
        """Drop every word and all audio of the recording (a withdrawal); stays usable."""
        self.generation += 1
        self._reset()
        done = threading.Event()
        self.jobs.put(done)
        done.wait()  # the worker has finished what it was doing: nothing of it is kept
        for p in self.done:
            p.words.clear()
        self.done = []
        self.error = None

    def close(self) -> None:
        self._reset()
        self.jobs.put(None)
        self.worker.join(timeout=60)
        self.model = None

    # --- the worker ----------------------------------------------------------------------

    def _reset(self) -> None:
        for p in self.open:
            p.fill(0)
        self.open = []
        self.span.wipe()
        self.span = _Span(self.max_span_s, self.generation)

    def _submit(self) -> None:
        span, self.span = self.span, _Span(self.max_span_s, self.generation)
        with self.lock:
            self.queued_s += span.seconds
        self.jobs.put(span)

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if isinstance(job, threading.Event):
                job.set()
                continue
            try:
                if self.error is None and job.generation == self.generation:
                    self._recognise(job)
            except BaseException as e:  # reported to the session by results()
                self.error = e
                log.error("whisper recognition failed", extra={"ERROR": e.__class__.__name__})
            finally:
                with self.lock:
                    self.queued_s -= job.seconds
                job.wipe()

    def _recognise(self, span: _Span) -> None:
        segments, _ = self.model.transcribe(
            span.audio[:span.n], language=self.language, beam_size=self.beam_size,
            temperature=0.0, word_timestamps=True, condition_on_previous_text=False,
            vad_filter=False, without_timestamps=False)
        words: list[tuple[float, float, str, float]] = []
        for s in segments:
            if is_silence(s):
                continue
            words += join_word_pieces(s.words or [])
        words = drop_repetition_loops(words)
        assign_words(span.pieces, words)


def join_word_pieces(raw) -> list[tuple[float, float, str, float]]:
    """faster-whisper's words, with pieces that carry no leading space ("cold" "-hearted")
    glued to the word before them; probability of a joined word is its least sure piece."""
    out: list[tuple[float, float, str, float]] = []
    for w in raw:
        text = w.word.strip()
        if not text:
            continue
        if out and not w.word[:1].isspace():
            start, _, prev, prob = out[-1]
            out[-1] = (start, float(w.end), prev + text, min(prob, float(w.probability)))
        else:
            out.append((float(w.start), float(w.end), text, float(w.probability)))
    return out


def is_silence(seg) -> bool:
    """A whisper window that is most likely text written on silence or noise."""
    if seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOW_LOGPROB:
        return True
    if seg.avg_logprob < VERY_LOW_LOGPROB:
        return True
    text = normalise_phrase(seg.text)
    if text in SILENCE_PHRASES:
        probs = [w.probability for w in seg.words or []]
        mean = sum(probs) / len(probs) if probs else 0.0
        return seg.no_speech_prob > DOUBTFUL_NO_SPEECH or mean < DOUBTFUL_WORD_PROB
    return False


def normalise_phrase(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


def drop_repetition_loops(words: list, min_repeats: dict[int, int] | None = None) -> list:
    """Cut runs where whisper loops: the same n-gram (n = 1..8) over and over.

    A run is kept once; a phrase is a loop when it comes back to back at least 5 times
    for single words ("no, no, no" is speech) and 3 times for longer phrases.
    words: tuples whose third item is the text.
    """
    def key(i: int) -> str:
        return normalise_phrase(words[i][2])

    out, i = [], 0
    while i < len(words):
        best_n, best_reps = 0, 1
        for n in range(1, 9):
            if i + 2 * n > len(words):
                break
            gram = [key(i + k) for k in range(n)]
            reps = 1
            while i + (reps + 1) * n <= len(words) and \
                    [key(i + reps * n + k) for k in range(n)] == gram:
                reps += 1
            needed = 5 if n == 1 else 3
            if reps >= needed and reps * n > best_reps * best_n:
                best_n, best_reps = n, reps
        if best_n:
            out += words[i:i + best_n]
            i += best_n * best_reps
        else:
            out.append(words[i])
            i += 1
    return out


def assign_words(pieces: list[_Piece], words: list[tuple[float, float, str, float]]) -> None:
    """Give each word to the segment its middle falls in (the nearest one in a gap) and move
    its times from the span's clock to the recording's."""
    for start, end, text, prob in words:
        mid = (start + end) / 2
        piece = min(pieces, key=lambda p: 0.0 if p.offset <= mid <= p.offset + p.length
                    else min(abs(mid - p.offset), abs(mid - p.offset - p.length)))
        lo, hi = piece.offset, piece.offset + piece.length
        s, e = min(max(start, lo), hi), min(max(end, lo), hi)
        shift = piece.at - piece.offset
        piece.words.append(Word(text, round(s + shift, 3), round(max(e, s) + shift, 3),
                                round(float(prob), 3)))
