"""The models manifest: which model files roomnote may load, and their SHA-256 (promise P6).

Each entry names where its files live:

- ``package:<module>/<subdir>``: data shipped inside an installed Python package (the
  package is located without importing it, so silero-vad's torch code never loads);
- ``provisioned:<dirname>``: a directory under ``models.dir`` that IT provisions.

A model is loaded only after every file listed for it hashes to its pinned value. A model
listed with no files is "unpinned" and refused until IT pins it (see README, Models).
"""
from __future__ import annotations

import hashlib
import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

SHIPPED_MANIFEST = "manifest.toml"


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the model's root directory
    sha256: str
    size: int


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "vad" | "asr" | "encoder" | "speaker"
    engine: str  # "silero" | "vosk" | "pocketsphinx" | "onnxruntime" | "ge2e"
    language: str  # "" when language-independent
    version: str
    licence: str
    source: str
    location: str
    files: tuple[ModelFile, ...]
    archive_sha256: str = ""  # provisioned models: the SHA-256 of the archive IT installs from ("" = none pinned)


@dataclass(frozen=True)
class Manifest:
    path: Path
    entries: dict[str, ModelEntry]

    def get(self, name: str) -> ModelEntry:
        if name not in self.entries:
            raise ModelError(f"{self.path}: no model named {name!r}; known models: {', '.join(self.entries)}")
        return self.entries[name]


def default_manifest_path() -> Path:
    """The manifest that ships with roomnote: models/manifest.toml of the source tree,
    or its installed copy under <prefix>/share/roomnote/models."""
    import sys

    candidates = [
        Path(__file__).resolve().parents[2] / "models" / SHIPPED_MANIFEST,
        Path(sys.prefix) / "share" / "roomnote" / "models" / SHIPPED_MANIFEST,
    ]
    for c in candidates:
        if c.is_file():
            return c
    raise ModelError("the roomnote models manifest is missing; reinstall roomnote or set models.manifest in the config")


def load_manifest(path: str | Path | None = None) -> Manifest:
    path = Path(path) if path else default_manifest_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: models manifest not found; check models.manifest in the config") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ModelError(f"{path}: cannot read models manifest ({e}); restore it from the roomnote package") from None
    entries = {}
    for i, m in enumerate(raw.get("model", [])):
        try:
            files = tuple(ModelFile(f["path"], f["sha256"].lower(), int(f["size"])) for f in m.get("files", []))
            archive = m.get("archive") or {}
            entry = ModelEntry(m["name"], m["kind"], m["engine"], m.get("language", ""), m["version"],
                               m["licence"], m["source"], m["location"], files,
                               str(archive.get("sha256", "")).lower())
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{path}: model entry {i + 1} is malformed (missing or bad {e}); see the comments at the top of the manifest") from None
        entries[entry.name] = entry
    return Manifest(path, entries)


def model_root(entry: ModelEntry, models_dir: str | Path) -> Path | None:
    """Where the entry's files are on this machine, or None when it is not installed."""
    scheme, _, rest = entry.location.partition(":")
    if scheme == "package":
        module, _, sub = rest.partition("/")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            return None
        root = Path(list(spec.submodule_search_locations)[0]) / sub
    elif scheme == "provisioned":
        root = Path(models_dir) / rest
    elif scheme == "built":
        # built by `make` from a package (the sentence encoder): provisioned copy first,
        # else the one next to the shipped manifest (models/ in the source tree)
        root = Path(models_dir) / rest
        if not root.is_dir():
            try:
                root = default_manifest_path().parent / rest
            except ModelError:
                return None
    else:
        raise ModelError(f"model {entry.name}: unknown location {entry.location!r}; use package:..., provisioned:... or built:...")
    return root if root.is_dir() else None


def is_installed(entry: ModelEntry, models_dir: str | Path) -> bool:
    return model_root(entry, models_dir) is not None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_model(entry: ModelEntry, models_dir: str | Path) -> Path:
    """Return the model's root directory after checking every pinned file, or raise."""
    root = model_root(entry, models_dir)
    if root is None:
        raise ModelError(f"model {entry.name} is not installed (expected at {entry.location}); "
                         "install it as the README's Models section says")
    if not entry.files:
        raise ModelError(f"model {entry.name} is not pinned in the manifest; run "
                         f"'roomnote models hash {root}' on a trusted copy and add its files to the manifest")
    for f in entry.files:
        p = root / f.path
        if not p.is_file():
            raise ModelError(f"model {entry.name}: file {p} is missing; reinstall the model")
        if p.stat().st_size != f.size or sha256_file(p) != f.sha256:
            raise ModelError(f"model {entry.name}: file {p} does not match its SHA-256 in {entry.location} "
                             "(tampered or corrupt); reinstall the model from a trusted source")
    return root


def hash_directory(root: Path) -> list[ModelFile]:
    """Every regular file under root with its hash, for pinning a model."""
    return [ModelFile(str(p.relative_to(root)), sha256_file(p), p.stat().st_size)
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]


def files_as_toml(files: list[ModelFile]) -> str:
    lines = ["files = ["]
    lines += [f'  {{ path = "{f.path}", sha256 = "{f.sha256}", size = {f.size} }},' for f in files]
    lines.append("]")
    return "\n".join(lines)
