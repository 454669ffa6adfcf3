"""Shared fixtures: real models, real synthesised speech (flite, espeak-ng), real recordings."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from roomnote.config import Config, config_from_dict
from roomnote.synth import synthesise

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
REPO = Path(__file__).resolve().parents[1]


def librivox_references() -> dict[str, str]:
    """The LibriVox clips' reference transcripts, by file id."""
    refs = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, _, fileid = line.rpartition("(")
        refs[fileid.rstrip(")").strip()] = " ".join(w for w in text.split() if w not in ("<s>", "</s>"))
    return refs


@pytest.fixture(scope="session")
def default_config() -> Config:
    return Config()


@pytest.fixture(scope="session")
def korean_config() -> Config:
    return config_from_dict({"asr": {"language": "ko"}})


@pytest.fixture(scope="session")
def english_engines(default_config):
    from roomnote.pipeline import load_engines

    engines = load_engines(default_config)
    yield engines
    engines.close()


@pytest.fixture(scope="session")
def sphinx_config() -> Config:
    """pocketsphinx: the streaming English engine with partial results (whisper is the default)."""
    return config_from_dict({"asr": {"engine": "pocketsphinx"}})


@pytest.fixture(scope="session")
def sphinx_engines(sphinx_config):
    from roomnote.pipeline import load_engines

    engines = load_engines(sphinx_config)
    assert engines.transcriber.name == "pocketsphinx/pocketsphinx-en-us"
    yield engines
    engines.close()


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def make_speech(synth_dir):
    """Synthesise (voice, text) turns once per session and reuse the file."""
    cache: dict = {}

    def make(turns, name: str, gap: float = 0.7) -> Path:
        key = (tuple(turns), gap)
        if key not in cache:
            path = synth_dir / f"{name}.wav"
            synthesise(list(turns), path, gap=gap)
            cache[key] = path
        return cache[key]

    return make


def run_roomnote(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300):
    """Run the real console entry point in a child process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "roomnote", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
