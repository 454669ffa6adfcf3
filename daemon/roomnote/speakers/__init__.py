"""Who said what, on the box: voice embeddings, therapist enrolment, segment labels.

- encoder.py: resemblyzer's GE2E voice encoder run in numpy (no torch), weights pinned (P6)
- attribution.py: SpeakerAttributor, the streaming API the recognition loop calls
- clustering.py: grouping voice vectors into voices
- profile.py: the therapist's enrolled voice, encrypted at rest, never published
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..config import Config, SpeakersConfig
from ..models import Manifest, open_model
from .attribution import CLIENT, OTHER, THERAPIST, UNKNOWN, SpeakerAttributor
from .encoder import VoiceEncoder
from .profile import VoiceProfile, delete_profile, enroll_from_frames, load_profile, save_profile

log = logging.getLogger("roomnote")

MODEL_NAME = "resemblyzer-ge2e"

__all__ = ["CLIENT", "OTHER", "THERAPIST", "UNKNOWN", "MODEL_NAME", "SpeakerAttributor", "SpeakerModel",
           "VoiceEncoder", "VoiceProfile", "delete_profile", "enroll_from_frames", "load_encoder",
           "load_profile", "load_speaker_model", "save_profile"]


@dataclass
class SpeakerModel:
    """What a session needs to attribute speech: the encoder and the enrolled profile, if any."""

    encoder: VoiceEncoder
    cfg: SpeakersConfig
    profile: VoiceProfile | None

    def new_session(self) -> SpeakerAttributor:
        return SpeakerAttributor(self.encoder, self.cfg, self.profile.embedding if self.profile else None)

    def wipe(self) -> None:
        if self.profile is not None:
            self.profile.wipe()


def load_encoder(cfg: Config, manifest: Manifest) -> VoiceEncoder:
    """The voice encoder, after its weights match the manifest (P6)."""
    from .encoder import WEIGHTS_FILE

    with open_model(manifest.get(MODEL_NAME), cfg.models.dir) as vm:  # loaded from the bytes that were hashed
        return VoiceEncoder(vm.read_bytes(WEIGHTS_FILE))


def load_speaker_model(cfg: Config, manifest: Manifest) -> SpeakerModel:
    encoder = load_encoder(cfg, manifest)
    profile = load_profile(cfg.speakers)
    log.info("speakers: %s", "therapist profile enrolled" if profile else
             "no therapist profile: voices are labelled 'speaker 1', 'speaker 2'")
    return SpeakerModel(encoder, cfg.speakers, profile)
