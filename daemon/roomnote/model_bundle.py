"""`roomnote models install BUNDLE`: a vosk model archive (zip or tar) from a USB stick or a file share.

In this order, so nothing of an untrusted archive is unpacked:
1. the archive's SHA-256 is looked up among the manifest's `archive` pins (models/manifest.toml);
   no match, nothing is opened;
2. its entries are listed and checked: no absolute paths, no '..', no links leading out of the
   model, no devices or FIFOs, at most `max_bytes` unpacked and MAX_ENTRIES entries; a
   truncated or damaged archive is refused;
3. it is unpacked into a temporary directory beside the target (same filesystem), files 0644,
   directories 0755 (the archive's modes and owners are ignored);
4. when the manifest pins the model's files, each is hashed; then the directory is renamed
   into place (an older copy is replaced only after the new one is complete).
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError
from .models import Manifest, ModelEntry, check_only_pinned, files_as_toml, hash_directory, sha256_file
from .regular_file import NotRegularFile, open_regular
from .storage import fsync_dir

DEFAULT_MAX_BYTES = 4 << 30  # 4 GiB: the largest vosk model a box runs unpacks to about 1 GiB
MAX_ENTRIES = 100_000


class BundleError(ModelError):
    pass


@dataclass(frozen=True)
class Member:
    name: str  # relative to the model's root (the archive's single top directory stripped)
    kind: str  # "file" | "dir" | "symlink" | "hardlink"
    size: int
    target: str = ""  # links: the target, relative to the model root
    ref: object = None  # the archive's own member object


def install_bundle(bundle: Path, manifest: Manifest, models_dir: Path, *,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    bundle = Path(bundle)
    try:  # opened once: the archive unpacked is the one hashed, not whatever the path holds later
        src = os.fdopen(open_regular(bundle), "rb")
    except (FileNotFoundError, NotRegularFile):
        raise BundleError(f"{bundle}: no such file; pass the model archive (.zip or .tar.gz)") from None
    except OSError as e:
        raise BundleError(f"{bundle}: cannot open the archive ({e.strerror}); check its permissions") from None
    with src:
        return _install(bundle, src, manifest, models_dir, max_bytes)


def _install(bundle: Path, src, manifest: Manifest, models_dir: Path, max_bytes: int) -> list[str]:
    digest = _sha256_of(src)
    matches = [e.name for e in manifest.entries.values() if e.archive_sha256 == digest]
    if not matches:
        raise BundleError(f"{bundle}: its SHA-256 {digest} matches no model archive pinned in {manifest.path}; "
                          "copy the archive again from a trusted source, or pin it in the manifest (archive.sha256)")
    entry = manifest.get(matches[0])
    scheme, _, dirname = entry.location.partition(":")
    if scheme != "provisioned" or not dirname or "/" in dirname:
        raise BundleError(f"model {entry.name} is not installed from an archive (location {entry.location})")
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    done = [f"{bundle.name}: SHA-256 matches {entry.name} in the manifest"]
    with _open(bundle, src) as archive:
        members = archive.members()
        check_members(members, bundle, max_bytes)
        tmp = Path(tempfile.mkdtemp(dir=models_dir, prefix=f".{dirname}.installing-"))
        try:
            os.chmod(tmp, 0o755)
            archive.unpack(members, tmp)
            _verify_files(entry, tmp)
            if _sha256_of(src) != digest:  # written to in place since it was hashed
                raise BundleError(f"{bundle}: the archive changed while it was being installed; copy it again "
                                  "from a trusted source, nothing was installed")
            _swap_into_place(tmp, models_dir / dirname)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    target = models_dir / dirname
    n = sum(1 for m in members if m.kind != "dir")
    if entry.files:
        done.append(f"installed {entry.name} in {target}: {n} files, {len(entry.files)} verified against the manifest")
    else:
        done.append(f"installed {entry.name} in {target}: {n} files from the verified archive. Its files are not "
                    "pinned yet, so roomnote will not load it (P6): add this block to the model's entry in the "
                    "manifest (models.manifest):")
        done.append(files_as_toml(hash_directory(target)))
    return done


def check_members(members: list[Member], bundle: Path, max_bytes: int) -> None:
    if len(members) > MAX_ENTRIES:
        raise BundleError(f"{bundle}: {len(members)} entries, more than {MAX_ENTRIES}; not a model archive")
    sizes = {m.name: m.size for m in members if m.kind == "file"}
    # a hard link is unpacked as a copy of its target: it counts as much again
    total = sum(sizes.values()) + sum(sizes.get(m.target or "", 0) for m in members if m.kind == "hardlink")
    if total > max_bytes:
        raise BundleError(f"{bundle}: unpacks to {total / (1 << 20):.0f} MiB, more than the limit of {max_bytes / (1 << 20):.0f} MiB "
                          "(--max-size-mb); not installed")
    files = {m.name for m in members if m.kind == "file"}
    for m in members:
        if m.kind in ("symlink", "hardlink"):
            if m.target is None:
                raise BundleError(f"{bundle}: entry {m.name!r} is a link that leads out of the model; refused")
            if m.kind == "hardlink" and m.target not in files:
                raise BundleError(f"{bundle}: entry {m.name!r} is a hard link to {m.target!r}, which is not a file of "
                                  "the model; refused")
    if not [m for m in members if m.kind == "file"]:
        raise BundleError(f"{bundle}: the archive holds no files")


def _safe_name(raw: str, bundle: Path) -> list[str]:
    """The parts of an entry's path, or BundleError for absolute paths and traversal."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise BundleError(f"{bundle}: entry {raw!r} has an absolute path; refused, nothing was installed")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BundleError(f"{bundle}: entry {raw!r} leads outside the model directory ('..'); refused, nothing "
                          "was installed")
    return parts


def _strip_top(entries: list[tuple[list[str], str, int, str, object]], bundle: Path) -> list[Member]:
    """vosk archives hold one top directory (vosk-model-small-en-us-0.15/): the model is inside it."""
    tops = {parts[0] for parts, *_ in entries if parts}
    strip = len(tops) == 1 and any(len(parts) > 1 for parts, *_ in entries)
    out = []
    for parts, kind, size, target, ref in entries:
        rel = parts[1:] if strip else parts
        if not rel:
            continue
        name = "/".join(rel)
        if kind in ("symlink", "hardlink"):
            target = _link_target(name, target, kind, strip, bundle)
        out.append(Member(name, kind, size, target, ref))
    return out


def _link_target(name: str, target: str, kind: str, strip: bool, bundle: Path) -> str | None:
    """A link's target relative to the model root, or None when it leads out of it."""
    if target.startswith("/"):
        return None
    if kind == "hardlink":  # tar: relative to the archive's root
        parts = [p for p in target.split("/") if p not in ("", ".")]
        if strip:
            parts = parts[1:]
    else:  # symlink: relative to the link's own directory
        parts = [p for p in posixpath.dirname(name).split("/") if p] + [p for p in target.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    for p in parts:
        if p == "..":
            if not resolved:
                return None
            resolved.pop()
        else:
            resolved.append(p)
    return "/".join(resolved) if resolved else None


class _Tar:
    def __init__(self, path: Path, src):
        self.path = path
        self.tf = tarfile.open(fileobj=src, mode="r:*")

    def members(self) -> list[Member]:
        entries = []
        try:
            for ti in self.tf:  # reads the whole archive: a truncated one fails here
                parts = _safe_name(ti.name, self.path)
                if ti.isdir():
                    kind = "dir"
                elif ti.isreg():
                    kind = "file"
                elif ti.issym():
                    kind = "symlink"
                elif ti.islnk():
                    kind = "hardlink"
                else:
                    raise BundleError(f"{self.path}: entry {ti.name!r} is a device, FIFO or other special file; refused")
                entries.append((parts, kind, ti.size if kind == "file" else 0, ti.linkname, ti))
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise _damaged(self.path, e) from None
        return _strip_top(entries, self.path)

    def unpack(self, members: list[Member], dest: Path) -> None:
        try:
            _unpack(members, dest, lambda m: self.tf.extractfile(m.ref))
        except (tarfile.TarError, EOFError, zlib.error) as e:
            raise _damaged(self.path, e) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.tf.close()


class _Zip:
    def __init__(self, path: Path, src):
        self.path = path
        self.zf = zipfile.ZipFile(src)

    def members(self) -> list[Member]:
        entries = []
        for zi in self.zf.infolist():
            parts = _safe_name(zi.filename, self.path)
            mode = (zi.external_attr >> 16) & 0o170000
            if zi.is_dir():
                kind = "dir"
            elif mode == 0o120000:  # a symlink stored by Info-ZIP: the target is the content
                kind = "symlink"
            elif mode in (0, 0o100000):
                kind = "file"
            else:
                raise BundleError(f"{self.path}: entry {zi.filename!r} is a device, FIFO or other special file; refused")
            target = self.zf.read(zi).decode("utf-8", "replace") if kind == "symlink" else ""
            entries.append((parts, kind, zi.file_size if kind == "file" else 0, target, zi))
        return _strip_top(entries, self.path)

    def unpack(self, members: list[Member], dest: Path) -> None:
        try:
            _unpack(members, dest, lambda m: self.zf.open(m.ref))
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            raise _damaged(self.path, e) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zf.close()


def _damaged(path: Path, e: BaseException) -> BundleError:
    return BundleError(f"{path}: the archive is truncated or damaged ({e.__class__.__name__}); copy it again, "
                       "nothing was installed")


def _open(path: Path, src):
    """The archive in the open file src (path is for messages only)."""
    is_zip = zipfile.is_zipfile(src)
    src.seek(0)
    if is_zip:
        try:
            return _Zip(path, src)
        except zipfile.BadZipFile as e:
            raise _damaged(path, e) from None
    try:
        return _Tar(path, src)
    except tarfile.ReadError:
        raise BundleError(f"{path}: not a zip or tar archive (or a truncated one); pass the model archive as "
                          "distributed") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise _damaged(path, e) from None


def _unpack(members: list[Member], dest: Path, opener) -> None:
    written: dict[str, Path] = {}
    for m in members:
        path = dest.joinpath(*m.name.split("/"))
        # every parent is a real directory we made: nothing is written through a link
        parent = dest
        for part in m.name.split("/")[:-1]:
            parent = parent / part
            if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
                raise BundleError(f"entry {m.name!r} is inside a link or a file of the archive; refused")
            parent.mkdir(mode=0o755, exist_ok=True)
        if m.kind == "dir":
            if path.is_symlink():
                raise BundleError(f"entry {m.name!r} is a directory over a link; refused")
            path.mkdir(mode=0o755, exist_ok=True)
        elif m.kind == "file":
            _write_member(path, opener(m), m.size, m.name)
            written[m.name] = path
        elif m.kind == "hardlink":  # a copy of a file already unpacked
            shutil.copyfile(written[m.target], path)
            os.chmod(path, 0o644)
        elif m.kind == "symlink":
            os.symlink(os.path.relpath(dest / m.target, path.parent), path)


def _write_member(path: Path, src, size: int, name: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    n = 0
    with src, os.fdopen(fd, "wb") as out:
        while block := src.read(1 << 20):
            n += len(block)
            if n > size:
                raise BundleError(f"entry {name!r} holds more data than its header says; refused")
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if n != size:
        raise BundleError(f"entry {name!r} ends early ({n} of {size} bytes): the archive is truncated; copy it again")
    os.chmod(path, 0o644)


def _sha256_of(src) -> str:
    """The SHA-256 of the whole open file; the file is left at its start."""
    src.seek(0)
    h = hashlib.sha256()
    while block := src.read(1 << 20):
        h.update(block)
    src.seek(0)
    return h.hexdigest()


def _verify_files(entry: ModelEntry, root: Path) -> None:
    if entry.files:  # a model directory holds exactly its pinned files (models.check_only_pinned)
        try:
            check_only_pinned(entry, root)
        except ModelError as e:
            raise BundleError(f"{e}; nothing was installed") from None
    for f in entry.files:
        p = root / f.path
        if not p.is_file() or p.is_symlink():
            raise BundleError(f"model {entry.name}: the archive has no file {f.path}, which the manifest pins; "
                              "nothing was installed")
        if p.stat().st_size != f.size or sha256_file(p) != f.sha256:
            raise BundleError(f"model {entry.name}: {f.path} in the archive does not match its SHA-256 in the "
                              "manifest; nothing was installed")


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename the complete new copy into place; an older copy is moved aside first, then removed."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    fsync_dir(target.parent)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
