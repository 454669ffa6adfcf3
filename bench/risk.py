#!/usr/bin/env python3
"""Risk lines, precision and recall per category and stance: `.venv/bin/python bench/risk.py`.

Two sets:
  - the scripted exchanges of tests/data/risk_exchanges.toml (written for roomnote, each with
    its expected risk lines; the rules were written with them in view: an upper bound);
  - ../shared/data/annomi-dev.csv, 67 real counselling transcripts read at run time (never
    copied), scored against bench/risk_annomi_gold.toml (ids only). Development figures.
Each with speakers identified (the therapist's and client's labels as given) and with every
speaker unknown (no voice enrolled). Printed per set: precision and recall per category and
per stance, the targets (recall 1.0 on the client's disclosures, 0 invented denials, 0 lines
where a therapist's words are counted as the client's stance), and the time to assess
every transcript (wall and CPU, median of --repeat).

A line is matched on (session, utterance whose own words give it, category:stance); for the
scripted set the session is the exchange and the utterance is not compared.
"""
from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import time
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "daemon"))
sys.path.insert(0, str(REPO / "tests"))

from risk_exchanges import load_exchanges, segments_of, stance_from_therapist  # noqa: E402
from roomnote.notes.risk import STANCES, assess_risk, risk_section  # noqa: E402
from roomnote.notes.risk_cues import CATEGORIES  # noqa: E402

# ../shared/data from the repository (a worktree one level deeper looks one more up)
ANNOMI = next((p for p in (REPO.parent / "shared" / "data" / "annomi-dev.csv",
                           REPO.parents[1] / "shared" / "data" / "annomi-dev.csv") if p.exists()),
              REPO.parent / "shared" / "data" / "annomi-dev.csv")
GOLD = Path(__file__).with_name("risk_annomi_gold.toml")
SHOWN = ("flag", "suicidal_ideation:summary")
CANDIDATE = re.compile(r"suicid|kill|hurt|harm|cut(ting)? (my|your)self|\bdie\b|dying|\bdead\b|overdos|\bOD\b|"
                       r"abus|neglect|\bhit\b|\bbeat|violen|\bsafe\b|weapon|\bgun\b|pills|punch|slap|shove|"
                       r"choke|threat|wake up|live anymore|not (be )?(alive|here)|narcan", re.I)


class Tally:
    def __init__(self):
        self.tp, self.fp, self.fn = Counter(), Counter(), Counter()
        self.invented_denials = self.therapist_stance = 0
        self.disclosed = self.disclosure_flagged = 0

    def add(self, got: set, want: set) -> None:
        for key in got & want:
            self.tp[key[-1]] += 1
        for key in got - want:
            self.fp[key[-1]] += 1
            self.invented_denials += key[-1].endswith(":denial")
        for key in want - got:
            self.fn[key[-1]] += 1

    def rows(self):
        def pr(match):
            tp = sum(v for k, v in self.tp.items() if match(k))
            fp = sum(v for k, v in self.fp.items() if match(k))
            fn = sum(v for k, v in self.fn.items() if match(k))
            p = f"{tp / (tp + fp):.2f}" if tp + fp else "  - "
            r = f"{tp / (tp + fn):.2f}" if tp + fn else "  - "
            return tp, fp, fn, p, r
        for c in CATEGORIES:
            yield c, pr(lambda k, c=c: k.startswith(c + ":"))
        for s in STANCES:
            yield s, pr(lambda k, s=s: k.endswith(":" + s))
        yield "all lines", pr(lambda k: True)


def print_tally(name: str, t: Tally) -> None:
    print(f"\n{name}")
    print(f"  {'':24} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>5} {'recall':>6}")
    for label, (tp, fp, fn, p, r) in t.rows():
        if tp + fp + fn:
            print(f"  {label:24} {tp:4} {fp:4} {fn:4} {p:>5} {r:>6}")
    rec = f"{t.disclosure_flagged}/{t.disclosed}" if t.disclosed else "-"
    print(f"  client disclosures flagged (target all): {rec}; invented denials (target 0): "
          f"{t.invented_denials}; therapist words as the client's stance (target 0): {t.therapist_stance}")


def keys(lines) -> set:
    return {ln.key for ln in lines}


def scripted(labelled: bool) -> Tally:
    t = Tally()
    for e in load_exchanges():
        segs = e.segments(labelled)
        items, flags = risk_section(segs)
        got = {(e.id, it.category) for it in items if it.kind == "risk" and it.category not in SHOWN}
        want = {(e.id, k) for k in e.risk}
        if not labelled:  # a bare "no" is shown with its question, never a denial, when nobody is identified
            want = {(i, k) for i, k in want if not (k.endswith(":denial") and (i, k) not in got
                                                    and _bare_answer(e, k))}
        t.add(got, want)
        t.disclosed += len(e.client_disclosure)
        t.disclosure_flagged += len(set(e.client_disclosure) & set(flags))
        t.therapist_stance += stance_from_therapist(assess_risk(segs), {s.id: s.speaker for s in e.segments()})
    return t


def _bare_answer(e, key: str) -> bool:
    """The expected denial rests on a reply without risk words of its own ("No. Never.")."""
    lines = [ln for ln in assess_risk(e.segments()) if ln.key == key]
    return bool(lines) and all(ln.detail == "answer" for ln in lines)


def annomi_sessions():
    by: dict[int, list[dict]] = defaultdict(list)
    with ANNOMI.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            by[int(r["transcript_id"])].append(r)
    for tid, rows in sorted(by.items()):
        rows.sort(key=lambda r: int(r["utterance_id"]))
        yield tid, rows


def annomi(labelled: bool) -> tuple[Tally, float, float, int]:
    gold = tomllib.loads(GOLD.read_text(encoding="utf-8"))["line"]
    want = {(g["transcript"], g["utterance"], g["risk"]) for g in gold}
    t, wall, cpu, n = Tally(), 0.0, 0.0, 0
    for tid, rows in annomi_sessions():
        segs = segments_of([(r["interlocutor"], r["utterance_text"]) for r in rows], labelled)
        uid = {s.id: int(r["utterance_id"]) for s, r in zip(segs, rows)}
        w0, c0 = time.perf_counter(), time.process_time()
        _, flags = risk_section(segs)  # what composing a note runs
        wall, cpu, n = wall + time.perf_counter() - w0, cpu + time.process_time() - c0, n + len(segs)
        lines = assess_risk(segs)
        got = {(tid, uid[next(e for e in ln.evidence if e.basis != "context").segment_id], ln.key) for ln in lines}
        t.add(got, {w for w in want if w[0] == tid})
        told = {g["risk"].split(":")[0] for g in gold if g["transcript"] == tid and g["risk"].endswith(":disclosure")}
        t.disclosed += len(told)
        t.disclosure_flagged += len(told & set(flags))
        t.therapist_stance += stance_from_therapist(lines, {s.id: r["interlocutor"] for s, r in zip(segs, rows)})
    return t, wall, cpu, n


def candidates(show: bool) -> None:
    """Utterances a risk annotator should read (ids; text only on the terminal with --show)."""
    for tid, rows in annomi_sessions():
        for r in rows:
            if CANDIDATE.search(r["utterance_text"]):
                extra = f"  {r['utterance_text'][:200]}" if show else ""
                print(f"{tid:4} {r['utterance_id']:>4} {r['interlocutor']:9}{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timing runs over AnnoMI (median)")
    ap.add_argument("--candidates", action="store_true", help="list AnnoMI utterances to annotate, and stop")
    ap.add_argument("--show", action="store_true", help="with --candidates: print their text to the terminal")
    args = ap.parse_args()
    if args.candidates:
        candidates(args.show)
        return
    n_ex = len(load_exchanges())
    for labelled in (True, False):
        print_tally(f"scripted exchanges ({n_ex}), speakers {'identified' if labelled else 'not identified'}"
                    " [written for roomnote: an upper bound]", scripted(labelled))
    if not ANNOMI.exists():
        print(f"\n{ANNOMI} not found: AnnoMI figures skipped (the data set is read at run time only).")
        return
    for labelled in (True, False):
        runs = [annomi(labelled) for _ in range(max(1, args.repeat))]
        t, _, _, n = runs[0]
        print_tally(f"AnnoMI dev (67 real transcripts, {n} utterances), speakers "
                    f"{'identified' if labelled else 'not identified'} [development figures]", t)
        wall = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        print(f"  time to assess all 67 transcripts: wall {wall * 1000:.0f} ms, CPU (user+sys) {cpu * 1000:.0f} ms "
              f"(median of {len(runs)})")


if __name__ == "__main__":
    main()
