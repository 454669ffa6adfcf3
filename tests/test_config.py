import pytest

from roomnote.config import Config, config_from_dict, load_config
from roomnote.errors import ConfigError


def test_no_file_gives_defaults():
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.asr.engine == "auto" and cfg.notes.format == "soap"


def test_full_file_is_typed(tmp_path):
    p = tmp_path / "roomnote.toml"
    p.write_text('[device]\nid = "box-7"\noffice = "north_3"\n[asr]\nengine = "pocketsphinx"\n'
                 '[vad]\nthreshold = 0.6\nmin_silence_ms = 300\n[notes]\nformat = "birp"\n')
    cfg = load_config(p)
    assert cfg.device.id == "box-7" and cfg.asr.engine == "pocketsphinx"
    assert cfg.vad.threshold == 0.6 and cfg.vad.min_silence_ms == 300 and cfg.notes.format == "birp"


@pytest.mark.parametrize("raw, key, expected", [
    ({"asr": {"engine": "kaldi"}}, "asr.engine", "expected one of auto, vosk, pocketsphinx"),
    ({"asr": {"enigne": "vosk"}}, "asr.enigne", "unknown key"),
    ({"vad": {"threshold": "high"}}, "vad.threshold", "expected float"),
    ({"vad": {"threshold": 2.0}}, "vad.threshold", "from 0.05 to 0.95"),
    ({"vad": {"min_silence_ms": True}}, "vad.min_silence_ms", "expected int"),
    ({"notes": {"format": "narrative"}}, "notes.format", "soap, dap, birp, girp"),
    ({"notes": "soap"}, "notes", "expected a table"),
    ({"device": {"id": "box/#"}}, "device.id", "letters, digits"),
])
def test_each_error_names_the_key_and_what_is_expected(raw, key, expected):
    with pytest.raises(ConfigError) as e:
        config_from_dict(raw, source="office.toml")
    msg = str(e.value)
    assert msg.startswith(f"office.toml: {key}:") and expected in msg
    assert "\n" not in msg


def test_unreadable_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[asr\nengine = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read config file|not valid TOML"):
        load_config(binary)
