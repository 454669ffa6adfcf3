"""WAV reading, conversion to 16 kHz mono, and the Silero VAD, on real synthesised speech."""
import subprocess
import wave

import numpy as np
import pytest

from roomnote.audio import FRAME_SAMPLES
from roomnote.audio.resample import Resampler
from roomnote.audio.vad import SpeechGate, SegmentEnd, SegmentStart
from roomnote.audio.wavfile import read_wav_info, wav_frames
from roomnote.errors import AudioError
from roomnote.synth import write_wav

TURNS = [("slt", "I have been sleeping badly for about two weeks."), ("rms", "Tell me more about that.")]


def sox(src, dst, *opts):
    subprocess.run(["sox", str(src), *opts, str(dst)], check=True)
    return dst


def frames_of(path):
    return np.concatenate([f.copy() for f in wav_frames(path)])


@pytest.mark.parametrize("opts, desc", [
    (["-r", "44100", "-c", "2"], "44.1 kHz stereo"),
    (["-r", "48000", "-b", "24"], "48 kHz 24 bit"),
    (["-r", "8000", "-b", "8", "-e", "unsigned-integer"], "8 kHz 8 bit"),
    (["-r", "22050", "-b", "32", "-e", "signed-integer", "-c", "2"], "22.05 kHz 32 bit stereo"),
])
def test_common_formats_become_16k_mono(make_speech, tmp_path, opts, desc):
    src = make_speech(TURNS, "formats")
    converted = sox(src, tmp_path / "in.wav", *opts)
    ref, got = frames_of(src), frames_of(converted)
    assert abs(len(got) - len(ref)) <= 2 * FRAME_SAMPLES, desc
    n = min(len(ref), len(got))
    # same speech envelope: correlate 32 ms energies
    e = lambda x: np.sqrt((x[: n // 512 * 512].astype(np.float64).reshape(-1, 512) ** 2).mean(axis=1))
    assert np.corrcoef(e(ref), e(got))[0, 1] > 0.97, desc


def test_resampler_keeps_pitch_and_removes_what_cannot_be_kept():
    rate = 48000
    t = np.arange(rate) / rate
    def through(signal):
        r = Resampler(rate, 16000)
        return np.concatenate([r.process(c) for c in np.array_split(signal * 10000, 37)])
    tone = through(np.sin(2 * np.pi * 1000 * t))
    spectrum = np.abs(np.fft.rfft(tone[2000:14000]))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 1000) < 5  # 1 kHz stays 1 kHz, across chunk edges
    alias = through(np.sin(2 * np.pi * 12000 * t))  # above the new Nyquist: must not fold to 4 kHz
    assert np.abs(alias[2000:14000]).max() < 0.05 * np.abs(tone[2000:14000]).max()


def test_not_a_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is a text file")
    with pytest.raises(AudioError, match="not a WAV file"):
        read_wav_info(p)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        read_wav_info(tmp_path / "nope.wav")


def test_truncated_wav_is_refused_before_processing(make_speech, tmp_path):
    data = make_speech(TURNS, "formats").read_bytes()
    p = tmp_path / "cut.wav"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"truncated WAV: the header promises \d+\.\d s but the file holds"):
        read_wav_info(p)
    p.write_bytes(data[:30])
    with pytest.raises(AudioError, match="truncated WAV"):
        read_wav_info(p)


def test_float_wav_is_refused_with_a_fix(make_speech, tmp_path):
    p = sox(make_speech(TURNS, "formats"), tmp_path / "float.wav", "-e", "floating-point", "-b", "32")
    with pytest.raises(AudioError, match="not integer PCM.*sox"):
        read_wav_info(p)


def test_frame_buffers_are_zeroed_when_reading_ends(make_speech):
    heard = False
    for f in wav_frames(make_speech(TURNS, "formats")):
        heard, held = heard or bool(f.any()), f
    assert heard and not held.any()  # promise P1: the reusable buffer is wiped at the end


def test_vad_finds_each_turn_and_skips_silence(english_engines, default_config, make_speech, tmp_path):
    path = make_speech(TURNS, "formats")
    # add 3 s of silence in front: no segment may start there
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    padded = tmp_path / "padded.wav"
    write_wav(padded, np.concatenate([np.zeros(48000, np.int16), pcm]))
    vad = english_engines.vad
    vad.reset()
    gate = SpeechGate()
    events = []
    for f in wav_frames(padded):
        events += [e for e in gate.push(f, vad(f)) if not hasattr(e, "pcm")]
    events += gate.flush()
    starts = [e.at for e in events if isinstance(e, SegmentStart)]
    ends = [e.at for e in events if isinstance(e, SegmentEnd)]
    assert len(starts) == 2 and len(ends) == 2  # one segment per turn
    assert starts[0] > 3.0
    assert gate.speech < gate.duration - 3.0


def test_silence_and_noise_give_no_segments(english_engines):
    rng = np.random.default_rng(1)
    vad = english_engines.vad
    vad.reset()
    gate = SpeechGate()
    noise = (rng.normal(0, 200, 16000 * 5)).astype(np.int16)  # quiet room hiss
    for i in range(0, len(noise) - FRAME_SAMPLES, FRAME_SAMPLES):
        f = noise[i:i + FRAME_SAMPLES]
        assert gate.push(f, vad(f)) == []
    assert gate.flush() == []


def test_frame_buffers_are_zeroed_when_the_reader_stops_early(make_speech):
    frames = wav_frames(make_speech(TURNS, "formats"))
    for _ in range(40):  # past the half second of lead-in, into speech
        f = next(frames)
    assert f.any()
    frames.close()  # a consumer that gives up (error, withdrawal) still leaves no audio behind
    assert not f.any()


def test_audio_leaving_the_pre_roll_is_wiped():
    gate = SpeechGate(pad_ms=64)  # two frames of pre-roll
    frames = [np.full(FRAME_SAMPLES, 1000 + i, np.int16) for i in range(3)]
    gate.push(frames[0], 0.0)
    gate.push(frames[1], 0.0)
    oldest = gate.preroll[0]
    assert oldest.any()
    gate.push(frames[2], 0.0)  # pushes the oldest frame out
    assert not oldest.any()  # P1: zeroed, not just dropped
    kept = list(gate.preroll)
    assert gate.flush() == [] and not any(f.any() for f in kept)


def test_resampler_state_is_wiped():
    r = Resampler(48000, 16000)
    r.process(np.full(4800, 3000, np.float32))
    assert r.history.any() and r.pending.any()
    r.wipe()
    assert not r.history.any() and not r.pending.any()
