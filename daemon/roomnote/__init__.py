"""roomnote: a privacy-first clinical scribe that runs on a box in the therapist's office."""
import os

__version__ = "0.1.0"

# onnxruntime otherwise writes a telemetry device id and a database under ~/.cache on first
# use. A box writes nothing but notes (P1), so telemetry is off before onnxruntime loads.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
