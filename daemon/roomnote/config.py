"""One typed configuration, loaded from TOML and validated with one-line errors.

Every key has a default, so an empty file (or none) is a valid configuration. An error
names the file, the key and what is expected, e.g.
``/etc/roomnote/roomnote.toml: asr.engine: expected one of auto, vosk, pocketsphinx, got 'kaldi'``.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from .errors import ConfigError
from .regular_file import NotRegularFile, read_regular

NOTE_FORMATS = ("soap", "dap", "birp", "girp")


@dataclass(frozen=True)
class DeviceConfig:
    id: str = "roomnote-dev"
    office: str = "office"


@dataclass(frozen=True)
class AsrConfig:
    engine: str = "auto"  # auto | vosk | pocketsphinx | whisper
    language: str = "en"  # en | ko; pocketsphinx and whisper are English only here
    vosk_model: str = ""  # manifest name; "" means the default for the language
    whisper_model: str = ""  # manifest name, e.g. "whisper-base"; "" = whisper-tiny-en (embedded)
    cpu_threads: int = 0  # whisper's threads; 0 = all cores but one (the control loop and VAD keep one)


@dataclass(frozen=True)
class VadConfig:
    threshold: float = 0.5  # Silero speech probability above which a frame is speech
    min_silence_ms: int = 400  # a pause this long ends a segment
    pad_ms: int = 200  # audio kept on each side of speech so word edges survive
    max_segment_s: float = 28.0  # no segment is longer: continuous talk is cut (docs/limits.md)


@dataclass(frozen=True)
class ModelsConfig:
    dir: str = "/var/lib/roomnote/models"  # where IT provisions models (vosk English)
    manifest: str = ""  # "" means the manifest shipped with roomnote


@dataclass(frozen=True)
class NotesConfig:
    format: str = "soap"
    encoder: str = "all-minilm-l6-v2-int8"  # manifest name of the sentence encoder; "" = cue lexicons only


@dataclass(frozen=True)
class TopicsConfig:
    """Per office: what happens to a passage about each sensitive topic
    (remove | generalize | keep); see roomnote.redact.topics."""

    criminal_history: str = "remove"
    immigration_status: str = "remove"
    sexual_orientation: str = "remove"
    gender_identity: str = "remove"
    trauma_details: str = "remove"
    substance_use: str = "keep"
    infectious_disease: str = "generalize"
    reproductive_health: str = "generalize"


@dataclass(frozen=True)
class RedactionConfig:
    pseudonyms: bool = True  # names become "[Person A]", the same for the same person
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    # also detect topics with the sentence encoder (notes.encoder) next to the lexicon
    topic_encoder: bool = True


@dataclass(frozen=True)
class MqttConfig:
    host: str = "localhost"  # the practice broker
    port: int = 8883
    ca_file: str = "/etc/roomnote/tls/ca.pem"  # CA that signed the broker's certificate
    cert_file: str = "/etc/roomnote/tls/device.pem"  # this box's client certificate
    key_file: str = "/etc/roomnote/tls/device.key"
    verify_server: bool = True  # chain and host name; false only for a lab broker
    tls_version: str = "1.2"  # minimum: 1.2 | 1.3
    keepalive_s: int = 30
    heartbeat_s: int = 60  # status message interval
    retry_min_s: float = 0.5  # reconnect and resend backoff, doubling up to retry_max_s
    retry_max_s: float = 60.0
    # `roomnote run` publishes to the broker; false: a box without a practice network keeps
    # its notes in <state directory>/notes instead (and takes no commands)
    enabled: bool = True


@dataclass(frozen=True)
class OutboxConfig:
    dir: str = "/var/lib/roomnote/outbox"  # encrypted notes and receipts until PUBACK
    max_inflight: int = 100  # messages published and not yet acknowledged


@dataclass(frozen=True)
class CommandsConfig:
    require_signature: bool = False  # Ed25519 signatures from the practice system
    practice_public_key: str = ""  # PEM file; needed when require_signature is true
    max_skew_s: int = 300  # accepted clock difference of a signed command
    max_bytes: int = 8192  # larger command payloads are refused unread


@dataclass(frozen=True)
class RetentionConfig:
    transcript_ttl_s: int = 259200  # 72 h: redacted transcript kept for revisions, then destroyed
    dir: str = "/var/lib/roomnote/sessions"  # encrypted transcripts (key in memory only)


@dataclass(frozen=True)
class KeysConfig:
    outbox_key: str = "/var/lib/roomnote/keys/outbox.key"  # AES-256 key, root-only
    signing_key: str = "/var/lib/roomnote/keys/device-signing.key"  # Ed25519, signs receipts


@dataclass(frozen=True)
class AuditConfig:
    file: str = "/var/lib/roomnote/audit.log"  # hash-chained, content-free


@dataclass(frozen=True)
class SpeakersConfig:
    """Who said what (roomnote.speakers): voice embeddings on the box, thresholds on cosine similarity."""

    enabled: bool = True
    profile: str = "/var/lib/roomnote/voice/therapist.profile"  # enrolled voice, AES-GCM encrypted
    key: str = "/var/lib/roomnote/keys/voice-profile.key"  # created 0600 on first enrolment
    same_voice: float = 0.8  # segments at least this alike are grouped as one voice
    therapist_match: float = 0.75  # a voice at least this alike to the profile is the therapist
    min_similarity: float = 0.7  # a segment less alike to every voice is "unknown"
    min_margin: float = 0.08  # ... and so is one about as alike to two voices


@dataclass(frozen=True)
class HardwareConfig:
    button_pin: int = 17  # BCM GPIO number of the record button (to ground; internal pull-up)
    led_pin: int = 27  # BCM GPIO number of the recording LED
    long_press_s: float = 2.0  # holding the button this long while recording withdraws consent


@dataclass(frozen=True)
class MicrophoneConfig:
    device: str = ""  # "" the default input; a number: PortAudio device index; else (part of) its name
    rate: int = 0  # 0: 16000 if the device offers it, else 48000, else 44100


@dataclass(frozen=True)
class ConsentConfig:
    mode: str = "clinician"  # clinician: the therapist attests; external: the practice system sends it
    arm_timeout_s: int = 120  # clinician: an attestation not followed by a start press lapses
    valid_s: int = 900  # external: a consent message must be used by a press within this time


@dataclass(frozen=True)
class SessionConfig:
    max_minutes: float = 120.0  # recording stops by itself after this long
    warn_minutes: float = 2.0  # the LED warns this long before the limit


@dataclass(frozen=True)
class ReviewConfig:
    """`roomnote review` on the therapist's workstation (roomnote.review, README "The review page")."""

    inbox: str = "~/roomnote-inbox"  # notes, receipts and the therapist's own versions; kept 0700
    host: str = "127.0.0.1"  # any other address needs tls_cert, tls_key and password_hash
    port: int = 8765
    tls_cert: str = ""  # PEM certificate (chain) for https
    tls_key: str = ""  # its private key
    password_hash: str = ""  # from `roomnote review --hash-password`; "" = no login (loopback only)
    device_keys: str = ""  # folder of <device id>.pub.pem: deletion receipts are verified with them
    sign_key: str = ""  # the practice's Ed25519 key: commands are signed (boxes that require it)
    answer_wait_s: float = 30.0  # how long to wait for the box's answer to a command
    receipt_wait_s: float = 30.0  # ... and for the deletion receipt after finalize
    login_hours: float = 12.0  # a login lasts this long


@dataclass(frozen=True)
class Config:
    device: DeviceConfig = field(default_factory=DeviceConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    notes: NotesConfig = field(default_factory=NotesConfig)
    redaction: RedactionConfig = field(default_factory=RedactionConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    speakers: SpeakersConfig = field(default_factory=SpeakersConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    microphone: MicrophoneConfig = field(default_factory=MicrophoneConfig)
    consent: ConsentConfig = field(default_factory=ConsentConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)


# Values a key may take, where the type alone says too little.
CHOICES = {
    "asr.engine": ("auto", "vosk", "pocketsphinx", "whisper"),
    "asr.language": ("en", "ko"),
    "notes.format": NOTE_FORMATS,
    **{f"redaction.topics.{f.name}": ("remove", "generalize", "keep") for f in dataclasses.fields(TopicsConfig)},
    "mqtt.tls_version": ("1.2", "1.3"),
    "microphone.rate": (0, 16000, 44100, 48000),
    "consent.mode": ("clinician", "external"),
}
TOPIC_LEVELS = ("device.id", "device.office")  # become MQTT topic levels
RANGES = {
    "asr.cpu_threads": (0, 64),
    "vad.threshold": (0.05, 0.95),
    "vad.min_silence_ms": (50, 5000),
    "vad.pad_ms": (0, 1000),
    "vad.max_segment_s": (5.0, 120.0),
    "mqtt.port": (1, 65535),
    "mqtt.keepalive_s": (5, 3600),
    "mqtt.heartbeat_s": (1, 3600),
    "mqtt.retry_min_s": (0.05, 60.0),
    "mqtt.retry_max_s": (0.1, 3600.0),
    "outbox.max_inflight": (1, 1000),
    "commands.max_skew_s": (5, 3600),
    "commands.max_bytes": (256, 262144),
    "retention.transcript_ttl_s": (1, 30 * 86400),
    "speakers.same_voice": (0.3, 0.99),
    "speakers.therapist_match": (0.3, 0.99),
    "speakers.min_similarity": (0.0, 0.99),
    "speakers.min_margin": (0.0, 0.5),
    "hardware.button_pin": (0, 27),
    "hardware.led_pin": (0, 27),
    "hardware.long_press_s": (0.5, 10.0),
    "consent.arm_timeout_s": (10, 3600),
    "consent.valid_s": (60, 86400),
    "session.max_minutes": (0.05, 600.0),
    "session.warn_minutes": (0.0, 60.0),
    "review.port": (1, 65535),
    "review.answer_wait_s": (1.0, 600.0),
    "review.receipt_wait_s": (1.0, 600.0),
    "review.login_hours": (0.1, 168.0),
}


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML configuration; None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        # utf-8-sig: a byte order mark (Windows editors write one) is not a TOML statement
        raw = tomllib.loads(read_regular(path).decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; pass an existing file with --config") from None
    except NotRegularFile as e:
        raise ConfigError(f"{path}: is {str(e).split(': ', 1)[-1]}, not a config file; pass a regular file "
                          "with --config") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file ({e.__class__.__name__}); check its permissions and encoding") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix the syntax") from None
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    return _build(Config, raw, prefix="", source=source)


def _build(cls, raw: Any, prefix: str, source: str):
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {where}: expected a table, got {_kind(raw)}")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{source}: {prefix}{key}: unknown key; valid keys here: {', '.join(sorted(known))}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        key, value, want = prefix + f.name, raw[f.name], hints[f.name]
        if dataclasses.is_dataclass(want):
            values[f.name] = _build(want, value, key + ".", source)
        else:
            values[f.name] = _check_value(key, value, want, source)
    return cls(**values)


def _check_value(key: str, value: Any, want: type, source: str):
    ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(f"{source}: {key}: expected {want.__name__}, got {_kind(value)} {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{source}: {key}: expected one of {', '.join(map(str, CHOICES[key]))}, got {value!r}")
    if key in RANGES:
        lo, hi = RANGES[key]
        if not lo <= value <= hi:
            raise ConfigError(f"{source}: {key}: expected a value from {lo} to {hi}, got {value!r}")
    if key in TOPIC_LEVELS and not _is_topic_safe(value):
        raise ConfigError(f"{source}: {key}: expected letters, digits, '-' or '_' only, got {value!r}")
    return value


def _is_topic_safe(s: str) -> bool:
    # ids become MQTT topic levels, so wildcards and separators are not allowed
    return bool(s) and all(c.isascii() and (c.isalnum() or c in "-_") for c in s)


def _kind(v: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)
