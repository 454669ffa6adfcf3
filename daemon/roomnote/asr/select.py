"""Pick, verify and load the recognition engine the configuration asks for."""
from __future__ import annotations

import logging

from ..config import Config
from ..errors import ModelError
from ..models import Manifest, ModelEntry, is_installed, open_model
from .base import Transcriber

log = logging.getLogger("roomnote.asr")


def choose_asr_model(cfg: Config, manifest: Manifest) -> ModelEntry:
    """auto: vosk when a vosk model for the language is provisioned, else pocketsphinx."""
    lang, want = cfg.asr.language, cfg.asr.engine
    if cfg.asr.vosk_model:
        named = manifest.get(cfg.asr.vosk_model)  # an unknown name is an error, not a fallback
        if named.engine != "vosk" or named.language != lang:
            raise ModelError(f"asr.vosk_model: {named.name} is not a vosk model for language '{lang}'; "
                             "pick one from 'roomnote models list'")
    vosk = [e for e in manifest.entries.values() if e.kind == "asr" and e.engine == "vosk"
            and e.language == lang and cfg.asr.vosk_model in ("", e.name)]
    sphinx = [e for e in manifest.entries.values() if e.kind == "asr" and e.engine == "pocketsphinx"
              and e.language == lang]
    installed_vosk = [e for e in vosk if is_installed(e, cfg.models.dir)]
    if want in ("auto", "vosk") and installed_vosk:
        entry = installed_vosk[0]
        log.info("asr engine: vosk with model %s (%s: a vosk model for '%s' is provisioned)",
                 entry.name, want, lang)
        return entry
    if want == "vosk":
        names = ", ".join(e.name for e in vosk) or "none listed"
        raise ModelError(f"asr.engine is vosk but no vosk model for language '{lang}' is installed "
                         f"(manifest lists: {names}); provision one under {cfg.models.dir} or set asr.engine = \"auto\"")
    if not sphinx:
        raise ModelError(f"no recogniser for language '{lang}': pocketsphinx is English only and no vosk "
                         f"model for '{lang}' is installed; provision one under {cfg.models.dir}")
    log.info("asr engine: pocketsphinx with model %s (%s: no vosk model for '%s' is provisioned)",
             sphinx[0].name, want, lang)
    return sphinx[0]


def load_transcriber(cfg: Config, manifest: Manifest) -> Transcriber:
    entry = choose_asr_model(cfg, manifest)
    name = f"{entry.engine}/{entry.name}"
    if entry.engine == "vosk":
        from .vosk_engine import VoskTranscriber as Engine
    else:
        from .pocketsphinx_engine import PocketsphinxTranscriber as Engine
    # promise P6: the engine reads a private directory of the files that were hashed, through
    # the descriptors held since; both engines read everything while they are made
    with open_model(entry, cfg.models.dir) as vm, vm.directory() as root:
        return Engine(root, name)
