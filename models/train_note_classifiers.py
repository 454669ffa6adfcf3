#!/usr/bin/env python3
"""Train the note's utterance classifiers on AnnoMI's expert labels; write the weights.

    PYTHONPATH=daemon .venv/bin/python models/train_note_classifiers.py \
        [--data ../shared/data/annomi-dev.csv] [--out models/note-classifiers]

Three softmax (multinomial logistic regression) heads on the shipped sentence encoder's
384-d vectors (notes/encoder.py), trained with L2 by full-batch gradient descent in numpy:
  role       therapist | client                  (who is talking: roles.py)
  therapist  question | reflection | input | other   (main therapist behaviour)
  client     change | neutral | sustain          (client talk type)
Every utterance is used twice, as written (cased, punctuated, like whisper) and in spoken
form (lowercase, no punctuation, like vosk/pocketsphinx), so the heads serve both.

The CSV is read at run time only; no text of it is written anywhere. Transcripts whose id
is a multiple of 6 are held out (HELD_OUT): never trained on, they give the accuracy this
script prints and that bench/notes.py reprints, beside each head's majority baseline, and
the AnnoMI checklists of tests/data/annomi_checklists.toml are drawn from them.
The output is deterministic for a given encoder (fixed initialisation, no sampling).
"""
from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "daemon"))

# ../shared/data next to the checkout (or next to the directory of worktrees)
DATA = next((d / "shared" / "data" / "annomi-dev.csv" for d in (REPO.parent, REPO.parent.parent)
             if (d / "shared" / "data" / "annomi-dev.csv").is_file()),
            REPO.parent / "shared" / "data" / "annomi-dev.csv")
OUT = REPO / "models" / "note-classifiers"
WEIGHTS = "heads.npz"
HEADS = {
    "role": ("therapist", "client"),
    "therapist": ("question", "reflection", "input", "other"),
    "client": ("change", "neutral", "sustain"),
}
BALANCED = ("therapist", "client")
L2 = 1e-3
STEPS = 600
RATE = 2.0


def held_out(transcript_id: str) -> bool:
    return int(transcript_id) % 6 == 0


def spoken_form(text: str) -> str:
    """What a spoken-form recogniser would deliver: lowercase, no punctuation."""
    t = re.sub(r"[^\w\s']", " ", text.lower().replace("\u2019", "'"))
    return " ".join(t.split())


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def label_of(row: dict, head: str) -> str | None:
    if head == "role":
        return row["interlocutor"]
    if head == "therapist":
        b = row["main_therapist_behaviour"]
        return None if row["interlocutor"] != "therapist" else ("input" if b == "therapist_input" else b)
    return row["client_talk_type"] if row["interlocutor"] == "client" else None


def train_head(x: np.ndarray, y: np.ndarray, n: int, balanced: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, L2, full-batch gradient descent; deterministic.
    balanced: weight each class by the inverse of its frequency (rare change and sustain
    talk would otherwise never win against "neutral")."""
    w = np.zeros((x.shape[1], n), np.float64)
    b = np.zeros(n, np.float64)
    onehot = np.eye(n)[y]
    counts = np.bincount(y, minlength=n).astype(np.float64)
    sw = (1.0 / counts[y]) if balanced else np.ones(len(y))
    sw = (sw / sw.sum())[:, None]
    for _ in range(STEPS):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * sw
        w -= RATE * (x.T @ g + L2 * w)
        b -= RATE * g.sum(axis=0)
    return w.astype(np.float32), b.astype(np.float32)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez with fixed zip timestamps, so the same weights give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in sorted(arrays):
            item = io.BytesIO()
            np.lib.format.write_array(item, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, item.getvalue())
    path.write_bytes(buf.getvalue())


def main() -> int:
    from roomnote.config import Config
    from roomnote.notes.encoder import load_encoder

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--cache", type=Path, help="keep the utterance vectors in this .npy file between runs "
                   "(outside the repository: they encode AnnoMI text)")
    args = p.parse_args()
    if not args.data.is_file():
        print(f"train: {args.data} not found; pass --data PATH/annomi-dev.csv", file=sys.stderr)
        return 2
    rows = [r for r in read_rows(args.data) if r["utterance_text"].strip()]
    if args.cache and args.cache.is_file():
        written, spoken = np.load(args.cache)
    else:
        enc = load_encoder(None, Config().models.dir)
        written = enc.encode([r["utterance_text"] for r in rows])
        spoken = enc.encode([spoken_form(r["utterance_text"]) for r in rows])
        if args.cache:
            np.save(args.cache, np.stack([written, spoken]))
    test = np.array([held_out(r["transcript_id"]) for r in rows])
    out: dict[str, np.ndarray] = {}
    print(f"AnnoMI dev: {len(rows)} utterances, {len({r['transcript_id'] for r in rows})} transcripts; "
          f"held out: {len({r['transcript_id'] for r in rows if held_out(r['transcript_id'])})} transcripts "
          f"({int(test.sum())} utterances)")
    for head, labels in HEADS.items():
        ys = [label_of(r, head) for r in rows]
        keep = np.array([y is not None for y in ys])
        y = np.array([labels.index(v) if v is not None else -1 for v in ys])
        tr = keep & ~test
        x_tr = np.vstack([written[tr], spoken[tr]])
        y_tr = np.concatenate([y[tr], y[tr]])
        w, b = train_head(x_tr, y_tr, len(labels), balanced=head in BALANCED)
        out[f"{head}_w"], out[f"{head}_b"] = w, b
        out[f"{head}_labels"] = np.array(labels)
        te = keep & test
        majority = np.bincount(y_tr, minlength=len(labels)).argmax()
        for form, x in (("written", written), ("spoken", spoken)):
            pred = (x[te] @ w + b).argmax(axis=1)
            acc = float((pred == y[te]).mean())
            base = float((y[te] == majority).mean())
            per = ", ".join(f"{lb} P {float((y[te][pred == k] == k).mean()) if (pred == k).any() else 0:.2f} "
                            f"R {float((pred[y[te] == k] == k).mean()) if (y[te] == k).any() else 0:.2f}"
                            for k, lb in enumerate(labels))
            print(f"  {head:9} {form:7} held-out accuracy {acc:.3f} (majority '{labels[majority]}' {base:.3f}; "
                  f"n={int(te.sum())}); {per}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_npz(args.out / WEIGHTS, out)
    print(f"wrote {args.out / WEIGHTS}; pin it: roomnote models hash {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
