"""t-SNE of 20,000 real word vectors: embedworks vs openTSNE called directly vs scikit-learn, same run.

    .venv/bin/python benchmarks/tsne.py                      # 20,000 × 100 word vectors
    .venv/bin/python benchmarks/tsne.py --points 5000 --only embedworks,opentsne
    .venv/bin/python benchmarks/tsne.py --vectors my.emb     # any embeddings file instead

Run it with the project's `.venv` (the `viz` extra: embedworks' t-SNE *is* openTSNE underneath,
and scikit-learn is the peer); the bench environment of `make bench` lacks openTSNE.

Vectors: the 20,000 most frequent words of a CBOW Word2Vec (dim 100, window 5, negative 5,
min_count 5, 3 epochs, seed 0) trained by embedworks on the text8-style corpus that
`benchmarks/words.py` builds (`benchmarks/.cache/text8-enwiki-17005207.txt`, 17M tokens from
`enwiki-text`); the vectors are cached in `benchmarks/.cache/` after the first run.

Settings shared by all three: 2 output dims, perplexity 30, early exaggeration 12 for 250
iterations then 500 more (sklearn: max_iter 750, which counts both phases), learning rate
"auto" (N / 12; sklearn's N / 12 / 4 is the same step in its gradient scaling), PCA
initialisation, seed 0, `--workers` threads (default 2). The input is the same for the two
peers: the word vectors scaled to unit length (cosine) and reduced by PCA to 50 dims, computed
once here. embedworks is timed end to end from the raw 100-dim vectors (its `TSNE` does that
normalisation and PCA itself), so its time includes work the peers are handed for free.
openTSNE and embedworks use the FFT-accelerated gradient (embedworks' "auto" picks it from
10,000 points) and Annoy neighbours; scikit-learn uses Barnes-Hut (theta 0.5), its fastest.

Each library runs in its own fresh process (`common.run_isolated`; peak RSS is that process's).
With `--repeats R` the libraries take R rounds in turn and each one's fastest round counts (on
a shared machine one round can catch a busy spell).
Reported: seconds (fit only, wall clock), peak RSS, and one quality figure computed the same
way for all: 10-NN preservation, the share of each point's 10 nearest neighbours in the 50-dim
input that are also among its 10 nearest in the map (2,000 sampled points, exact search).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

IMPLS = ("embedworks", "opentsne", "sklearn")
POINTS = 20_000
SETTINGS = {"dims": 2, "perplexity": 30.0, "early_exaggeration": 12.0, "early_exaggeration_iter": 250,
            "n_iter": 500, "learning_rate": "auto", "init": "pca", "seed": 0, "workers": 2}
CORPUS = "text8-enwiki-17005207.txt"
W2V = {"sg": False, "dim": 100, "window": 5, "negative": 5, "min_count": 5, "epochs": 3, "seed": 0}
QUALITY_SAMPLE = 2000
QUALITY_K = 10


# ---------------------------------------------------------------------------------- data
def _train_vectors(corpus: str, out: str, workers: int) -> dict:
    from embedworks.learn import Word2Vec

    with common.Timer() as t:
        model = Word2Vec(**W2V, workers=workers, progress=False).fit(corpus)
    model.embeddings.save(out)
    return {"seconds": t.seconds, "vocabulary": len(model.embeddings)}


def word_vectors(points: int, workers: int, vectors: str | None) -> Path:
    """The embeddings file to project: `--vectors`, else cached Word2Vec vectors of the corpus."""
    if vectors:
        return Path(vectors)
    cached = common.cache_dir() / f"tsne-word2vec-cbow{W2V['dim']}-{W2V['epochs']}ep.emb"
    if not cached.exists():
        corpus = common.cache_dir() / CORPUS
        if not corpus.exists():
            print("# building the text8-style corpus (benchmarks/words.py) ...", file=sys.stderr, flush=True)
            import words

            words.build_corpus()
        print(f"# training Word2Vec CBOW on {corpus.name} for the vectors ...", file=sys.stderr, flush=True)
        info = common.run_isolated(_train_vectors, str(corpus), str(cached), workers)
        print(f"# {info['vocabulary']:,} words in {info['seconds']:.0f} s → {cached}", file=sys.stderr)
    return cached


def prepare(path: Path, points: int, out: Path) -> dict:
    """Unit-length rows, PCA to 50 dims (embedworks' own preprocessing), saved for the peers."""
    import numpy as np

    from embedworks import load
    from embedworks.visualize import PCA, select
    from embedworks.visualize.project import prepared_vectors

    emb = select(load(path), top_n=points)
    if len(emb) < points:
        sys.exit(f"{path} has only {len(emb):,} vectors; asked for {points:,}")
    matrix = prepared_vectors(emb)
    reducer = PCA(seed=SETTINGS["seed"])
    reducer.dims = 50
    reduced = reducer.fit_matrix(matrix)._transform(matrix).astype(np.float32)
    np.save(out, reduced)
    return {"n": len(emb), "input_dim": emb.dim, "first_keys": emb.keys[:5]}


# ---------------------------------------------------------------------------------- runners
def run_one(impl: str, vectors: str, points: int, reduced: str, workers: int) -> dict:
    import numpy as np

    s = SETTINGS
    if impl == "embedworks":
        from embedworks import load
        from embedworks.visualize import TSNE, select

        emb = select(load(vectors), top_n=points)
        np.asarray(emb.vectors).sum()  # read the file before the clock starts
        import openTSNE  # noqa: F401  (imports are not timed for any library)

        model = TSNE(dims=s["dims"], perplexity=s["perplexity"], early_exaggeration=s["early_exaggeration"],
                     early_exaggeration_iter=s["early_exaggeration_iter"], n_iter=s["n_iter"],
                     learning_rate=s["learning_rate"], initialization=s["init"], workers=workers, seed=s["seed"])
        with common.Timer() as t:
            coords = model.fit(emb).coords
        extra = {"gradient": model.gradient_used}
    elif impl == "opentsne":
        import openTSNE

        data = np.load(reduced)
        model = openTSNE.TSNE(n_components=s["dims"], perplexity=s["perplexity"],
                              early_exaggeration=s["early_exaggeration"],
                              early_exaggeration_iter=s["early_exaggeration_iter"], n_iter=s["n_iter"],
                              learning_rate=s["learning_rate"], initialization=s["init"],
                              negative_gradient_method="fft", n_jobs=workers, random_state=s["seed"])
        with common.Timer() as t:
            coords = np.asarray(model.fit(data))
        extra = {"gradient": "fft"}
    elif impl == "sklearn":
        from sklearn.manifold import TSNE as SkTSNE

        data = np.load(reduced)
        model = SkTSNE(n_components=s["dims"], perplexity=s["perplexity"], early_exaggeration=s["early_exaggeration"],
                       max_iter=s["early_exaggeration_iter"] + s["n_iter"], learning_rate=s["learning_rate"],
                       init=s["init"], method="barnes_hut", angle=0.5, random_state=s["seed"], n_jobs=workers)
        with common.Timer() as t:
            coords = model.fit_transform(data)
        extra = {"gradient": "bh", "iterations": int(model.n_iter_)}
    else:
        raise ValueError(impl)
    peak = common.peak_rss_mb()
    out = Path(reduced).with_name(f"tsne-map-{impl}.npy")
    np.save(out, np.asarray(coords, dtype=np.float32))
    return {"impl": impl, "seconds": t.seconds, "peak_rss_mb": peak, "map": str(out), **extra}


def knn_preservation(reduced: str, coords_path: str, k: int = QUALITY_K, sample: int = QUALITY_SAMPLE) -> float:
    """Mean share of each sampled point's k input-space neighbours that are k map neighbours."""
    import numpy as np

    from embedworks.index.exact import top_k

    data, coords = np.load(reduced), np.load(coords_path).astype(np.float32)
    rows = np.random.default_rng(0).choice(len(data), size=min(sample, len(data)), replace=False)
    exclude = [np.array([r]) for r in rows]
    near_in, _ = top_k(data[rows], data, k, "euclidean", exclude=exclude)
    near_map, _ = top_k(coords[rows], coords, k, "euclidean", exclude=exclude)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(near_in, near_map)]))


HEADER = ["library", "points", "gradient", "seconds", "× ours", "10-NN kept", "peak RSS MB"]


def row(res: dict | None, impl: str, ours: dict | None, points: int) -> list[str]:
    if res is None:
        return [impl, f"{points:,}", "—", "failed", "—", "—", "—"]
    return [impl, f"{points:,}", res.get("gradient", "—"), common.fmt(res["seconds"], ".1f"),
            common.fmt(common.ratio(res["seconds"], ours["seconds"]) if ours else None, ".2f"),
            common.fmt(res.get("knn_preservation"), ".3f"), common.fmt(res.get("peak_rss_mb"), ".0f")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=POINTS, help="how many vectors (the most frequent words)")
    parser.add_argument("--only", default=",".join(IMPLS), help=f"comma-separated subset of {','.join(IMPLS)}")
    parser.add_argument("--workers", type=int, default=SETTINGS["workers"], help="threads for every library")
    parser.add_argument("--vectors", help="embeddings file to use instead of the cached Word2Vec vectors")
    parser.add_argument("--repeats", type=int, default=1, help="rounds over the libraries; the fastest counts")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result here")
    args = parser.parse_args(argv)
    impls = [i.strip() for i in args.only.split(",") if i.strip()]
    bad = sorted(set(impls) - set(IMPLS))
    if bad:
        parser.error(f"unknown libraries: {bad}")
    settings = {**SETTINGS, "workers": args.workers}
    facts = {"machine": common.machine(), **common.versions("embedworks", "openTSNE", "scikit-learn", "numpy")}
    print(f"# {common.command_line()}\n# {facts['machine']['cpu']}, {facts['machine']['cores']} cores",
          file=sys.stderr)

    vectors = word_vectors(args.points, args.workers, args.vectors)
    reduced = common.cache_dir() / f"tsne-input-{args.points}.npy"
    info = prepare(vectors, args.points, reduced)
    print(f"# {info['n']:,} × {info['input_dim']} vectors from {vectors.name} (first: {', '.join(info['first_keys'])})",
          file=sys.stderr)

    results: dict[str, dict | None] = {}
    for repeat in range(args.repeats):  # rounds in turn, so that a busy spell hits every library alike
        for impl in IMPLS:
            if impl not in impls or (impl in results and results[impl] is None):
                continue
            print(f"# {impl} (round {repeat + 1} of {args.repeats}) ...", file=sys.stderr, flush=True)
            try:
                res = common.run_isolated(run_one, impl, str(vectors), args.points, str(reduced), args.workers)
                res["knn_preservation"] = knn_preservation(str(reduced), res["map"])
            except common.ChildError as exc:
                print(f"# {impl} failed:\n{exc}", file=sys.stderr)
                res = {"impl": impl, "error": str(exc).strip().splitlines()[-1]}
            common.emit_json({"bench": "tsne", "points": info["n"], "input_dim": info["input_dim"], "round": repeat + 1,
                              **res, **facts, "settings": settings}, args.json)
            if "error" in res:
                results[impl] = None
            elif impl not in results or res["seconds"] < results[impl]["seconds"]:
                results[impl] = res  # the fastest round counts

    rows = [row(results[impl], impl, results.get("embedworks"), info["n"]) for impl in IMPLS if impl in results]
    m = facts["machine"]
    print()
    print(f"Command: `{common.command_line()}`  ")
    print(f"{m['cpu']} ({m['cores']} cores); embedworks {facts['embedworks']}, openTSNE {facts['openTSNE']}, "
          f"scikit-learn {facts['scikit-learn']}, numpy {facts['numpy']}. {info['n']:,} × {info['input_dim']} "
          f"word vectors (cosine → unit rows → PCA 50); perplexity 30, 250 + 500 iterations, PCA init, "
          f"seed 0, {args.workers} threads; fastest of {args.repeats} round(s). 10-NN kept: share of 10 "
          f"input-space neighbours among the 10 map neighbours, {QUALITY_SAMPLE:,} sampled points.\n")
    print(common.markdown_table(HEADER, rows, align="lllrrrr"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
