"""The therapist's enrolled voice profile: on the box only, encrypted at rest.

A voice profile is a biometric identifier, so it is treated like audio: it never leaves the
box, never appears in a note, a log line or an error message, and is only ever written
encrypted (AES-256-GCM with a key file of its own, mode 0600, created on first enrolment).
``roomnote enroll --delete`` overwrites and removes the profile and removes its key, so a
copy of the ciphertext left on flash storage cannot be read afterwards either.

File format: ``RNVP1\\n`` + publish.keys.seal (12-byte nonce + AES-GCM) of the 256 little-endian
float32 embedding + float64 seconds of speech, with the header as associated data.
"""
from __future__ import annotations

import logging
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from ..config import Config, SpeakersConfig
from ..errors import RoomnoteError
from ..regular_file import open_regular
from ..storage import write_atomic
from .clustering import agglomerate, centroid
from .encoder import VoiceEncoder

log = logging.getLogger("roomnote")

HEADER = b"RNVP1\n"
DIM = 256
MIN_ENROL_SPEECH_S = 10.0  # about 30 s is asked for; less than 10 s of speech is refused
ONE_VOICE_SHARE = 0.8  # at least this share of the 1.6 s windows must group as one voice


class ProfileError(RoomnoteError):
    pass


@dataclass
class VoiceProfile:
    embedding: np.ndarray  # (256,) unit vector
    speech_s: float

    def wipe(self) -> None:
        self.embedding.fill(0)


# --- storage ------------------------------------------------------------------------------

def save_profile(profile: VoiceProfile, cfg: SpeakersConfig) -> Path:
    from ..publish.keys import seal

    key = _key(cfg, create=True)
    plain = bytearray(profile.embedding.astype("<f4").tobytes() + struct.pack("<d", profile.speech_s))
    try:
        blob = HEADER + seal(key, bytes(plain), HEADER)
    finally:
        plain[:] = bytes(len(plain))
    path = Path(cfg.profile)
    _private_dir(path.parent, "speakers.profile")
    try:
        write_atomic(path, blob)  # mode 0600
    except OSError as e:
        raise ProfileError(f"{path}: cannot write the voice profile ({e.strerror}); check speakers.profile") from None
    return path


def load_profile(cfg: SpeakersConfig) -> VoiceProfile | None:
    """The enrolled profile, or None when the therapist has not enrolled."""
    from cryptography.exceptions import InvalidTag

    from ..publish.keys import unseal

    path = Path(cfg.profile)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ProfileError(f"{path}: cannot read the voice profile ({e.strerror}); check its permissions") from None
    key = _key(cfg, create=False)
    fix = "run 'roomnote enroll --delete' and enrol again"
    if key is None:
        raise ProfileError(f"{path}: the voice profile's key {cfg.key} is missing; {fix}")
    if not blob.startswith(HEADER) or len(blob) < len(HEADER) + 12 + 16:
        raise ProfileError(f"{path}: not a roomnote voice profile; {fix}")
    try:
        plain = bytearray(unseal(key, blob[len(HEADER):], HEADER))
    except InvalidTag:
        raise ProfileError(f"{path}: the voice profile does not decrypt with {cfg.key} (wrong key or damaged file); {fix}") from None
    if len(plain) != DIM * 4 + 8:
        raise ProfileError(f"{path}: the voice profile has the wrong size; {fix}")
    emb = np.frombuffer(bytes(plain[:DIM * 4]), "<f4").astype(np.float32)
    (speech_s,) = struct.unpack("<d", plain[DIM * 4:])
    plain[:] = bytes(len(plain))
    return VoiceProfile(emb, speech_s)


def delete_profile(cfg: SpeakersConfig) -> list[str]:
    """Overwrite and remove the profile, remove its key. Returns what was removed."""
    removed = []
    path = Path(cfg.profile)
    if path.is_file():
        # O_NOFOLLOW and the size of the open file: zeros go over the profile, never a file a link points at
        with os.fdopen(os.open(path, os.O_RDWR | os.O_NOFOLLOW), "r+b") as f:  # best effort on flash
            f.write(bytes(os.fstat(f.fileno()).st_size))
            f.flush()
            os.fsync(f.fileno())
        path.unlink()
        removed.append("voice profile")
    key = Path(cfg.key)
    if key.is_file():
        key.unlink()
        removed.append("its key")
    return removed


def check_storage(cfg: SpeakersConfig) -> None:
    """Before recording: the profile and its key can be written (their directories exist, 0700)."""
    for path, name in ((Path(cfg.profile), "speakers.profile"), (Path(cfg.key), "speakers.key")):
        _private_dir(path.parent, name)
        if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
            raise ProfileError(f"{path}: not writable by this user; run 'roomnote enroll' as the service's user "
                               f"(sudo -u roomnote roomnote enroll ...) or check {name} in the config")


def _key(cfg: SpeakersConfig, create: bool) -> bytes | None:
    path = Path(cfg.key)
    if not path.exists():
        if not create:
            return None
        from ..publish.keys import write_secret

        _private_dir(path.parent, "speakers.key")
        try:
            write_secret(path, os.urandom(32))
        except OSError as e:
            raise ProfileError(f"{path}: cannot create the voice profile key ({e.strerror}); check speakers.key") from None
        log.info("voice profile key created (mode 0600)")
    try:  # one open: the mode checked is the mode of the key read
        with os.fdopen(open_regular(path), "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            key = f.read(33)
    except OSError as e:
        raise ProfileError(f"{path}: cannot read the voice profile key ({e.strerror or e}); check speakers.key") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ProfileError(f"{path}: the voice profile key is readable by others (mode {mode & 0o777:o}); "
                           f"run 'chmod 600 {path}'")
    if len(key) != 32:
        raise ProfileError(f"{path}: the voice profile key is damaged; run 'roomnote enroll --delete' and enrol again")
    return key


def _private_dir(path: Path, key: str) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise ProfileError(f"{path}: cannot create the directory ({e.strerror}); check {key} in the config") from None


# --- enrolment ------------------------------------------------------------------------------

def enroll_from_frames(frames: Iterable[np.ndarray], vad, encoder: VoiceEncoder, cfg: Config) -> VoiceProfile:
    """The therapist's voice from a recording of them speaking alone (about 30 s).

    frames: 16 kHz frames of int16-scale samples (as wav_frames or the microphone give them).
    Only what the VAD judges to be speech is used; every audio buffer is zeroed afterwards.
    """
    from ..audio.vad import SpeechAudio, SpeechGate

    gate = SpeechGate(cfg.vad.threshold, cfg.vad.min_silence_ms, cfg.vad.pad_ms, cfg.vad.max_segment_s)
    vad.reset()
    chunks: list[np.ndarray] = []

    def keep(events: list) -> None:
        chunks.extend(ev.pcm for ev in events if isinstance(ev, SpeechAudio))

    speech = np.zeros(0, np.float32)
    try:
        for frame in frames:
            keep(gate.push(frame, vad(frame)))
        keep(gate.flush())
        if chunks:  # straight into float: no int16 copy of the speech is left behind (P1)
            speech = np.concatenate(chunks, dtype=np.float32)
            speech /= 32768
        speech_s = len(speech) / 16000
        if speech_s < MIN_ENROL_SPEECH_S:
            raise ProfileError(f"only {speech_s:.1f} s of speech was heard; record the therapist speaking "
                               f"alone for about 30 seconds (at least {MIN_ENROL_SPEECH_S:.0f} s) and enrol again")
        partials, _ = encoder.embed_partials(speech, 80)
        groups = agglomerate(partials, cfg.speakers.same_voice - 0.1)  # single windows vary more
        main = max(groups, key=len)
        emb = centroid(partials[main])
        partials.fill(0)
        if len(main) < ONE_VOICE_SHARE * sum(map(len, groups)):
            emb.fill(0)
            raise ProfileError("the recording does not sound like one voice throughout; record the therapist "
                               "speaking alone, in a quiet room, and enrol again")
        return VoiceProfile(emb.astype(np.float32), round(speech_s, 1))
    finally:
        for c in chunks:  # whatever the outcome, refusals and errors included (P1)
            c.fill(0)
        speech.fill(0)
        gate.flush()  # its pre-roll
        vad.wipe()
