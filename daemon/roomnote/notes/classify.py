"""Utterance classifiers on the sentence encoder: who is talking and what the talk does.

Three small softmax heads (a 384 x k matrix and a bias each, models/note-classifiers/heads.npz,
pinned in the manifest, P6) trained on the expert labels of AnnoMI by
models/train_note_classifiers.py:
  role       therapist | client
  therapist  question | reflection | input | other      (main therapist behaviour)
  client     change | neutral | sustain                 (client talk type: MI change talk)
They never decide alone: an intervention is claimed only when a cue agrees (mi.py), a client
quote is placed only when the cues place it too, and risk is never decided here.

    clf = load_classifier(manifest, models_dir)
    out = clf.predict(encoder.encode(texts))   # Predictions: probabilities per head
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError

CLASSIFIER_MODEL = "note-classifiers"
WEIGHTS_FILE = "heads.npz"
HEADS = ("role", "therapist", "client")


@dataclass(frozen=True)
class Predictions:
    """Probabilities, one row per text, columns in the order of labels[head]."""

    labels: dict[str, tuple[str, ...]]
    probs: dict[str, np.ndarray]

    def p(self, head: str, label: str) -> np.ndarray:
        return self.probs[head][:, self.labels[head].index(label)]

    def top(self, head: str, i: int) -> tuple[str, float]:
        row = self.probs[head][i]
        k = int(row.argmax())
        return self.labels[head][k], float(row[k])


class UtteranceClassifier:
    name = CLASSIFIER_MODEL

    def __init__(self, root: Path):
        try:
            with np.load(Path(root) / WEIGHTS_FILE, allow_pickle=False) as z:
                self._w = {h: z[f"{h}_w"].astype(np.float32) for h in HEADS}
                self._b = {h: z[f"{h}_b"].astype(np.float32) for h in HEADS}
                self.labels = {h: tuple(str(x) for x in z[f"{h}_labels"]) for h in HEADS}
        except (OSError, KeyError, ValueError) as e:
            raise ModelError(f"model {CLASSIFIER_MODEL}: cannot read {WEIGHTS_FILE} ({e.__class__.__name__}); "
                             "reinstall roomnote's models directory") from None

    def predict(self, vecs: np.ndarray) -> Predictions:
        probs = {}
        for h in HEADS:
            z = vecs @ self._w[h] + self._b[h] if len(vecs) else np.zeros((0, len(self.labels[h])), np.float32)
            z = z - z.max(axis=1, keepdims=True) if len(z) else z
            e = np.exp(z)
            probs[h] = e / e.sum(axis=1, keepdims=True) if len(e) else e
        return Predictions(self.labels, probs)


def load_classifier(manifest=None, models_dir: str | Path = "") -> UtteranceClassifier:
    """Verify the heads' file against the manifest (P6), then load it."""
    from ..models import load_manifest, verify_model

    manifest = manifest or load_manifest()
    return UtteranceClassifier(verify_model(manifest.get(CLASSIFIER_MODEL), models_dir))


_SHARED: dict[str, UtteranceClassifier] = {}


def shared_classifier(models_dir: str | Path = "") -> UtteranceClassifier:
    """The shipped classifier, verified and loaded once per process (the composer's default
    whenever a sentence encoder is given)."""
    if "clf" not in _SHARED:
        if not models_dir:
            from ..config import Config
            models_dir = Config().models.dir
        _SHARED["clf"] = load_classifier(None, models_dir)
    return _SHARED["clf"]
