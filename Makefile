# Two commands for a new user: `make demo` and `make test` (README, Quick start).
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3-venv flite espeak-ng sox pocketsphinx-testdata
# the appliance: PortAudio and libsystemd headers to build pyaudio and systemd-python, and
# systemd-analyze for the unit tests
APT_PACKAGES += portaudio19-dev libsystemd-dev pkg-config gcc systemd
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo test deps venv bench clean

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
	$(PY) -m pip install -q -c constraints.txt -e '.[test,bench]'
	# silero-vad's wheel carries the ONNX model we use; --no-deps keeps torch out
	$(PY) -m pip install -q --no-deps -c constraints.txt silero-vad
	touch $@

venv: $(VENV)/.installed

demo: deps venv
	$(PY) -m roomnote.synth build/demo-session.wav
	$(VENV)/bin/roomnote process build/demo-session.wav --out build/demo-note

test: deps venv
	$(PY) -m pytest -q tests

bench: deps venv
	$(PY) bench/asr.py
	$(PY) bench/appliance.py

clean:
	rm -rf $(VENV) build .pytest_cache
