"""Document embeddings, embedworks Doc2Vec vs gensim 4.x Doc2Vec, in the same run, on the same data and settings.

    .venv-bench/bin/python benchmarks/doc2vec.py                         # PV-DBOW and PV-DM, 20 epochs
    .venv-bench/bin/python benchmarks/doc2vec.py --gensim-mode both      # gensim corpus_file and iterable
    .venv-bench/bin/python benchmarks/doc2vec.py --only dbow --epochs 2 --no-infer --json out.jsonl

Data: 20 Newsgroups, "bydate" split (`20newsgroups/20news-bydate.tar.gz` under
`$EMBEDWORKS_DATA`, default `../shared/data`): 11,314 train and 7,532 test messages, 20 classes.
Preprocessing (simple, the same for both): read as Latin-1; drop the headers (everything up to
the first blank line, as scikit-learn's ``remove=('headers',)``; footers and quotes are kept);
lower-case; tokens are runs of a-z; documents cut to 10,000 tokens (gensim's MAX_DOCUMENT_LEN);
messages with no token left are dropped (35; the count is printed). The documents are shuffled
once with a fixed seed (as scikit-learn's loader does: the tarball's class-sorted order makes SGD
results depend on the order and swing by several points for PV-DM) and cached in
`benchmarks/.cache/` as one document per line (gensim's `corpus_file` layout, where a document's
tag is its line number) with a labels file beside it.

Protocol: document vectors are learned for the train and test documents together (the usual
unsupervised practice: labels are never seen), then scikit-learn
``LogisticRegression(max_iter=1000)`` is fit on the train documents' vectors and scored on the
test documents' vectors: accuracy and macro-F1. Secondary (``--no-infer`` skips it): every test
document is re-inferred with the trained model frozen (ours: one `infer_many` call; gensim: an
``infer_vector`` loop, its only API) with the model's epochs and learning rates, and the same
classifier (fit on trained train vectors) is scored on the inferred test vectors.

Settings shared by both: dim 100, epochs 20, min_count 2, negative 5, hs 0, window 5, sample
1e-3, alpha 0.025, min_alpha 0.0001, workers 2, seed 0. Models: PV-DBOW ("dbow") and PV-DM with
the mean of the inputs ("dm"). gensim runs from `corpus_file=` (its fastest, multi-core mode) and,
with ``--gensim-mode both``, also from an iterable of TaggedDocuments (its usual mode). Note: in
gensim 4.4's `corpus_file` PV-DM kernel the reduced windows are drawn only when ``dbow_words``
is set, so PV-DM there always uses the full window (not word2vec's dynamic window, as its
iterable mode and embedworks do); its PV-DM accuracy differs accordingly. Both libraries are
timed from the same cached file on disk: ours streams it into `fit` as token lists, gensim builds
its vocabulary from the file (or the TaggedDocuments) and trains; the timed span ends when
training does. Wall seconds and CPU seconds (user + system of all threads, which other load on
the machine disturbs far less) are reported. Each model trains in its own fresh process (peak RSS
is that process's ru_maxrss right after training, before evaluating).

gensim (LGPL-2.1) and scikit-learn (BSD-3-Clause) are benchmark-only; see benchmarks/requirements.txt.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

SOURCE = ("20newsgroups", "20news-bydate.tar.gz")
KINDS = ("dbow", "dm")
IMPLS = ("gensim", "embedworks")
SHARED = {"dim": 100, "epochs": 20, "min_count": 2, "negative": 5, "hs": False, "window": 5,
          "sample": 1e-3, "alpha": 0.025, "min_alpha": 0.0001, "workers": 2, "seed": 0}
MAX_DOCUMENT_LEN = 10_000
SHUFFLE_SEED = 0
_WORD = re.compile(r"[a-z]+")


# ---------------------------------------------------------------------------------- data
def message_tokens(raw: bytes) -> list[str]:
    """One message → tokens: headers dropped (up to the first blank line), lower-cased, a-z runs."""
    text = raw.decode("latin-1")
    _, _, body = text.partition("\n\n")
    return _WORD.findall(body.lower())[:MAX_DOCUMENT_LEN]


def build_corpus() -> tuple[Path, Path, dict]:
    """(documents file, labels file, facts), built once from the tarball and cached."""
    cache = common.cache_dir()
    docs_file = cache / "20news-bydate.shuffled.docs.txt"
    labels_file = cache / "20news-bydate.shuffled.labels.tsv"
    if docs_file.exists() and labels_file.exists():
        return docs_file, labels_file, _facts(labels_file)
    source = common.data_file(*SOURCE)
    print(f"building the 20 Newsgroups corpus from {source} ...", file=sys.stderr)
    records, dropped = [], {"train": 0, "test": 0}
    with tarfile.open(source, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            parts = member.name.split("/")
            split = next((p.rsplit("-", 1)[1] for p in parts if p.startswith("20news-bydate-")), None)
            if split not in ("train", "test") or len(parts) < 3:
                continue
            tokens = message_tokens(tar.extractfile(member).read())
            if not tokens:
                dropped[split] += 1
                continue
            records.append((0 if split == "train" else 1, parts[-2], parts[-1], tokens))
    records.sort(key=lambda r: (r[0], r[1], int(r[2]) if r[2].isdigit() else r[2]))
    random.Random(SHUFFLE_SEED).shuffle(records)  # no class-sorted order for SGD (sklearn shuffles too)
    tmp_docs, tmp_labels = docs_file.with_suffix(".tmp"), labels_file.with_suffix(".tmp")
    with open(tmp_docs, "w", encoding="ascii") as fd, open(tmp_labels, "w", encoding="ascii") as fl:
        fl.write(f"# dropped (no tokens): train {dropped['train']}, test {dropped['test']}\n")
        for split, group, name, tokens in records:
            fd.write(" ".join(tokens) + "\n")
            fl.write(f"{'train' if split == 0 else 'test'}\t{group}\t{name}\n")
    os.replace(tmp_docs, docs_file)
    os.replace(tmp_labels, labels_file)
    return docs_file, labels_file, _facts(labels_file)


def read_labels(labels_file: Path) -> tuple[list[str], list[str]]:
    """(split of every document, newsgroup of every document), in file order."""
    splits, groups = [], []
    with open(labels_file, encoding="ascii") as f:
        for line in f:
            if line.startswith("#"):
                continue
            split, group, _ = line.rstrip("\n").split("\t")
            splits.append(split)
            groups.append(group)
    return splits, groups


def _facts(labels_file: Path) -> dict:
    splits, groups = read_labels(labels_file)
    with open(labels_file, encoding="ascii") as f:
        note = f.readline().strip("# \n")
    return {"train_docs": splits.count("train"), "test_docs": splits.count("test"),
            "classes": len(set(groups)), "note": note}


def iter_documents(docs_file: Path):
    """The documents of the cached file, one token list at a time."""
    with open(docs_file, encoding="ascii") as f:
        for line in f:
            yield line.split()


def read_documents(docs_file: Path) -> list[list[str]]:
    return list(iter_documents(docs_file))


# ---------------------------------------------------------------------------------- children
def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads (robust to other load on the
    machine, unlike wall time)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _classify(vectors, test_vectors, labels_file: str) -> dict:
    """LogisticRegression on train vectors, scored on `test_vectors` (rows = test documents)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    splits, groups = read_labels(Path(labels_file))
    train = np.array([s == "train" for s in splits])
    y = np.array(groups)
    clf = LogisticRegression(max_iter=1000).fit(np.asarray(vectors)[train], y[train])
    pred = clf.predict(np.asarray(test_vectors))
    return {"accuracy": accuracy_score(y[~train], pred), "macro_f1": f1_score(y[~train], pred, average="macro"),
            "classifier": clf}


def _evaluate(vectors, infer, labels_file: str, docs_file: str, do_infer: bool) -> dict:
    import numpy as np

    splits, _ = read_labels(Path(labels_file))
    test = np.array([s == "test" for s in splits])
    vectors = np.asarray(vectors, dtype=np.float32)
    res = _classify(vectors, vectors[test], labels_file)
    out = {"accuracy": res["accuracy"], "macro_f1": res["macro_f1"], "n_docs": len(vectors)}
    if do_infer:
        docs = read_documents(Path(docs_file))
        test_docs = [d for d, is_test in zip(docs, test) if is_test]
        cpu0 = cpu_seconds()
        with common.Timer() as t:
            inferred = infer(test_docs)
        infer_cpu = cpu_seconds() - cpu0
        clf = res["classifier"]
        from sklearn.metrics import accuracy_score, f1_score

        y = np.array(read_labels(Path(labels_file))[1])[test]
        pred = clf.predict(np.asarray(inferred, dtype=np.float32))
        out.update({"infer_seconds": t.seconds, "infer_cpu_seconds": infer_cpu, "infer_docs": len(test_docs),
                    "infer_accuracy": accuracy_score(y, pred),
                    "infer_macro_f1": f1_score(y, pred, average="macro")})
    return out


def train_ours(kind: str, docs_file: str, labels_file: str, settings: dict, do_infer: bool) -> dict:
    """Train embedworks Doc2Vec in this (child) process, measure, evaluate."""
    import embedworks
    from embedworks.learn import Doc2Vec

    kwargs = {k: settings[k] for k in SHARED}
    model = Doc2Vec(dm=kind == "dm", dm_mean=True, progress=False, **kwargs)
    cpu0 = cpu_seconds()
    with common.Timer() as timer:
        model.fit(iter_documents(Path(docs_file)))  # streamed; tag = position = line number, as gensim's
    cpu = cpu_seconds() - cpu0
    peak = common.peak_rss_mb()
    tokens = model.vocab.raw_words
    result = {"impl": "embedworks", "version": embedworks.__version__, "seconds": timer.seconds,
              "cpu_seconds": cpu,
              "train_seconds": model.training_stats["seconds"],
              "words_per_s": tokens * settings["epochs"] / timer.seconds, "peak_rss_mb": peak,
              "tokens": tokens, "vocab": len(model.vocab),
              "params": {**{k: v for k, v in model.get_params().items() if k != "progress"},
                         "start_alpha": model.start_alpha}}
    vectors = model.doc_vectors[[model.tag_index[i] for i in range(len(model.tags))]]
    result.update(_evaluate(vectors, model.infer_many, labels_file, docs_file, do_infer))
    return result


def train_gensim(kind: str, docs_file: str, labels_file: str, settings: dict, do_infer: bool,
                 mode: str = "corpus_file") -> dict:
    """Train gensim Doc2Vec in this (child) process, measure, evaluate."""
    import gensim
    import numpy as np
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument

    kwargs = {"vector_size": settings["dim"], "dm": int(kind == "dm"), "dm_mean": 1,
              "window": settings["window"], "negative": settings["negative"], "hs": int(settings["hs"]),
              "sample": settings["sample"], "min_count": settings["min_count"],
              "epochs": settings["epochs"], "alpha": settings["alpha"], "min_alpha": settings["min_alpha"],
              "workers": settings["workers"], "seed": settings["seed"]}
    cpu0 = cpu_seconds()
    with common.Timer() as timer:
        if mode == "corpus_file":
            model = Doc2Vec(corpus_file=docs_file, **kwargs)  # build_vocab + train
        else:
            docs = [TaggedDocument(d, [i]) for i, d in enumerate(read_documents(Path(docs_file)))]
            model = Doc2Vec(docs, **kwargs)
            del docs
    cpu = cpu_seconds() - cpu0
    peak = common.peak_rss_mb()
    n_docs = len(model.dv)
    result = {"impl": "gensim", "version": gensim.__version__, "mode": mode, "seconds": timer.seconds,
              "cpu_seconds": cpu,
              "tokens": int(model.corpus_total_words), "vocab": len(model.wv),
              "words_per_s": model.corpus_total_words * settings["epochs"] / timer.seconds,
              "peak_rss_mb": peak, "params": kwargs}
    vectors = np.asarray(model.dv.vectors[:n_docs])

    def infer(test_docs):
        return np.stack([model.infer_vector(d) for d in test_docs])

    result.update(_evaluate(vectors, infer, labels_file, docs_file, do_infer))
    return result


def warm_up(docs_file: str, settings: dict) -> dict:
    """Fit and infer with our models once on a few documents, so Numba's on-disk cache is filled
    and the timed runs measure training, not first-time compilation (gensim's Cython is compiled
    ahead of time)."""
    from embedworks.learn import Doc2Vec

    docs = read_documents(Path(docs_file))[:200]
    for dm in (False, True):
        model = Doc2Vec(dim=settings["dim"], dm=dm, min_count=1, epochs=1, workers=settings["workers"],
                        progress=False).fit(docs)
        model.infer_many(docs[:4])
    return {"warmed": ["dbow", "dm"]}


# ---------------------------------------------------------------------------------- report
HEADER = ["model", "gensim mode", "gensim s", "ours s", "speed ×", "gensim CPU s", "ours CPU s", "CPU ×",
          "gensim RSS MB", "ours RSS MB", "gensim acc %", "ours acc %", "Δ pts", "gensim macro-F1",
          "ours macro-F1", "gensim infer s", "ours infer s", "gensim infer acc %", "ours infer acc %"]


def table_row(kind: str, mode: str, peer: dict | None, ours: dict | None) -> list[str]:
    peer, ours = peer or {}, ours or {}
    get = lambda d, k: d.get(k, math.nan)  # noqa: E731
    pct = lambda v: v * 100 if isinstance(v, (int, float)) else v  # noqa: E731
    return [
        kind, mode,
        common.fmt(get(peer, "seconds"), ".1f"), common.fmt(get(ours, "seconds"), ".1f"),
        common.fmt(common.ratio(get(peer, "seconds"), get(ours, "seconds")), ".2f", "×"),
        common.fmt(get(peer, "cpu_seconds"), ".1f"), common.fmt(get(ours, "cpu_seconds"), ".1f"),
        common.fmt(common.ratio(get(peer, "cpu_seconds"), get(ours, "cpu_seconds")), ".2f", "×"),
        common.fmt(get(peer, "peak_rss_mb"), ",.0f"), common.fmt(get(ours, "peak_rss_mb"), ",.0f"),
        common.fmt(pct(get(peer, "accuracy")), ".2f"), common.fmt(pct(get(ours, "accuracy")), ".2f"),
        common.fmt(pct(get(ours, "accuracy")) - pct(get(peer, "accuracy")), "+.2f"),
        common.fmt(get(peer, "macro_f1"), ".4f"), common.fmt(get(ours, "macro_f1"), ".4f"),
        common.fmt(get(peer, "infer_seconds"), ".1f"), common.fmt(get(ours, "infer_seconds"), ".1f"),
        common.fmt(pct(get(peer, "infer_accuracy")), ".2f"), common.fmt(pct(get(ours, "infer_accuracy")), ".2f"),
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--impls", default=",".join(IMPLS), help=f"comma-separated subset of {','.join(IMPLS)}")
    parser.add_argument("--epochs", type=int, default=SHARED["epochs"])
    parser.add_argument("--workers", type=int, default=SHARED["workers"])
    parser.add_argument("--gensim-mode", default="corpus_file",
                        help="gensim's input: corpus_file (default), iterable, or both (comma-separated)")
    parser.add_argument("--no-infer", action="store_true", help="skip the re-inference of the test documents")
    parser.add_argument("--no-warmup", action="store_true",
                        help="time embedworks including first-time Numba compilation")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result here")
    return parser


def run(args: argparse.Namespace) -> list[dict]:
    """Run the benchmark for parsed `args` (see `build_parser`); prints JSON lines and a table,
    returns the result records (for a driver such as benchmarks/text.py)."""
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    modes = ["corpus_file", "iterable"] if args.gensim_mode == "both" else \
        [m.strip() for m in args.gensim_mode.split(",") if m.strip()]
    bad = sorted(set(kinds) - set(KINDS)) + sorted(set(impls) - set(IMPLS)) + \
        sorted(set(modes) - {"corpus_file", "iterable"})
    if bad:
        raise SystemExit(f"unknown models, libraries or gensim modes: {bad}")
    docs_file, labels_file, data_facts = build_corpus()
    settings = {**SHARED, "epochs": args.epochs, "workers": args.workers}
    common.limit_blas_threads(1)
    facts = {"machine": common.machine(),
             **common.versions("embedworks", "gensim", "scikit-learn", "numpy", "numba")}
    print(f"# {common.command_line()}\n# corpus: {docs_file.name}, {data_facts['train_docs']:,} train + "
          f"{data_facts['test_docs']:,} test documents ({data_facts['note']}); "
          f"{facts['machine']['cpu']}, {facts['machine']['cores']} cores", file=sys.stderr)
    if "embedworks" in impls and not args.no_warmup:
        common.run_isolated(warm_up, str(docs_file), settings)
        print("# warmed up (Numba cache filled)", file=sys.stderr)

    records, rows = [], []
    for kind in kinds:
        peers: dict[str, dict | None] = {}
        ours = None
        jobs = [("gensim", m) for m in modes if "gensim" in impls]
        if "embedworks" in impls:
            jobs.append(("embedworks", None))
        for impl, mode in jobs:  # the peer first, then ours, back to back
            print(f"# {kind}: training {impl}{f' ({mode})' if mode else ''} ...", file=sys.stderr, flush=True)
            try:
                if impl == "gensim":
                    res = common.run_isolated(train_gensim, kind, str(docs_file), str(labels_file), settings,
                                              not args.no_infer, mode)
                else:
                    res = common.run_isolated(train_ours, kind, str(docs_file), str(labels_file), settings,
                                              not args.no_infer)
            except common.ChildError as exc:
                print(f"# {kind}: {impl} failed:\n{exc}", file=sys.stderr)
                res = {"impl": impl, "mode": mode, "error": str(exc).strip().splitlines()[-1]}
            res.pop("classifier", None)
            record = {"bench": "doc2vec", "model": kind, "data": "20newsgroups-bydate", **data_facts,
                      **res, **facts, "settings": settings}
            common.emit_json(record, args.json)
            records.append(record)
            ok = None if "error" in res else res
            if impl == "gensim":
                peers[mode] = ok
            else:
                ours = ok
        for mode in (modes if "gensim" in impls else ["—"]):
            rows.append(table_row(kind, mode, peers.get(mode), ours))
            print(common.markdown_row(rows[-1]), flush=True)

    m = facts["machine"]
    print()
    print(f"Command: `{common.command_line()}`  ")
    print(f"20 Newsgroups bydate, {data_facts['train_docs']:,} train + {data_facts['test_docs']:,} test "
          f"documents, vectors learned for all, LogisticRegression(max_iter=1000) on train, scored on test; "
          f"infer = test documents re-inferred with the frozen model. dim {settings['dim']}, epochs "
          f"{settings['epochs']}, min_count 2, negative 5, window 5, sample 1e-3, workers "
          f"{settings['workers']}; gensim {facts['gensim']}; {m['cpu']} ({m['cores']} cores); embedworks "
          f"{facts['embedworks']}, scikit-learn {facts['scikit-learn']}, numpy {facts['numpy']}, numba "
          f"{facts['numba']}. speed × = gensim s / ours s (wall clock); CPU × = gensim CPU s / ours CPU s "
          f"(user + system time of all threads, robust to other load on the machine).\n")
    print(common.markdown_table(HEADER, rows, align="ll" + "r" * (len(HEADER) - 2)))
    return records


def main(argv=None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
