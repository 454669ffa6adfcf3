"""The models manifest: which model files roomnote may load, and their SHA-256 (promise P6).

Each entry names where its files live:

- ``package:<module>/<subdir>``: data shipped inside an installed Python package (the
  package is located without importing it, so silero-vad's torch code never loads);
- ``provisioned:<dirname>``: a directory under ``models.dir`` that IT provisions.

A model is loaded only after every file listed for it hashes to its pinned value. A model
listed with no files is "unpinned" and refused until IT pins it (see README, Models).

Loaders never open a model file by path after the check (a file swapped in between would be
loaded): `open_model` opens each pinned file once, hashes it through that descriptor and
keeps it open. A loader then takes either

- the bytes: `vm.read_bytes("silero_vad.onnx")` reads the held descriptor and hashes exactly
  the bytes it returns (onnxruntime, tokenizers, the voice encoder, CTranslate2's `files=`);
- a directory: `with vm.directory() as d:` is a private directory holding exactly the pinned
  files, each a link to its held descriptor (/proc/<pid>/fd/N), for engines that take a path
  (pocketsphinx, vosk); on leaving it the files are checked unchanged (size, mtime, ctime of
  the held inode), so an in-place write during the load refuses the model too.

A model's directory holds exactly its pinned files (plus what the entry's `ignore` patterns
allow, for packages whose data sits beside their code), or the model is refused.
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import importlib.util
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import ModelError
from .regular_file import NotRegularFile, open_regular, read_regular

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
    ignore: tuple[str, ...] = ()  # glob patterns of other files allowed in the directory (never loaded)


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
        raw = tomllib.loads(read_regular(path).decode("utf-8-sig"))
    except FileNotFoundError:
        raise ModelError(f"{path}: models manifest not found; check models.manifest in the config") from None
    except UnicodeDecodeError as e:
        raise ModelError(f"{path}: the models manifest is not UTF-8 text (byte {e.start}); restore it from the "
                         "roomnote package") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ModelError(f"{path}: cannot read models manifest ({e}); restore it from the roomnote package") from None
    entries = {}
    for i, m in enumerate(raw.get("model", [])):
        try:
            files = tuple(ModelFile(f["path"], f["sha256"].lower(), int(f["size"])) for f in m.get("files", []))
            if any(f.path.startswith("/") or ".." in f.path.split("/") for f in files):
                raise ValueError("path (absolute or '..')")
            archive = m.get("archive") or {}
            ignore = m.get("ignore", [])
            if not isinstance(ignore, list) or not all(isinstance(g, str) for g in ignore):
                raise ValueError("ignore")
            entry = ModelEntry(m["name"], m["kind"], m["engine"], m.get("language", ""), m["version"],
                               m["licence"], m["source"], m["location"], files,
                               str(archive.get("sha256", "")).lower(), tuple(ignore))
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
    """Check every pinned file and that nothing else is in the directory; return the root.

    For `roomnote models verify` and install checks only: a loader uses `open_model`, so
    what it loads is what was hashed.
    """
    with open_model(entry, models_dir) as vm:
        return vm.root


@dataclass
class VerifiedModel:
    """A model whose pinned files are open, hashed through those descriptors (see the module doc)."""

    entry: ModelEntry
    root: Path
    fds: dict[str, int] = field(default_factory=dict)  # pinned path -> open descriptor
    stats: dict[str, tuple] = field(default_factory=dict)  # pinned path -> identity when hashed

    def read_bytes(self, rel: str) -> bytes:
        """The file's content read from the held descriptor, hashed again: these exact bytes match the pin."""
        pin = self._pin(rel)
        fd = self.fds[rel]
        data = bytearray(pin.size)
        view, got = memoryview(data), 0
        while got < pin.size:
            n = os.preadv(fd, [view[got:]], got)
            if n <= 0:
                break
            got += n
        if got != pin.size or hashlib.sha256(data).hexdigest() != pin.sha256:
            raise self._changed(rel)
        return bytes(data)

    @contextlib.contextmanager
    def directory(self):
        """A private directory holding exactly the pinned files, each linked to its held descriptor."""
        if not os.path.exists(f"/proc/{os.getpid()}/fd/{next(iter(self.fds.values()))}"):
            raise ModelError(f"model {self.entry.name}: /proc is not mounted, so the verified files cannot be "
                             "handed to the engine; run roomnote with /proc available")
        view = Path(tempfile.mkdtemp(prefix=f"roomnote-model-{os.getpid()}-"))  # mode 0700: ours only
        try:
            for rel, fd in self.fds.items():
                link = view / rel
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(f"/proc/{os.getpid()}/fd/{fd}", link)
            yield view
            self.check_unchanged()
        finally:
            shutil.rmtree(view, ignore_errors=True)

    def check_unchanged(self) -> None:
        """ModelError when a held file was written to since it was hashed (its ctime moves)."""
        for rel, fd in self.fds.items():
            if _identity(os.fstat(fd)) != self.stats[rel]:
                raise self._changed(rel)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def __enter__(self) -> "VerifiedModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _pin(self, rel: str) -> ModelFile:
        for f in self.entry.files:
            if f.path == rel:
                return f
        raise ModelError(f"model {self.entry.name}: {rel} is not one of its pinned files")

    def _changed(self, rel: str) -> ModelError:
        return ModelError(f"model {self.entry.name}: file {self.root / rel} changed after it was checked against "
                          "its SHA-256 (tampered with while loading); reinstall the model from a trusted source")


def _identity(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def open_model(entry: ModelEntry, models_dir: str | Path) -> VerifiedModel:
    """Open and hash every pinned file of the model (P6), refusing unlisted files; ModelError otherwise."""
    root = model_root(entry, models_dir)
    if root is None:
        raise ModelError(f"model {entry.name} is not installed (expected at {entry.location}); "
                         "install it as the README's Models section says")
    if not entry.files:
        raise ModelError(f"model {entry.name} is not pinned in the manifest; run "
                         f"'roomnote models hash {root}' on a trusted copy and add its files to the manifest")
    check_only_pinned(entry, root)
    vm = VerifiedModel(entry, root)
    try:
        for f in entry.files:
            p = root / f.path
            try:
                fd = open_regular(p)
            except (FileNotFoundError, NotADirectoryError):
                raise ModelError(f"model {entry.name}: file {p} is missing; reinstall the model") from None
            except NotRegularFile as e:
                raise ModelError(f"model {entry.name}: {e}, not a model file; reinstall the model") from None
            except OSError as e:
                raise ModelError(f"model {entry.name}: cannot open {p} ({e.strerror}); check its permissions") from None
            vm.fds[f.path] = fd
            before = _identity(os.fstat(fd))
            if before[2] != f.size or _sha256_fd(fd) != f.sha256 or _identity(os.fstat(fd)) != before:
                raise ModelError(f"model {entry.name}: file {p} does not match its SHA-256 in {entry.location} "
                                 "(tampered or corrupt); reinstall the model from a trusted source")
            vm.stats[f.path] = before
        return vm
    except BaseException:
        vm.close()
        raise


def check_only_pinned(entry: ModelEntry, root: Path) -> None:
    """ModelError naming the first entry under root that is neither pinned nor allowed by `ignore`.

    Engines read whatever their directory holds (an extra en-us/feature_transform changes
    what pocketsphinx decodes), so a model directory holds exactly its pinned files.
    """
    pinned = {f.path for f in entry.files}
    dirs = {str(parent) for p in pinned for parent in PurePosixPath(p).parents if str(parent) != "."}
    extra = []
    for top, dirnames, filenames in os.walk(root):  # does not follow links to directories
        rel_top = os.path.relpath(top, root)
        for name in sorted(dirnames + filenames):
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            if rel in pinned or any(fnmatch.fnmatchcase(rel, g) for g in entry.ignore):
                continue
            if name in dirnames and rel in dirs and not os.path.islink(os.path.join(top, name)):
                continue  # a directory that holds pinned files
            if name in dirnames and any(fnmatch.fnmatchcase(rel + "/x", g) for g in entry.ignore):
                continue  # an ignored directory (e.g. __pycache__/*)
            extra.append(rel)
        dirnames[:] = [d for d in dirnames if (d if rel_top == "." else f"{rel_top}/{d}") in dirs]
    if extra:
        more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
        raise ModelError(f"model {entry.name}: {root} holds {extra[0]!r}{more}, which the manifest does not pin; "
                         "a model directory must hold exactly its pinned files: remove the extra files or "
                         "reinstall the model")


def _sha256_fd(fd: int) -> str:
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view, pos = memoryview(buf), 0
    while n := os.preadv(fd, [view], pos):
        h.update(view[:n])
        pos += n
    return h.hexdigest()


def hash_directory(root: Path) -> list[ModelFile]:
    """Every regular file under root with its hash, for pinning a model."""
    return [ModelFile(str(p.relative_to(root)), sha256_file(p), p.stat().st_size)
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]


def files_as_toml(files: list[ModelFile]) -> str:
    lines = ["files = ["]
    lines += [f'  {{ path = "{f.path}", sha256 = "{f.sha256}", size = {f.size} }},' for f in files]
    lines.append("]")
    return "\n".join(lines)
