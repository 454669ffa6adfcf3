"""Pick, verify and load the recognition engine the configuration asks for."""
from __future__ import annotations

import logging

from ..config import Config
from ..errors import ModelError
from ..models import Manifest, ModelEntry, is_installed, open_model
from .base import Transcriber

log = logging.getLogger("roomnote.asr")

DEFAULT_WHISPER = "whisper-tiny-en"  # embedded: its weights come with a package


def choose_asr_model(cfg: Config, manifest: Manifest) -> ModelEntry:
    """auto: whisper for English (asr.whisper_model, else the embedded tiny.en); vosk when
    asr.vosk_model names one or a vosk model for the language is provisioned; else pocketsphinx."""
    lang, want = cfg.asr.language, cfg.asr.engine
    if cfg.asr.vosk_model:
        named = manifest.get(cfg.asr.vosk_model)  # an unknown name is an error, not a fallback
        if named.engine != "vosk" or named.language != lang:
            raise ModelError(f"asr.vosk_model: {named.name} is not a vosk model for language '{lang}'; "
                             "pick one from 'roomnote models list'")
    whisper = _choose_whisper(cfg, manifest) if want == "whisper" or (
        want == "auto" and lang == "en" and not cfg.asr.vosk_model) else None
    if whisper is not None:
        return whisper
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


def _choose_whisper(cfg: Config, manifest: Manifest) -> ModelEntry | None:
    """The whisper model asked for; None when auto finds the default one not installed."""
    lang, want = cfg.asr.language, cfg.asr.engine
    name = cfg.asr.whisper_model or DEFAULT_WHISPER
    entry = manifest.get(name)  # an unknown name is an error, not a fallback
    if entry.engine != "whisper" or entry.language not in (lang, ""):
        raise ModelError(f"asr.whisper_model: {entry.name} is not a whisper model for language '{lang}'; "
                         "pick one from 'roomnote models list'")
    if not is_installed(entry, cfg.models.dir):
        if want == "auto" and not cfg.asr.whisper_model:
            log.warning("asr engine: whisper model %s is not installed (%s); falling back", name, entry.location)
            return None
        raise ModelError(f"whisper model {name} is not installed (expected at {entry.location}); "
                         + ("run 'roomnote models assemble " + name + "'" if entry.location.startswith("built:")
                            else "reinstall roomnote's packages (make venv)"))
    log.info("asr engine: whisper with model %s (%s, language '%s')", entry.name, want, lang)
    return entry


def load_transcriber(cfg: Config, manifest: Manifest) -> Transcriber:
    entry = choose_asr_model(cfg, manifest)
    name = f"{entry.engine}/{entry.name}"
    if entry.engine == "whisper":
        from .whisper_engine import WhisperTranscriber

        def Engine(root, name):
            return WhisperTranscriber(root, name, cpu_threads=cfg.asr.cpu_threads, language=cfg.asr.language)
    elif entry.engine == "vosk":
        from .vosk_engine import VoskTranscriber as Engine
    else:
        from .pocketsphinx_engine import PocketsphinxTranscriber as Engine
    # promise P6: the engine reads a private directory of the files that were hashed, through
    # the descriptors held since; every engine reads all its files while it is made
    with open_model(entry, cfg.models.dir) as vm, vm.directory() as root:
        return Engine(root, name)
