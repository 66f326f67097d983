"""Word embeddings, embedworks vs gensim 4.x, in the same run, on the same corpus and settings.

    .venv-bench/bin/python benchmarks/words.py                       # full run (17M tokens)
    .venv-bench/bin/python benchmarks/words.py --tokens 200000 --epochs 1 --only sg,cbow

The corpus is text8-style, built once from `enwiki-text/enwiki-2015-wikiextractor-AA.txt.gz`
(the real text8 cannot be had here) by text8's recipe (Mahoney's wikifil.pl): drop the
`<doc …>` / `</doc>` lines, the repeated title line (text8 holds article text only) and leftover
tags, lower-case A–Z, spell out digits ("0" → " zero "),
turn everything but a–z into spaces, squeeze, keep the first 17,005,207 tokens. It is cached in
`benchmarks/.cache/` twice: one line of text (text8 layout, for embedworks) and 10,000 tokens
per line (for gensim's `corpus_file=`, its fastest, multi-core mode; same tokens, same
10,000-token sentences as embedworks cuts the single line into).

Settings shared by both: dim 100, window 5, negative 5, sample 1e-3, min_count 5, epochs 5,
workers 2, seed 0; skip-gram ("sg") and CBOW ("cbow") Word2Vec with negative sampling.
FastText ("fasttext") adds gensim's FastText defaults, passed explicitly to both: CBOW,
min_n 3, max_n 6, bucket 2,000,000 (only when `embedworks.learn.FastText` exists). GloVe
("glove") is ours only (dim 100, min_count 5, workers 2, its own defaults otherwise).

Each model trains in its own fresh process (peak RSS is that process's ru_maxrss, read right
after training). Reported per library: training seconds (vocabulary + training, wall clock),
words/s = corpus tokens × epochs / seconds (the same formula for both; GloVe: tokens / s),
peak RSS, analogy accuracy (questions-words.txt, restrict_vocab 30,000, 3CosAdd, embedworks'
evaluator on both libraries' vectors; gensim's own `evaluate_word_analogies` on gensim's
vectors as a cross-check), WordSim-353 and SimLex-999 Spearman (embedworks' evaluator; gensim's
`evaluate_word_pairs` on its copies of the same pairs as a cross-check).

gensim (LGPL-2.1) is a benchmark-only dependency; see benchmarks/requirements.txt.
"""

from __future__ import annotations

import argparse
import gzip
import html
import inspect
import math
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

TEXT8_TOKENS = 17_005_207
LINE_TOKENS = 10_000
SOURCE = ("enwiki-text", "enwiki-2015-wikiextractor-AA.txt.gz")
KINDS = ("sg", "cbow", "fasttext", "glove")
SHARED = {"dim": 100, "window": 5, "negative": 5, "sample": 1e-3, "min_count": 5, "epochs": 5,
          "workers": 2, "seed": 0}
FASTTEXT_DEFAULTS = {"sg": False, "min_n": 3, "max_n": 6, "bucket": 2_000_000}
RESTRICT_VOCAB = 30_000
ANALOGY = ("wordsim", "questions-words.txt")
WS353 = ("wordsim", "EN-WS-353-ALL.txt")
SIMLEX = ("wordsim", "SimLex-999.txt")
GENSIM_WS353 = ("wordsim", "gensim-wordsim353.tsv")  # the same 353 pairs, gensim's layout
GENSIM_SIMLEX = ("wordsim", "gensim-simlex999.txt")  # the same 999 scores, gensim's layout


# ---------------------------------------------------------------------------------- corpus
_DIGITS = "zero one two three four five six seven eight nine".split()
_TRANSLATE = {**{ord(c): chr(ord(c) + 32) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
              **{ord(str(d)): f" {w} " for d, w in enumerate(_DIGITS)}}
_REF = re.compile(r"<ref[^<]*</ref>")
_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&[^;\s]*;")
_WORD = re.compile(r"[a-z]+")
_TITLE = re.compile(r'title="([^"]*)"')


def text8_tokens(line: str) -> list[str]:
    """One line of WikiExtractor text → text8 tokens, as wikifil.pl: tags gone, A–Z lower-cased
    (ASCII only, as Perl's tr/A-Z/a-z/), digits spelled out, anything else a separator."""
    line = _TAG.sub("", _REF.sub("", line))
    line = _ENTITY.sub(" ", line)
    return _WORD.findall(line.translate(_TRANSLATE))


def build_corpus(tokens: int = TEXT8_TOKENS) -> tuple[Path, Path, int]:
    """(single-line text8 file, 10,000-tokens-per-line file, tokens written), cached."""
    cache = common.cache_dir()
    single = cache / f"text8-enwiki-{tokens}.txt"
    lines = cache / f"text8-enwiki-{tokens}.lines.txt"
    count_file = cache / f"text8-enwiki-{tokens}.count"
    if single.exists() and lines.exists() and count_file.exists():
        return single, lines, int(count_file.read_text())
    source = common.data_file(*SOURCE)
    print(f"building the text8-style corpus ({tokens:,} tokens) from {source} ...", file=sys.stderr)
    tmp_single, tmp_lines = single.with_suffix(".tmp"), lines.with_suffix(".tmp")
    written = 0
    pending: list[str] = []
    with gzip.open(source, "rt", encoding="utf-8", errors="replace") as src, \
            open(tmp_single, "w", encoding="ascii") as out_single, \
            open(tmp_lines, "w", encoding="ascii") as out_lines:
        title = None
        for raw in src:
            if raw.startswith(("<doc", "</doc")):
                found = _TITLE.search(raw) if raw.startswith("<doc") else None
                title = html.unescape(found.group(1)) if found else None
                continue
            if title is not None:  # WikiExtractor repeats the title as the first line; text8
                first, title = title, None  # holds article text only
                if raw.strip() == first.strip():
                    continue
            words = text8_tokens(raw)
            if not words:
                continue
            words = words[:tokens - written]
            out_single.write((" " if written else "") + " ".join(words))
            written += len(words)
            pending.extend(words)
            while len(pending) >= LINE_TOKENS:
                out_lines.write(" ".join(pending[:LINE_TOKENS]) + "\n")
                del pending[:LINE_TOKENS]
            if written >= tokens:
                break
        if pending:
            out_lines.write(" ".join(pending) + "\n")
    if written < tokens:
        print(f"note: the source holds only {written:,} text8 tokens (asked for {tokens:,})",
              file=sys.stderr)
    os.replace(tmp_single, single)
    os.replace(tmp_lines, lines)
    count_file.write_text(str(written))
    return single, lines, written


# ---------------------------------------------------------------------------------- children
def _evaluate(emb, paths: dict) -> dict:
    from embedworks.evaluate import analogy, word_similarity

    add = analogy(emb, paths["analogy"], restrict_vocab=RESTRICT_VOCAB)
    mul = analogy(emb, paths["analogy"], restrict_vocab=RESTRICT_VOCAB, method="3cosmul")
    ws = word_similarity(emb, paths["ws353"])
    sl = word_similarity(emb, paths["simlex"])
    return {
        "vocab": len(emb), "analogy": add.accuracy, "analogy_semantic": add.semantic.accuracy,
        "analogy_syntactic": add.syntactic.accuracy, "analogy_answered": add.total,
        "analogy_oov_ratio": add.oov_ratio, "analogy_3cosmul": mul.accuracy,
        "ws353_spearman": ws.spearman, "ws353_oov": ws.oov, "simlex_spearman": sl.spearman,
        "simlex_oov": sl.oov,
    }


def _accepted(cls, settings: dict, required: tuple = ()) -> dict:
    """The settings `cls` accepts; a missing required one is an error, not a silent default."""
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(settings)
    missing = [k for k in required if k not in params]
    if missing:
        raise TypeError(f"{cls.__name__} does not accept {missing}; the comparison needs them")
    return {k: v for k, v in settings.items() if k in params}


def train_ours(kind: str, corpus: str, tokens: int, settings: dict, paths: dict) -> dict:
    """Train one embedworks model in this (child) process, measure, evaluate."""
    import embedworks
    from embedworks import learn

    if kind == "glove":
        cls = learn.GloVe
        wanted = {k: settings[k] for k in ("dim", "min_count", "workers", "seed")}
        if settings.get("glove_epochs"):
            wanted["epochs"] = settings["glove_epochs"]
        required = ("dim", "min_count", "workers")
    else:
        cls = learn.FastText if kind == "fasttext" else learn.Word2Vec
        wanted = {k: settings[k] for k in SHARED}
        wanted["hs"] = False
        wanted["sg"] = kind == "sg"
        if kind == "fasttext":
            wanted.update(FASTTEXT_DEFAULTS)
        required = (*SHARED, "sg")
    kwargs = _accepted(cls, {**wanted, "progress": False}, required)
    model = cls(**kwargs)
    with common.Timer() as timer:
        model.fit(corpus)
    peak = common.peak_rss_mb()
    epochs = kwargs.get("epochs", getattr(model, "epochs", 1))
    result = {
        "impl": "embedworks", "version": embedworks.__version__, "seconds": timer.seconds,
        "words_per_s": (tokens if kind == "glove" else tokens * epochs) / timer.seconds,
        "peak_rss_mb": peak, "params": {k: v for k, v in kwargs.items() if k != "progress"},
    }
    if hasattr(model, "get_params"):  # every hyperparameter, defaults included
        result["params"] = {k: v for k, v in model.get_params().items() if k != "progress"}
    if isinstance(getattr(type(model), "start_alpha", None), property):
        result["params"]["start_alpha"] = model.start_alpha
    if kind == "glove":
        result["params"]["epochs"] = epochs
    result.update(_evaluate(model.embeddings, paths))
    return result


def warm_up(kinds: list[str], corpus: str, settings: dict) -> dict:
    """Fit each of our models once on a tiny corpus so that Numba's on-disk cache is filled and
    the timed runs measure training, not first-time compilation (as gensim's Cython is compiled
    ahead of time)."""
    from embedworks import learn

    done = []
    for kind in kinds:
        name = {"sg": "Word2Vec", "cbow": "Word2Vec", "fasttext": "FastText", "glove": "GloVe"}[kind]
        cls = getattr(learn, name, None)
        if cls is None:
            continue
        wanted = {"dim": settings["dim"], "min_count": 1, "workers": settings["workers"],
                  "epochs": 1, "sg": kind == "sg", "progress": False}
        cls(**_accepted(cls, wanted)).fit(corpus)
        done.append(kind)
    return {"warmed": done}


def train_gensim(kind: str, corpus_lines: str, tokens: int, settings: dict, paths: dict) -> dict:
    """Train one gensim model (corpus_file= mode) in this (child) process, measure, evaluate."""
    import gensim
    from gensim.models import FastText, Word2Vec

    kwargs = {"vector_size": settings["dim"], "window": settings["window"],
              "negative": settings["negative"], "hs": 0, "sample": settings["sample"],
              "min_count": settings["min_count"], "epochs": settings["epochs"],
              "workers": settings["workers"], "seed": settings["seed"]}
    if kind == "fasttext":
        cls = FastText
        kwargs.update({"sg": int(FASTTEXT_DEFAULTS["sg"]), "min_n": FASTTEXT_DEFAULTS["min_n"],
                       "max_n": FASTTEXT_DEFAULTS["max_n"], "bucket": FASTTEXT_DEFAULTS["bucket"]})
    else:
        cls = Word2Vec
        kwargs["sg"] = int(kind == "sg")
    with common.Timer() as timer:
        model = cls(corpus_file=corpus_lines, **kwargs)  # build_vocab + train
    peak = common.peak_rss_mb()
    kv = model.wv
    result = {
        "impl": "gensim", "version": gensim.__version__, "seconds": timer.seconds,
        "words_per_s": tokens * settings["epochs"] / timer.seconds, "peak_rss_mb": peak,
        "params": {**kwargs, "alpha": model.alpha, "min_alpha": model.min_alpha,
                   "cbow_mean": model.cbow_mean},
    }
    from embedworks import Embeddings

    result.update(_evaluate(Embeddings(list(kv.index_to_key), kv.vectors), paths))
    # cross-check: gensim's own evaluators on gensim's vectors
    score, _ = kv.evaluate_word_analogies(paths["analogy"], restrict_vocab=RESTRICT_VOCAB)
    _, spearman_ws, _ = kv.evaluate_word_pairs(paths["gensim_ws353"])
    _, spearman_sl, _ = kv.evaluate_word_pairs(paths["gensim_simlex"])
    result.update({"gensim_eval_analogy": score, "gensim_eval_ws353": float(spearman_ws.statistic),
                   "gensim_eval_simlex": float(spearman_sl.statistic)})
    return result


# ---------------------------------------------------------------------------------- report
HEADER = ["model", "gensim words/s", "ours words/s", "speed ×", "gensim s", "ours s",
          "gensim RSS MB", "ours RSS MB", "RSS ×", "gensim analogy %", "ours analogy %", "Δ pts",
          "gensim WS-353 ρ", "ours WS-353 ρ", "gensim SimLex ρ", "ours SimLex ρ"]


def table_row(kind: str, peer: dict | None, ours: dict | None) -> list[str]:
    peer, ours = peer or {}, ours or {}
    get = lambda d, k: d.get(k, math.nan)  # noqa: E731
    pct = lambda v: v * 100 if isinstance(v, (int, float)) else v  # noqa: E731
    return [
        kind,
        common.fmt(get(peer, "words_per_s"), ",.0f"), common.fmt(get(ours, "words_per_s"), ",.0f"),
        common.fmt(common.ratio(get(ours, "words_per_s"), get(peer, "words_per_s")), ".2f", "×"),
        common.fmt(get(peer, "seconds"), ".1f"), common.fmt(get(ours, "seconds"), ".1f"),
        common.fmt(get(peer, "peak_rss_mb"), ",.0f"), common.fmt(get(ours, "peak_rss_mb"), ",.0f"),
        common.fmt(common.ratio(get(ours, "peak_rss_mb"), get(peer, "peak_rss_mb")), ".2f", "×"),
        common.fmt(pct(get(peer, "analogy")), ".2f"), common.fmt(pct(get(ours, "analogy")), ".2f"),
        common.fmt(pct(get(ours, "analogy")) - pct(get(peer, "analogy")), "+.2f"),
        common.fmt(get(peer, "ws353_spearman"), ".3f"), common.fmt(get(ours, "ws353_spearman"), ".3f"),
        common.fmt(get(peer, "simlex_spearman"), ".3f"), common.fmt(get(ours, "simlex_spearman"), ".3f"),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=TEXT8_TOKENS,
                        help=f"corpus tokens (default {TEXT8_TOKENS:,}, text8's size)")
    parser.add_argument("--only", default=",".join(KINDS),
                        help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result here")
    parser.add_argument("--epochs", type=int, default=SHARED["epochs"],
                        help="Word2Vec/FastText epochs (default 5; lower only for a quick check)")
    parser.add_argument("--glove-epochs", type=int, default=None,
                        help="GloVe epochs (default: GloVe's own default)")
    parser.add_argument("--workers", type=int, default=SHARED["workers"])
    parser.add_argument("--skip-gensim", action="store_true", help="train embedworks only")
    parser.add_argument("--no-warmup", action="store_true",
                        help="time embedworks including first-time Numba compilation")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or args.tokens <= 0:
        parser.error(f"unknown model kinds {unknown}" if unknown else "--tokens must be positive")

    paths = {name: str(common.data_file(*where)) for name, where in
             [("analogy", ANALOGY), ("ws353", WS353), ("simlex", SIMLEX),
              ("gensim_ws353", GENSIM_WS353), ("gensim_simlex", GENSIM_SIMLEX)]}
    single, lines, tokens = build_corpus(args.tokens)
    settings = {**SHARED, "epochs": args.epochs, "workers": args.workers,
                "glove_epochs": args.glove_epochs}
    common.limit_blas_threads(1)
    facts = {"machine": common.machine(), **common.versions("embedworks", "gensim", "numpy", "numba")}
    print(f"# {common.command_line()}\n# corpus: {tokens:,} tokens ({single.name}); "
          f"{facts['machine']['cpu']}, {facts['machine']['cores']} cores", file=sys.stderr)

    import embedworks.learn as learn

    if not args.no_warmup:
        tiny, _, _ = build_corpus(min(20_000, tokens))
        warmed = common.run_isolated(warm_up, kinds, str(tiny), settings)["warmed"]
        print(f"# warmed up (Numba cache filled): {', '.join(warmed) or 'nothing'}", file=sys.stderr)

    rows = []
    for kind in kinds:
        ours_cls = {"sg": "Word2Vec", "cbow": "Word2Vec", "fasttext": "FastText", "glove": "GloVe"}[kind]
        results: dict[str, dict | None] = {"gensim": None, "embedworks": None}
        jobs = []
        if kind != "glove" and not args.skip_gensim:
            jobs.append(("gensim", train_gensim, str(lines)))
        if hasattr(learn, ours_cls):
            jobs.append(("embedworks", train_ours, str(single)))
        else:
            print(f"# {kind}: embedworks.learn.{ours_cls} does not exist yet, skipped", file=sys.stderr)
            if kind in ("fasttext", "glove"):
                continue
        for impl, fn, corpus in jobs:
            print(f"# {kind}: training {impl} ...", file=sys.stderr, flush=True)
            try:
                result = common.run_isolated(fn, kind, corpus, tokens, settings, paths)
            except common.ChildError as exc:
                print(f"# {kind}: {impl} failed:\n{exc}", file=sys.stderr)
                result = {"impl": impl, "error": str(exc).strip().splitlines()[-1]}
            results[impl] = result
            record = {"bench": "words", "model": kind, "tokens": tokens, "corpus": single.name,
                      **result, **facts}
            common.emit_json(record, args.json)
        row = table_row(kind, results["gensim"], results["embedworks"])
        rows.append(row)
        print(common.markdown_row(row), flush=True)
        peer = results["gensim"] or {}
        if "gensim_eval_analogy" in peer:
            print(f"# {kind} cross-check on gensim's vectors, gensim's evaluators vs ours: analogy "
                  f"{peer['gensim_eval_analogy']:.4f} vs {peer['analogy']:.4f}, WS-353 "
                  f"{peer['gensim_eval_ws353']:.4f} vs {peer['ws353_spearman']:.4f}, SimLex "
                  f"{peer['gensim_eval_simlex']:.4f} vs {peer['simlex_spearman']:.4f}", file=sys.stderr)

    print()
    print(f"Command: `{common.command_line()}`  ")
    print(f"Corpus: {tokens:,} tokens of text8-style enwiki text; epochs {args.epochs}, workers "
          f"{args.workers}; {facts['machine']['cpu']} ({facts['machine']['cores']} cores); "
          f"embedworks {facts['embedworks']}, gensim {facts['gensim']}, numpy {facts['numpy']}, "
          f"numba {facts['numba']}. Analogy: questions-words, restrict_vocab {RESTRICT_VOCAB:,}, "
          f"3CosAdd; ρ = Spearman.\n")
    print(common.markdown_table(HEADER, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
