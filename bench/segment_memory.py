"""Memory through unbroken talk (issue 19, item 11): RSS of the recognition loop fed continuous
babble (three flite voices over each other, no pause the VAD would end a segment on), with the
segment limit (vad.max_segment_s, default 28 s) and without it (120 s, the most the config allows).

    .venv/bin/python bench/segment_memory.py                 # 3 minutes of babble, pocketsphinx
    .venv/bin/python bench/segment_memory.py --minutes 60    # the hour the issue asks for

Prints RSS every 30 s of audio, then wall and CPU time (user+sys). The babble is synthetic: a noisy
real room may score differently, the bound does not depend on it.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "daemon"))

from roomnote.asr.select import load_transcriber  # noqa: E402
from roomnote.audio import FRAME_SAMPLES, SAMPLE_RATE  # noqa: E402
from roomnote.audio.vad import load_vad  # noqa: E402
from roomnote.config import config_from_dict  # noqa: E402
from roomnote.models import load_manifest  # noqa: E402
from roomnote.pipeline import Engines, LiveRecognition  # noqa: E402
from roomnote.synth import babble  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(minutes: float, cap: float, loop) -> None:
    cfg = config_from_dict({"vad": {"max_segment_s": cap}, "speakers": {"enabled": False}})
    manifest = load_manifest()
    engines = Engines(load_vad(manifest, cfg.models.dir), load_transcriber(cfg, manifest))
    rec = LiveRecognition(engines, cfg)
    frames_per_min = 60 * SAMPLE_RATE // FRAME_SAMPLES
    n = int(minutes * frames_per_min)
    every = frames_per_min // 2
    start_rss, t0, c0 = rss_mb(), time.perf_counter(), cpu_s()
    marks = []
    for i in range(n):
        j = (i * FRAME_SAMPLES) % (len(loop) - FRAME_SAMPLES)
        rec.push(loop[j:j + FRAME_SAMPLES].copy())
        if (i + 1) % every == 0:
            marks.append(f"{rss_mb():.0f}")
    transcript = rec.finish()
    engines.close()
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    longest = max((s.end - s.start for s in transcript.segments), default=0.0)
    print(f"max_segment_s={cap:>5.0f}: RSS {start_rss:.0f} MB at start, every 30 s {' '.join(marks)} MB, "
          f"{rss_mb():.0f} MB at the end; {len(transcript.segments)} segments, longest {longest:.1f} s, "
          f"{rec.gate.forced_cuts} cut by the limit; {wall:.0f} s wall, {cpu:.0f} s CPU (user+sys) "
          f"for {minutes * 60:.0f} s of audio", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--caps", default="28,120", help="vad.max_segment_s values to compare")
    a = p.parse_args()
    loop = babble(60, Path(tempfile.mkdtemp()))
    print(f"{os.cpu_count()} CPUs; babble: 3 flite voices over each other, a 60 s loop")
    for cap in (float(c) for c in a.caps.split(",")):
        run(a.minutes, cap, loop)


if __name__ == "__main__":
    main()
