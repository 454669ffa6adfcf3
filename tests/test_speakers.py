"""Who said what: the voice encoder, attribution on synthesised sessions, the therapist's
voice profile (encrypted, on the box only, deletable) and how the note uses the labels."""
from __future__ import annotations

import base64
import dataclasses
import json
import os
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from roomnote.audio.wavfile import wav_frames
from roomnote.config import config_from_dict
from roomnote.errors import ConfigError, ModelError
from roomnote.models import load_manifest
from roomnote.notes import compose_note, to_dict, to_markdown
from roomnote.pipeline import note_from_transcript, session_facts, transcribe
from roomnote.speakers import (SpeakerAttributor, SpeakerModel, delete_profile, enroll_from_frames,
                               load_encoder, load_profile, save_profile)
from roomnote.speakers.evalset import SESSIONS, RefTurn, enrolment_wav, real_session, render, score
from roomnote.speakers.attribution import PIECE_S
from roomnote.speakers.profile import ProfileError, VoiceProfile
from roomnote.synth import DEMO_TURNS, speak, synthesise
from roomnote.transcript import RedactedSegment, RedactedTranscript, RedactionReport, Segment

from conftest import REPO, run_roomnote

CLIENT_QUOTES = ("quote", "goal", "response")  # item kinds that carry the client's own words


@pytest.fixture(scope="module")
def encoder(default_config):
    return load_encoder(default_config, load_manifest())


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("voices")


def embed(encoder, voice: str, text: str, tmp: Path) -> np.ndarray:
    partials, _ = encoder.embed_partials(speak(voice, text, tmp) / 32768.0)
    m = partials.mean(axis=0)
    return m / np.linalg.norm(m)


def session(name: str):
    return next(s for s in SESSIONS if s.name == name)


# --- the encoder ----------------------------------------------------------------------------

def test_encoder_tells_voices_apart_without_torch(encoder, tmp_path):
    a1 = embed(encoder, "rms", "Let's look at the evidence for that worry together.", tmp_path)
    a2 = embed(encoder, "rms", "My sister visited on the weekend and we argued again.", tmp_path)
    b = embed(encoder, "slt", "Let's look at the evidence for that worry together.", tmp_path)
    assert abs(np.linalg.norm(a1) - 1) < 1e-5
    assert a1 @ a2 > 0.85  # same voice, different words
    assert a1 @ b < 0.75  # same words, different voice
    assert "torch" not in sys.modules


def test_tampered_encoder_weights_are_refused(default_config, tmp_path):
    text = (REPO / "models" / "manifest.toml").read_text()
    good = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
    assert good in text
    bad = tmp_path / "manifest.toml"
    bad.write_text(text.replace(good, "0" * 64))
    with pytest.raises(ModelError, match="resemblyzer-ge2e.*does not match its SHA-256"):
        load_encoder(default_config, load_manifest(bad))


class _Touch:
    """Pickles to a call of Path.touch: what a crafted checkpoint could run when unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_no_pickle_of_a_checkpoint_can_run_code(tmp_path):
    import pickle

    from roomnote.speakers.torchfile import MAGIC, load_state_dict

    ran = tmp_path / "ran"
    for first, second in ((_Touch(ran), 1001), (MAGIC, _Touch(ran))):  # the magic number, then the protocol
        bad = tmp_path / "pretrained.pt"
        bad.write_bytes(pickle.dumps(first, protocol=2) + pickle.dumps(second, protocol=2))
        with pytest.raises(ModelError, match="cannot read the checkpoint .*unexpected global.*reinstall"):
            load_state_dict(bad.read_bytes())
        assert not ran.exists()


# --- attribution on synthesised sessions ---------------------------------------------------

@pytest.fixture(scope="module")
def therapist_profiles(encoder, english_engines, default_config, voice_dir):
    """Each session's therapist enrolled from ~30 s of other text, as `roomnote enroll` does."""
    cache = {}

    def get(voice: str) -> VoiceProfile:
        if voice not in cache:
            wav = voice_dir / f"enrol-{voice}.wav"
            enrolment_wav(voice, wav)
            cache[voice] = enroll_from_frames(wav_frames(wav), english_engines.vad, encoder, default_config)
        return cache[voice]

    return get


def run_session(name, english_engines, encoder, cfg, profile, voice_dir):
    sess = session(name)
    wav = voice_dir / f"{name.replace(' ', '-')}.wav"
    ref = render(sess, wav)
    engines = dataclasses.replace(english_engines, speakers=SpeakerModel(encoder, cfg.speakers, profile))
    return transcribe(wav_frames(wav), engines, cfg), ref


@pytest.mark.parametrize("name, enrolled, voices, max_unknown", [
    ("couple", True, {"therapist", "client", "other"}, 0.02),  # the partner is not merged into the client
    ("awb-kal16 short turns", False, {"speaker 1", "speaker 2"}, 0.05),
    ("overlaps", True, {"therapist", "client"}, 0.15),  # unsure words are "unknown", not guessed
    ("close voices", True, {"therapist", "client"}, 0.05),  # the client sounds like the therapist
])
def test_labels_on_synthesised_sessions(name, enrolled, voices, max_unknown, english_engines, encoder,
                                        default_config, therapist_profiles, voice_dir):
    profile = therapist_profiles(session(name).voices["therapist"]) if enrolled else None
    tr, ref = run_session(name, english_engines, encoder, default_config, profile, voice_dir)
    s = score(tr.segments, ref)
    print(f"\n{name}: {s.words} words, wrong {s.wrong_share:.1%}, unknown {s.unknown_share:.1%}, DER {s.der:.1%}")
    assert s.words > 80
    assert s.wrong_share < 0.05
    assert s.unknown_share <= max_unknown
    assert {seg.speaker for seg in tr.segments} - {"unknown"} == voices


def test_real_human_voices_are_told_apart(english_engines, encoder, default_config, voice_dir):
    # LibriVox reader and the "cards" speaker of pocketsphinx-testdata, turn about, no profile
    wav = voice_dir / "real.wav"
    ref = real_session(wav)
    engines = dataclasses.replace(english_engines, speakers=SpeakerModel(encoder, default_config.speakers, None))
    tr = transcribe(wav_frames(wav), engines, default_config)
    s = score(tr.segments, ref)
    assert s.words > 60 and s.wrong_share < 0.05 and s.unknown_share < 0.1
    assert [seg.speaker for seg in tr.segments][:2] == ["speaker 1", "speaker 2"]


def test_quotes_come_only_from_client_segments(english_engines, encoder, default_config, therapist_profiles,
                                               voice_dir):
    profile = therapist_profiles("rms")
    wav = voice_dir / "demo.wav"
    times = synthesise(DEMO_TURNS, wav)  # rms is the therapist, slt the client
    ref = [RefTurn("therapist" if v == "rms" else "client", a, b) for (v, _), (a, b) in zip(DEMO_TURNS, times)]
    engines = dataclasses.replace(english_engines, speakers=SpeakerModel(encoder, default_config.speakers, profile))
    tr = transcribe(wav_frames(wav), engines, default_config)
    s = score(tr.segments, ref)
    assert s.words > 80 and s.wrong == 0 and s.unknown_share < 0.05
    speaker = {seg.id: seg.speaker for seg in tr.segments}
    assert set(speaker.values()) == {"therapist", "client"}
    facts = session_facts(default_config, tr, datetime.now(timezone.utc), "test-speakers")
    note = note_from_transcript(tr, "soap", facts)
    assert note.speakers_identified
    quotes = [it for s in note.sections for it in s.items if it.kind in CLIENT_QUOTES]
    assert quotes
    for it in quotes:
        assert {speaker[e.segment_id] for e in it.evidence} == {"client"}, it.text
    for it in (it for s in note.sections for it in s.items if it.kind == "intervention"):
        assert {speaker[e.segment_id] for e in it.evidence} == {"therapist"}, it.text


# --- the streaming API ----------------------------------------------------------------------

def test_streaming_api_keeps_no_audio_and_wipes_voice_vectors(encoder, default_config, tmp_path):
    who = SpeakerAttributor(encoder, default_config.speakers)
    clip = speak("awb", "I have been feeling anxious most mornings this week.", tmp_path)
    who.start_segment(0.0)
    for i in range(0, len(clip), 512):
        frame = clip[i:i + 512].copy()
        who.feed(frame)
        frame.fill(0)  # the caller may zero its frame at once: the attributor copied it
    assert np.any(who.buf)
    assert who.end_segment("s0001") == "unknown"  # one voice heard so far: too little to name
    assert not np.any(who.buf)  # P1: the segment's audio is zeroed as soon as it is embedded
    turn = who.turns[0]
    who.start_segment(5.0)
    who.feed(clip[:8000].copy())
    assert who.end_segment(None) == "unknown"  # no words recognised: dropped
    assert len(who.turns) == 1 and not np.any(who.buf)
    # a monologue longer than one piece is embedded as it is fed: never more than 12 s held
    long = np.concatenate([clip] * 5)
    who.start_segment(10.0)
    most = 0
    for i in range(0, len(long), 512):
        who.feed(long[i:i + 512].copy())
        most = max(most, who.n)
    assert most <= PIECE_S * 16000 and len(who.pieces) >= 1
    who.end_segment("s0002")
    spans = who.turns[-1].spans
    assert spans[0, 0] < 10.5 and spans[-1, 1] > 10.0 + len(long) / 16000 - 1.0  # the whole turn, in order
    assert np.all(np.diff(spans[:, 0]) > 0)
    assert who.label([]) == []
    assert not who.turns and not np.any(turn.emb) and not np.any(turn.partials)


def _unit(*weights) -> np.ndarray:
    v = np.zeros(256, np.float32)
    v[:len(weights)] = weights
    return v / np.linalg.norm(v)


def test_labelling_rules_on_voice_vectors(encoder, default_config):
    """The decision rules on their own: vectors in, labels out (no audio needed)."""
    from roomnote.speakers.attribution import Turn
    from roomnote.transcript import Word

    therapist, therapist_tired, client = _unit(1), _unit(1, 0.8), _unit(0, 0, 1)
    between = _unit(1, 0, 1)  # as alike to the therapist as to the client
    profile = _unit(1, 0.4)  # enrolled between the therapist's two ways of speaking
    assert therapist @ therapist_tired < 0.8  # two groups ...
    assert profile @ therapist > 0.9 and profile @ therapist_tired > 0.9  # ... both like the profile
    plan = [therapist] * 3 + [therapist_tired] * 4 + [client] * 3 + [between]
    who = SpeakerAttributor(encoder, default_config.speakers, profile=profile)
    segments = []
    for i, v in enumerate(plan):
        who.turns.append(Turn(f"s{i:04d}", v.copy(), v[None].copy(), np.array([[i * 5.0, i * 5 + 4.0]]), 4.0))
        segments.append(Segment(f"s{i:04d}", i * 5.0, i * 5 + 4.0, [Word("word", i * 5.0 + 1, i * 5 + 2.0, 1.0)]))
    labels = [seg.speaker for seg in who.label(segments)]
    # the therapist in two groups is still the therapist, never the client; unsure is unknown
    assert labels == ["therapist"] * 7 + ["client"] * 3 + ["unknown"]


# --- the composer and the labels -------------------------------------------------------------

def _rt(lines):
    segs = [RedactedSegment(f"s{i:04d}", i * 5.0, i * 5.0 + 4, text, who) for i, (who, text) in enumerate(lines)]
    return RedactedTranscript(segs, RedactionReport(), len(lines) * 5.0, len(lines) * 4.0, "test")


def _facts(default_config):
    from roomnote.notes import SessionFacts
    now = datetime(2026, 1, 5, 10, 50, tzinfo=timezone.utc)
    return SessionFacts("s1", default_config.device.id, now, now, 3000, 2400, "test", None)


CLIENTISH = "i have been feeling anxious most mornings and i worry about my job"


def test_unconfirmed_voices_are_not_attributed(default_config):
    # "speaker 1" / "speaker 2": voices told apart, but nobody knows which is the client
    note = compose_note(_rt([("speaker 1", "how have you been this week"), ("speaker 2", CLIENTISH)]),
                        "soap", _facts(default_config))
    assert not note.speakers_identified
    assert "Speakers not identified" in to_markdown(note)
    assert "speaker 1" not in json.dumps(to_dict(note)) and "speaker 2" not in json.dumps(to_dict(note))


def test_unsure_segment_is_not_quoted_once_speakers_are_identified(default_config):
    lines = [("therapist", "how have you been this week"), ("unknown", CLIENTISH),
             ("client", "my sister visited and i feel sad about our parents")]
    note = compose_note(_rt(lines), "soap", _facts(default_config))
    assert note.speakers_identified
    used = {e.segment_id for s in note.sections for it in s.items if it.kind in CLIENT_QUOTES for e in it.evidence}
    assert "s0001" not in used and "s0002" in used


# --- the voice profile ------------------------------------------------------------------------

def _speaker_cfg(tmp_path: Path):
    return config_from_dict({"speakers": {"profile": str(tmp_path / "voice" / "therapist.profile"),
                                          "key": str(tmp_path / "keys" / "voice.key")}})


def test_profile_is_encrypted_private_and_deletable(tmp_path):
    cfg = _speaker_cfg(tmp_path).speakers
    emb = np.random.default_rng(1).standard_normal(256).astype(np.float32)
    emb /= np.linalg.norm(emb)
    save_profile(VoiceProfile(emb.copy(), 31.0), cfg)
    profile, key = Path(cfg.profile), Path(cfg.key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    blob = profile.read_bytes()
    assert emb.tobytes()[:64] not in blob and emb.astype("<f4").tobytes()[8:24] not in blob
    loaded = load_profile(cfg)
    assert np.array_equal(loaded.embedding, emb) and loaded.speech_s == 31.0
    # a damaged file or a wrong key gives one clear line, never the profile's content
    key.write_bytes(os.urandom(32))
    with pytest.raises(ProfileError, match="does not decrypt.*enroll --delete"):
        load_profile(cfg)
    key.chmod(0o644)
    with pytest.raises(ProfileError, match="readable by others.*chmod 600"):
        load_profile(cfg)
    assert delete_profile(cfg) == ["voice profile", "its key"]
    assert not profile.exists() and not key.exists()
    assert load_profile(cfg) is None and delete_profile(cfg) == []


def test_enrolment_refuses_too_little_speech_and_two_voices(english_engines, encoder, default_config, voice_dir):
    short = voice_dir / "short.wav"
    synthesise([("rms", "Good morning, this is a short recording.")], short)
    with pytest.raises(ProfileError, match=r"only \d+\.\d s of speech.*about 30 seconds"):
        enroll_from_frames(wav_frames(short), english_engines.vad, encoder, default_config)
    two = voice_dir / "two-voices.wav"
    synthesise([("rms" if i % 2 else "slt", t) for i, t in enumerate(DEMO_TURNS_TEXT)], two)
    with pytest.raises(ProfileError, match="one voice"):
        enroll_from_frames(wav_frames(two), english_engines.vad, encoder, default_config)


DEMO_TURNS_TEXT = [t for _, t in DEMO_TURNS]


def test_speakers_config_errors_are_one_line():
    with pytest.raises(ConfigError, match=r"speakers\.min_margin: expected a value from 0\.0 to 0\.5, got 0\.9"):
        config_from_dict({"speakers": {"min_margin": 0.9}})
    with pytest.raises(ConfigError, match=r"speakers\.voices: unknown key"):
        config_from_dict({"speakers": {"voices": 3}})


# --- end to end: the profile never leaves the box -------------------------------------------

def test_enroll_process_delete_through_the_cli(tmp_path, voice_dir):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "TMPDIR": str(home)}
    conf = tmp_path / "roomnote.toml"
    conf.write_text(f'[speakers]\nprofile = "{tmp_path}/state/voice/therapist.profile"\n'
                    f'key = "{tmp_path}/state/keys/voice.key"\n')
    enrol, wav = voice_dir / "enrol-rms.wav", voice_dir / "demo.wav"
    if not enrol.exists():
        enrolment_wav("rms", enrol)
    if not wav.exists():
        synthesise(DEMO_TURNS, wav)

    r = run_roomnote("enroll", "--from-wav", str(enrol), "--config", str(conf), cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "enrolled" in r.stdout
    cfg = config_from_dict({"speakers": {"profile": f"{tmp_path}/state/voice/therapist.profile",
                                         "key": f"{tmp_path}/state/keys/voice.key"}}).speakers
    profile, key = load_profile(cfg), Path(cfg.key).read_bytes()
    secrets = _renderings(profile.embedding, key, Path(cfg.profile).read_bytes())

    out = tmp_path / "notes"
    p = run_roomnote("process", str(wav), "--config", str(conf), "--out", str(out), cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    note_files = sorted(out.iterdir())
    assert [f.suffix for f in note_files] == [".json", ".md"]
    note = json.loads(note_files[0].read_text())
    assert note["speakers_identified"] is True
    published = "".join(f.read_text() for f in note_files)
    for text in (published, r.stdout, r.stderr, p.stdout, p.stderr):
        for s in secrets:
            assert s not in text
    assert not list(home.rglob("*")), "nothing written to HOME or TMPDIR"
    assert sorted(str(f.relative_to(tmp_path)) for f in (tmp_path / "state").rglob("*") if f.is_file()) == \
        ["state/keys/voice.key", "state/voice/therapist.profile"]

    d = run_roomnote("enroll", "--delete", "--config", str(conf), cwd=tmp_path, env=env)
    assert d.returncode == 0 and "deleted the voice profile and its key" in d.stdout
    assert not [f for f in (tmp_path / "state").rglob("*") if f.is_file()]
    p2 = run_roomnote("process", str(wav), "--config", str(conf), "--out", str(tmp_path / "notes2"),
                      cwd=tmp_path, env=env)
    assert p2.returncode == 0, p2.stderr
    assert "no therapist profile" in p2.stderr
    n2 = json.loads(next((tmp_path / "notes2").glob("*.json")).read_text())
    # no enrolled voice: roles are not identified, or read from the talk and the note says so
    assert n2["speakers_identified"] is False or n2["speaker_roles"] == "inferred from the talk"


def _renderings(emb: np.ndarray, key: bytes, blob: bytes) -> list[str]:
    """Ways the profile could leak into text: its numbers, the key, the ciphertext."""
    out = [key.hex(), base64.b64encode(key).decode(), base64.b64encode(blob[6:30]).decode(), blob[6:30].hex()]
    for v in emb[:8]:
        if abs(v) > 0.01:
            out += [f"{v:.4f}", repr(float(v))[:8]]
    return out
