"""Read a PCM WAV file as a stream of 16 kHz mono frames, in memory only.

The RIFF header is parsed here (not by the `wave` module) so that damage is reported
clearly and up front: a truncated file is refused before any audio is processed, and
samples are read into one reusable buffer that is zeroed when reading ends (P1).
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import AudioError
from ..regular_file import NotRegularFile, open_regular
from .resample import FrameAssembler, wipe

PCM, EXTENSIBLE = 0x0001, 0xFFFE
CHUNK_SECONDS = 0.5


@dataclass(frozen=True)
class WavInfo:
    channels: int
    rate: int
    bits: int
    data_offset: int
    data_bytes: int

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def duration(self) -> float:
        return self.data_bytes / self.frame_bytes / self.rate


MAX_FMT_BYTES = 64  # the longest format chunk read (WAVE_FORMAT_EXTENSIBLE is 40); the rest is skipped
MAX_CHUNKS = 256  # chunks before the audio; real files have a handful (fmt, LIST, fact, bext, ...)


def open_wav(path: Path) -> tuple[object, WavInfo]:
    """Open the WAV once and check its header: (the open file, its info); every failure is one
    line saying what to do. The caller reads the audio from this same open file, so the file
    checked is the file read (a FIFO or device is refused before anything is read from it)."""
    convert = f"convert it with: sox {path.name} -b 16 -e signed-integer fixed.wav"
    try:
        f = os.fdopen(open_regular(path), "rb")
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file; check the path") from None
    except NotRegularFile as e:
        what = str(e).split(": ", 1)[-1]
        raise AudioError(f"{path}: is {what}, not a WAV file; save the recording to a file and pass that") from None
    except OSError as e:
        raise AudioError(f"{path}: cannot open ({e.strerror}); check its permissions") from None
    try:
        return f, _read_header(f, path, convert)
    except BaseException:
        f.close()
        raise


def read_wav_info(path: Path) -> WavInfo:
    """Parse and check the header (see open_wav)."""
    f, info = open_wav(Path(path))
    f.close()
    return info


def _read_header(f, path: Path, convert: str) -> WavInfo:
    size = os.fstat(f.fileno()).st_size
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AudioError(f"{path}: not a WAV file (no RIFF/WAVE header); {convert}")
    fmt = None
    for _ in range(MAX_CHUNKS):
        chunk = f.read(8)
        if len(chunk) < 8:
            break
        cid, clen = struct.unpack("<4sI", chunk)
        if cid == b"data":
            if fmt is None:
                raise AudioError(f"{path}: WAV data comes before its format chunk; {convert}")
            return _check(path, fmt, f.tell(), clen, size, convert)
        if f.tell() + clen > size:  # a declared size past the end: never read (or allocated)
            break
        if cid == b"fmt ":
            # at most MAX_FMT_BYTES are read, whatever size the chunk declares
            fmt = f.read(min(clen, MAX_FMT_BYTES))
            if len(fmt) < 16:
                break
            f.seek(clen - len(fmt), 1)
        else:
            f.seek(clen, 1)
        f.seek(clen & 1, 1)  # chunks are word aligned: an odd-sized chunk is followed by a pad byte
    else:
        raise AudioError(f"{path}: not a WAV file roomnote can read (more than {MAX_CHUNKS} chunks before the "
                         f"audio); {convert}")
    raise AudioError(f"{path}: truncated WAV (no complete format and data chunks); record or export it again")


def _check(path: Path, fmt: bytes, offset: int, data_bytes: int, size: int, convert: str) -> WavInfo:
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID starts with the tag
    if tag != PCM:
        raise AudioError(f"{path}: WAV is not integer PCM (format tag {tag:#x}); {convert}")
    if bits not in (8, 16, 24, 32) or not 1 <= channels <= 8 or not 8000 <= rate <= 192000:
        raise AudioError(f"{path}: unsupported WAV ({channels} channels, {rate} Hz, {bits} bit); {convert}")
    frame = channels * bits // 8
    if data_bytes == 0xFFFFFFFF or data_bytes == 0:  # streaming writers leave the size open
        data_bytes = size - offset
    if data_bytes < frame:
        raise AudioError(f"{path}: empty recording: the WAV holds no audio; check that the microphone recorded")
    if offset + data_bytes > size:
        have, want = (size - offset) / frame / rate, data_bytes / frame / rate
        raise AudioError(f"{path}: truncated WAV: the header promises {want:.1f} s but the file holds "
                         f"{max(have, 0):.1f} s; copy the file again from its source")
    return WavInfo(channels, rate, bits, offset, data_bytes - data_bytes % frame)


def _decode(raw: memoryview, bits: int) -> np.ndarray:
    """Little-endian PCM bytes -> float32 in int16 scale (what the recognisers expect)."""
    if bits == 8:
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) * 256
    if bits == 16:
        return np.frombuffer(raw, np.int16).astype(np.float32)
    if bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        v = b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16)
        v = np.where(v & 0x800000, v - 0x1000000, v)
        return v.astype(np.float32) / 256
    return np.frombuffer(raw, np.int32).astype(np.float32) / 65536


def wav_frames(path: str | Path, opened: tuple | None = None) -> Iterator[np.ndarray]:
    """Yield 16 kHz mono int16 frames of FRAME_SAMPLES (the last one zero-padded).

    opened: what open_wav returned, to read the very file that was checked (it is closed
    here); None opens path now. Each yielded frame is a buffer that is reused for the next
    frame: consumers copy what they keep. Every buffer is zeroed when the stream ends or is
    abandoned.
    """
    path = Path(path)
    f, info = opened or open_wav(path)
    chunk_bytes = int(info.rate * CHUNK_SECONDS) * info.frame_bytes
    raw = bytearray(chunk_bytes)
    frames = FrameAssembler(info.rate, info.channels)
    try:
        with f:
            f.seek(info.data_offset)
            left = info.data_bytes
            while left > 0:
                n = f.readinto(memoryview(raw)[: min(chunk_bytes, left)])
                if not n:
                    raise AudioError(f"{path}: WAV ended early while reading; copy the file again from its source")
                left -= n
                decoded = _decode(memoryview(raw)[:n], info.bits)
                try:
                    yield from frames.push(decoded)
                finally:
                    wipe(decoded)
            yield from frames.flush()
    finally:
        raw[:] = bytes(len(raw))
        frames.wipe()  # also when the consumer stops early
