"""The transcript file `roomnote compose` reads: a session already recognised, as JSON.

    {"segments": [{"id": "s0001", "speaker": "therapist", "start": 0.0, "end": 3.2,
                   "text": "How has your week been?"}, ...],
     "duration": 3000.0,                      # optional: seconds recorded (default: last end)
     "engine": "whisper/base.en",             # optional: the recogniser, for the note's header
     "started_at": "2026-01-05T10:00:00+00:00"}   # optional (default: file time - duration)

speaker is "therapist", "client", "other", "unknown" (the default) or "speaker N" (voices
told apart but not identified). Text is written form (cased, punctuated, as whisper writes
it) or spoken form (lowercase, as vosk writes it). Times are seconds from the start.
Bad input raises TranscriptFileError naming the segment and the field, and nothing is read.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..errors import RoomnoteError
from ..transcript import Segment, Transcript, Word

SPEAKERS = ("therapist", "client", "other", "unknown")
_VOICE = re.compile(r"^speaker \d{1,3}$")
FIX = "fix the transcript file and run again (format: docs/notes.md, Transcript files)"


class TranscriptFileError(RoomnoteError):
    """A transcript file that cannot be read; the message names the segment and field."""


@dataclass(frozen=True)
class TranscriptFile:
    transcript: Transcript
    started_at: datetime | None  # None: not given


def _number(value, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise TranscriptFileError(f"{where}: '{field}' must be a number of seconds (0 or more), "
                                  f"got {type(value).__name__ if not isinstance(value, (int, float)) else 'a negative or non-finite number'}; {FIX}")
    return float(value)


def _segment(raw, i: int, path: str, seen: set[str]) -> Segment:
    where = f"{path}: segment {i + 1}"
    if not isinstance(raw, dict):
        raise TranscriptFileError(f"{where}: must be an object with id, speaker, start, end, text; {FIX}")
    sid = raw.get("id", f"s{i + 1:04d}")
    if not isinstance(sid, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", sid):
        raise TranscriptFileError(f"{where}: 'id' must be a short string of letters, digits, '_', '-', "
                                  f"'.' or ':'; {FIX}")
    where = f"{path}: segment {i + 1} ({sid})"
    if sid in seen:
        raise TranscriptFileError(f"{where}: 'id' is used by an earlier segment; ids must be unique; {FIX}")
    seen.add(sid)
    speaker = raw.get("speaker", "unknown")
    if not isinstance(speaker, str) or not (speaker.strip().lower() in SPEAKERS or _VOICE.match(speaker.strip().lower())):
        raise TranscriptFileError(f"{where}: 'speaker' must be one of {', '.join(SPEAKERS)} or 'speaker N'; {FIX}")
    for key in ("start", "end", "text"):
        if key not in raw:
            raise TranscriptFileError(f"{where}: '{key}' is missing; {FIX}")
    start, end = _number(raw["start"], where, "start"), _number(raw["end"], where, "end")
    if end < start:
        raise TranscriptFileError(f"{where}: 'end' ({end:g}) is before 'start' ({start:g}); {FIX}")
    text = raw["text"]
    if not isinstance(text, str):
        raise TranscriptFileError(f"{where}: 'text' must be a string; {FIX}")
    tokens = text.split()
    step = (end - start) / len(tokens) if tokens else 0.0
    words = [Word(w, round(start + k * step, 3), round(start + (k + 1) * step, 3), 1.0)
             for k, w in enumerate(tokens)]
    return Segment(sid, start, end, words, speaker.strip().lower())


def parse_transcript(data, path: str = "transcript", default_end: datetime | None = None) -> TranscriptFile:
    """A Transcript (segments in time order) from the decoded JSON, or TranscriptFileError."""
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise TranscriptFileError(f"{path}: expected an object with a 'segments' list; {FIX}")
    seen: set[str] = set()
    segments = [_segment(raw, i, path, seen) for i, raw in enumerate(data["segments"])]
    segments.sort(key=lambda s: (s.start, s.end))
    last = max((s.end for s in segments), default=0.0)
    duration = _number(data["duration"], path, "duration") if "duration" in data else last
    if duration < last:
        raise TranscriptFileError(f"{path}: 'duration' ({duration:g} s) is shorter than the last segment's "
                                  f"end ({last:g} s); {FIX}")
    engine = data.get("engine", "transcript file")
    if not isinstance(engine, str) or len(engine) > 100:
        raise TranscriptFileError(f"{path}: 'engine' must be a short string; {FIX}")
    started = None
    if "started_at" in data:
        try:
            started = datetime.fromisoformat(str(data["started_at"]))
        except ValueError:
            raise TranscriptFileError(f"{path}: 'started_at' must be an ISO 8601 time such as "
                                      f"2026-01-05T10:00:00+00:00; {FIX}") from None
        if started.tzinfo is None:
            started = started.replace(tzinfo=timezone.utc)
    speech = sum(s.end - s.start for s in segments if s.words)
    return TranscriptFile(Transcript([s for s in segments if s.words], duration, speech, engine), started)


def read_transcript_file(path: Path) -> TranscriptFile:
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TranscriptFileError(f"{path}: no such file; pass a transcript JSON file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TranscriptFileError(f"{path}: cannot read it as UTF-8 text ({getattr(e, 'strerror', None) or e.__class__.__name__}); "
                                  "pass a transcript JSON file") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise TranscriptFileError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); {FIX}") from None
    return parse_transcript(data, str(path))


def session_times(tf: TranscriptFile, file_time: datetime) -> tuple[datetime, datetime]:
    """Start and end of the session: as the file says, else ending at the file's time."""
    d = timedelta(seconds=tf.transcript.duration)
    if tf.started_at is not None:
        return tf.started_at, tf.started_at + d
    return file_time - d, file_time
