"""Promise P6, hostile cases (issue 19, items 9, 10, 15): what is loaded is what was hashed,
a model directory holds exactly its pinned files, and odd files give one clear line."""
from __future__ import annotations

import os
import shutil
import threading
import time

import numpy as np
import pytest

from conftest import run_roomnote
from roomnote.asr.select import load_transcriber
from roomnote.audio.vad import MODEL_FILE, load_vad
from roomnote.config import config_from_dict
from roomnote.errors import ModelError
from roomnote.models import load_manifest, model_root, open_model, verify_model

SPHINX = "pocketsphinx-en-us"


def _provisioned_copy(tmp_path, name: str, dirname: str):
    """A models dir holding a copy of a shipped model, and a manifest that points there."""
    manifest = load_manifest()
    entry = manifest.get(name)
    src = model_root(entry, "/nonexistent")
    models = tmp_path / "models"
    shutil.copytree(src, models / dirname, ignore=shutil.ignore_patterns(*entry.ignore))
    text = manifest.path.read_text().replace(f'location = "{entry.location}"', f'location = "provisioned:{dirname}"')
    (tmp_path / "manifest.toml").write_text(text)
    cfg = tmp_path / "roomnote.toml"
    cfg.write_text(f'[models]\ndir = "{models}"\nmanifest = "{tmp_path / "manifest.toml"}"\n')
    return models / dirname, load_manifest(tmp_path / "manifest.toml"), cfg


def _scores(vad, frames) -> list[float]:
    vad.reset()
    return [vad(f) for f in frames]


def test_a_vad_model_swapped_while_loading_is_never_loaded(tmp_path):
    """A swapper renames a broken file over the model and back as fast as it can, while the VAD
    is loaded again and again: every load is either refused or the pinned model, never the other."""
    root, manifest, _ = _provisioned_copy(tmp_path, "silero-vad", "silero")
    good = tmp_path / "good.onnx"  # beside the model directory, on the same filesystem
    os.link(root / MODEL_FILE, good)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\0" * good.stat().st_size)  # same size: only the hash tells them apart
    rng = np.random.default_rng(1)
    frames = [rng.integers(-3000, 3000, 512).astype(np.int16) for _ in range(8)]
    reference = _scores(load_vad(manifest, tmp_path / "models"), frames)
    stop = threading.Event()

    def swap():
        i = 1  # bad first: the file in place is the good one
        while not stop.is_set():
            tmp = tmp_path / f"swap{i % 2}"
            tmp.unlink(missing_ok=True)
            os.link(bad if i % 2 else good, tmp)
            os.replace(tmp, root / MODEL_FILE)
            time.sleep(0.0003)  # lets the loader run between swaps
            i += 1

    t = threading.Thread(target=swap)
    t.start()
    loaded = refused = 0
    try:
        for _ in range(40):
            try:
                vad = load_vad(manifest, tmp_path / "models")
            except ModelError as err:
                assert "does not match its SHA-256" in str(err) or "changed after it was checked" in str(err)
                refused += 1
                continue
            assert _scores(vad, frames) == reference  # the pinned model, bit for bit
            loaded += 1
    finally:
        stop.set()
        t.join()
    assert loaded + refused == 40, (loaded, refused)


def test_a_file_replaced_after_its_check_is_not_what_the_engine_reads(tmp_path):
    root, manifest, _ = _provisioned_copy(tmp_path, SPHINX, "sphinx")
    cfg = config_from_dict({"models": {"dir": str(tmp_path / "models")}, "asr": {"engine": "pocketsphinx"}})
    entry = manifest.get(SPHINX)
    with open_model(entry, cfg.models.dir) as vm:
        # renamed over after the check: the held descriptors still read the pinned files
        junk = root / "junk"
        junk.write_bytes(b"\0" * 100)
        os.replace(junk, root / "en-us.lm.bin")
        assert len(vm.read_bytes("en-us.lm.bin")) == 27114385
        from roomnote.asr.pocketsphinx_engine import PocketsphinxTranscriber

        with pytest.raises(ModelError, match="en-us.lm.bin changed after it was checked"):
            with vm.directory() as view:
                listed = {str(p.relative_to(view)) for p in view.rglob("*") if not p.is_dir()}
                assert listed == {f.path for f in entry.files}  # exactly the pinned files, nothing else
                assert (view / "en-us.lm.bin").stat().st_size == 27114385
                PocketsphinxTranscriber(view).close()  # loads: it read the held file, not the junk
        # ... and the model is still refused: its directory changed while it was loaded
        assert not view.exists()
    with pytest.raises(ModelError, match="en-us.lm.bin does not match its SHA-256"):
        load_transcriber(cfg, manifest)


def test_a_file_written_in_place_while_loading_refuses_the_model(tmp_path):
    root, manifest, _ = _provisioned_copy(tmp_path, SPHINX, "sphinx")
    with open_model(manifest.get(SPHINX), tmp_path / "models") as vm:
        with pytest.raises(ModelError, match="changed after it was checked"):
            with vm.directory():
                with open(root / "en-us" / "noisedict", "r+b") as f:  # the same inode, rewritten
                    f.write(b"X")
        with pytest.raises(ModelError, match="noisedict changed after it was checked"):
            vm.read_bytes("en-us/noisedict")


def test_an_unlisted_file_in_a_model_directory_refuses_the_model(tmp_path):
    root, manifest, cfg_path = _provisioned_copy(tmp_path, SPHINX, "sphinx")
    cfg = config_from_dict({"models": {"dir": str(tmp_path / "models")}, "asr": {"engine": "pocketsphinx"}})
    verify_model(manifest.get(SPHINX), cfg.models.dir)  # the intact copy is accepted
    (root / "en-us" / "feature_transform").write_bytes(b"\0" * 64)
    with pytest.raises(ModelError, match=r"holds 'en-us/feature_transform', which the manifest does not pin"):
        load_transcriber(cfg, manifest)
    r = run_roomnote("models", "verify", "--config", str(cfg_path), cwd=tmp_path)
    assert r.returncode == 2 and "en-us/feature_transform" in r.stdout
    (root / "en-us" / "feature_transform").unlink()
    (root / "extra").mkdir()  # an unlisted directory too
    with pytest.raises(ModelError, match=r"holds 'extra'"):
        verify_model(manifest.get(SPHINX), cfg.models.dir)


def test_shipped_package_models_allow_only_their_listed_neighbours(tmp_path):
    root, manifest, _ = _provisioned_copy(tmp_path, "silero-vad", "silero")
    (root / "silero_vad.jit").write_bytes(b"x")  # a file the manifest's ignore names: allowed, never loaded
    verify_model(manifest.get("silero-vad"), tmp_path / "models")
    (root / "silero_vad_v7.onnx").write_bytes(b"x")
    with pytest.raises(ModelError, match="silero_vad_v7.onnx"):
        verify_model(manifest.get("silero-vad"), tmp_path / "models")


def test_a_fifo_in_place_of_a_model_file_is_refused_at_once(tmp_path):
    root, manifest, _ = _provisioned_copy(tmp_path, "silero-vad", "silero")
    (root / MODEL_FILE).unlink()
    os.mkfifo(root / MODEL_FILE)
    with pytest.raises(ModelError, match="a FIFO .*not a model file"):
        load_vad(manifest, tmp_path / "models")  # no writer: must not hang


@pytest.mark.parametrize("content", [b"\xff\xfe[[model]]\n", "name = 'caf\u00e9'\n".encode("latin-1")])
def test_a_manifest_that_is_not_utf8_is_one_line(tmp_path, content):
    (tmp_path / "manifest.toml").write_bytes(content)
    cfg = tmp_path / "roomnote.toml"
    cfg.write_text(f'[models]\nmanifest = "{tmp_path / "manifest.toml"}"\n')
    r = run_roomnote("models", "list", "--config", str(cfg), cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"roomnote: error: {tmp_path / 'manifest.toml'}: the models "
                                                   "manifest is not UTF-8 text"), r.stderr


def test_a_manifest_with_a_utf8_bom_loads(tmp_path):
    text = load_manifest().path.read_bytes()
    (tmp_path / "manifest.toml").write_bytes(b"\xef\xbb\xbf" + text)
    assert "silero-vad" in load_manifest(tmp_path / "manifest.toml").entries


def test_an_archive_swapped_while_installing_is_never_unpacked(tmp_path):
    """`models install` hashes the archive: a swapper renaming another archive over it and back
    must never get the other one installed (the entry pins only the archive, as the production
    English vosk models do)."""
    import io
    import tarfile

    from roomnote.model_bundle import BundleError, install_bundle

    def tar_of(text: bytes) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("model/conf/model.conf")
            ti.size = len(text)
            tf.addfile(ti, io.BytesIO(text))
        return buf.getvalue()

    good, evil = tmp_path / "good.tar", tmp_path / "evil.tar"
    good.write_bytes(tar_of(b"--pinned\n"))
    evil.write_bytes(tar_of(b"--evil!!\n"))
    from roomnote.models import sha256_file

    (tmp_path / "manifest.toml").write_text(f"""[[model]]
name = "m"
kind = "asr"
engine = "vosk"
language = "en"
version = "1"
licence = "test"
source = "test"
location = "provisioned:m"
archive = {{ sha256 = "{sha256_file(good)}" }}
files = []
""")
    manifest = load_manifest(tmp_path / "manifest.toml")
    bundle = tmp_path / "bundle.tar"
    os.link(good, bundle)
    stop = threading.Event()

    def swap():
        i = 1
        while not stop.is_set():
            tmp = tmp_path / f"swap{i % 2}"
            tmp.unlink(missing_ok=True)
            os.link(evil if i % 2 else good, tmp)
            os.replace(tmp, bundle)
            time.sleep(0.0003)  # lets the installer run between swaps
            i += 1

    t = threading.Thread(target=swap)
    t.start()
    installed = refused = 0
    try:
        for _ in range(60):
            try:
                install_bundle(bundle, manifest, tmp_path / "models")
            except BundleError as err:
                assert "matches no model archive" in str(err) or "changed while it was being installed" in str(err)
                refused += 1
                continue
            assert (tmp_path / "models" / "m" / "conf" / "model.conf").read_bytes() == b"--pinned\n"
            installed += 1
    finally:
        stop.set()
        t.join()
    assert installed + refused == 60
    os.replace(good, bundle)  # no swapper: the pinned archive installs
    install_bundle(bundle, manifest, tmp_path / "models")
    assert (tmp_path / "models" / "m" / "conf" / "model.conf").read_bytes() == b"--pinned\n"
