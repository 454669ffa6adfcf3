"""`roomnote process` end to end on synthesised sessions: promise P1 and bad input."""
import json
from datetime import datetime, timezone
import re
import subprocess
import wave

import numpy as np
import pytest

from appliance_rig import pcm_probes
from conftest import run_roomnote
from roomnote.synth import write_wav

# Made-up identifiers, spoken in the session; none may leave in any output.
CANARY_TURNS = [
    ("rms", "Hello, welcome back. How have you been this week?"),
    ("slt", "My name is Sarah Johnson and I have been feeling anxious most mornings."),
    ("rms", "It sounds like mornings are hard. What would you tell a friend who felt that way?"),
    ("slt", "My address is eighty one maple drive. My birthday is march fourteenth."),
    ("slt", "Call me at five five five, two one nine, four three eight seven."),
    ("rms", "For homework this week, try writing down the worried thought. We will meet again next week."),
]
CANARY_WORDS = ["sarah", "johnson", "maple", "fourteenth"]
DIGITS = r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b"
SESSION_WORDS = ["anxious", "mornings", "homework", "friend"]  # never in logs


def run_in_sandbox(tmp_path, *args):
    """Run with its own HOME, TMPDIR and working directory, so every file it writes is seen."""
    dirs = {name: tmp_path / name for name in ("home", "tmp", "cwd", "out")}
    for d in dirs.values():
        d.mkdir(exist_ok=True)
    r = run_roomnote(*args, "--out", str(dirs["out"]), cwd=dirs["cwd"],
                     env={"HOME": str(dirs["home"]), "TMPDIR": str(dirs["tmp"]), "XDG_CACHE_HOME": str(dirs["home"])})
    return r, dirs


def all_files(*dirs):
    return sorted(p for d in dirs for p in d.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory, make_speech):
    wav = make_speech(CANARY_TURNS, "canary")
    tmp = tmp_path_factory.mktemp("canary")
    r, dirs = run_in_sandbox(tmp, "process", str(wav))
    return wav, r, dirs


def test_note_is_printed_and_written_as_json_and_markdown(canary_run):
    _, r, dirs = canary_run
    assert r.returncode == 0, r.stderr
    files = all_files(dirs["out"])
    assert [p.suffix for p in files] == [".json", ".md"]
    assert files[0].stem == files[1].stem
    note = json.loads(files[0].read_text())
    assert note["format"] == "soap"
    assert [s["title"] for s in note["sections"]] == ["Subjective", "Objective", "Assessment", "Plan"]
    assert files[1].read_text().strip() == r.stdout.strip()


def test_p1_only_the_note_is_written_and_nothing_identifying_leaves(canary_run):
    wav, r, dirs = canary_run
    # nothing written anywhere but the note's two files
    assert all_files(dirs["home"], dirs["tmp"], dirs["cwd"]) == []
    outputs = [r.stdout, r.stderr] + [p.read_text() for p in all_files(dirs["out"])]
    for text in outputs:
        low = text.lower()
        for word in CANARY_WORDS:
            assert word not in low
        assert not re.search(f"{DIGITS}( {DIGITS}){{3,}}", low), "a spoken number run leaked"
        assert not re.search(r"\b(555|219|4387|81)\b", low), "a written number leaked (whisper writes digits)"
    # redaction really happened (so the absence above is not an ASR accident)
    note = (all_files(dirs["out"])[0]).read_text()
    counts = json.loads(note)["redaction_counts"]
    for kind in ("NAME", "PHONE", "DATE", "ADDRESS"):
        assert counts.get(kind, 0) >= 1, kind
    # no audio in any output: no 32-byte window of the session's PCM
    with wave.open(str(wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    blobs = [p.read_bytes() for p in all_files(dirs["out"])] + [r.stdout.encode(), r.stderr.encode()]
    for probe in pcm_probes(pcm):
        assert not any(probe in b for b in blobs)


def test_logs_carry_no_session_words(canary_run):
    _, r, _ = canary_run
    low = r.stderr.lower()
    assert "asr engine: whisper" in low  # the default English engine
    for word in SESSION_WORDS + CANARY_WORDS:
        assert word not in low


def test_stereo_44k_and_another_format(make_speech, tmp_path):
    src = make_speech(CANARY_TURNS, "canary")
    wav = tmp_path / "stereo.wav"
    subprocess.run(["sox", str(src), "-r", "44100", "-c", "2", str(wav)], check=True)
    r, dirs = run_in_sandbox(tmp_path, "process", str(wav), "--format", "dap")
    assert r.returncode == 0, r.stderr
    note = json.loads(all_files(dirs["out"])[0].read_text())
    assert note["format"] == "dap"
    assert [s["title"] for s in note["sections"]] == ["Data", "Assessment", "Plan"]
    assert "sarah" not in r.stdout.lower()


def test_silent_recording_gives_a_no_speech_note(tmp_path):
    wav = tmp_path / "silent.wav"
    write_wav(wav, np.zeros(16000 * 8))
    r, dirs = run_in_sandbox(tmp_path, "process", str(wav))
    assert r.returncode == 0, r.stderr
    assert "No speech was captured" in r.stdout
    assert json.loads(all_files(dirs["out"])[0].read_text())["no_speech"] is True


def _broken_inputs(tmp_path, make_speech):
    good = make_speech(CANARY_TURNS[:1], "short").read_bytes()
    cases = {
        "missing": (tmp_path / "absent.wav", "no such file"),
        "not a wav": (tmp_path / "notes.txt", "not a WAV file"),
        "truncated": (tmp_path / "cut.wav", "truncated WAV"),
        "empty": (tmp_path / "empty.wav", "empty recording"),
    }
    cases["not a wav"][0].write_text("session notes, not audio\n")
    cases["truncated"][0].write_bytes(good[: len(good) // 3])
    write_wav(cases["empty"][0], np.zeros(0))
    return cases


@pytest.mark.parametrize("case", ["missing", "not a wav", "truncated", "empty"])
def test_bad_audio_gives_one_clear_line(tmp_path, make_speech, case):
    path, expected = _broken_inputs(tmp_path, make_speech)[case]
    r, dirs = run_in_sandbox(tmp_path, "process", str(path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("roomnote: error: ") and expected in lines[0], r.stderr
    assert all_files(dirs["out"], dirs["tmp"], dirs["cwd"]) == []


def test_unreadable_config_gives_one_clear_line(tmp_path, make_speech):
    cfg = tmp_path / "roomnote.toml"
    cfg.write_text('[asr]\nengine = "kaldi"\n')
    r, dirs = run_in_sandbox(tmp_path, "process", str(make_speech(CANARY_TURNS[:1], "short")), "--config", str(cfg))
    assert r.returncode == 2
    assert r.stderr.strip() == (f"roomnote: error: {cfg}: asr.engine: expected one of auto, vosk, pocketsphinx, "
                                "whisper, got 'kaldi'")
    assert all_files(dirs["out"]) == []


def test_failed_note_write_keeps_the_printed_note(tmp_path, make_speech):
    """A file size limit makes the note's write fail the way a full disk does."""
    import os
    import resource
    import sys

    wav = make_speech(CANARY_TURNS[:2], "two-turns")
    out = tmp_path / "out"
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
    r = subprocess.run([sys.executable, "-m", "roomnote", "process", str(wav), "--out", str(out)],
                       capture_output=True, text=True, preexec_fn=limit, env=dict(os.environ))
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()[-1]
    assert err.startswith("roomnote: error: ") and "cannot write the note" in err and "printed above" in err
    assert "## Subjective" in r.stdout  # nothing lost: the note is on the terminal
    assert all_files(out) == []  # and no half-written file is left behind


def test_raw_transcript_is_dropped_once_the_note_exists(default_config):
    from roomnote.pipeline import note_from_transcript, session_facts
    from roomnote.transcript import Segment, Transcript, Word

    words = [Word(w, i * 0.3, i * 0.3 + 0.25, 0.9) for i, w in enumerate("my name is sarah johnson".split())]
    t = Transcript([Segment("s0001", 0.0, 1.5, words)], 2.0, 1.5, "pocketsphinx/test")
    facts = session_facts(default_config, t, datetime.now(timezone.utc), "sess1")
    note = note_from_transcript(t, "soap", facts)
    assert note.redaction_counts.get("NAME", 0) >= 1
    assert t.segments == [] and words == []  # P1: nothing of the raw transcript is left to read
