"""Graph embeddings, embedworks Node2Vec vs PecanPy 2.x, in the same run, on the same graphs and settings.

    .venv-bench/bin/python benchmarks/graphs.py                          # both graphs, both (p, q)
    .venv-bench/bin/python benchmarks/graphs.py --graphs cora --only pecanpy --no-links
    .venv-bench/bin/python benchmarks/graphs.py --seeds 0,1,2          # per-seed values and means

Graphs (`$EMBEDWORKS_DATA`, default `../shared/data`):

* ``blogcatalog``: `blogcatalog/blogcatalog.mat` — `network` (10,312 nodes, 333,983 undirected
  edges) and `group` (39 labels, multi-label), as DeepWalk and node2vec;
* ``cora``: `cora/cora.cites` (2,708 nodes, 5,278 undirected edges) with the 7 classes from the
  last column of `cora/cora.content.gz` (single-label).

Both libraries read the same tab-separated edge list (written once to `benchmarks/.cache/`
from the sources above; undirected, unweighted) and use the same settings: dim 128, walk
length 80, 10 walks per node, window 10, 1 epoch, negative 5, skip-gram, 2 workers, seed 0;
p = q = 1 and p = 0.25, q = 4. Frequent-node subsampling is each library's default: gensim's 1e-3
for PecanPy (its ``embed()`` inherits it), our ``sample="auto"`` = ``max(1e-3, 10 / n_nodes)``,
which is the same 1e-3 on BlogCatalog and 3.7e-3 on Cora. PecanPy walks with its mode for the
graph (``SparseOTF`` for BlogCatalog, as PecanPy's own mode check recommends for it;
``PreComp`` — precomputed alias tables, fastest on small graphs — for Cora; override with
``--pecanpy-mode cora=SparseOTF``) and trains as its ``embed()`` does: gensim
``Word2Vec(walks, vector_size=128, window=10, sg=1,
min_count=0, hs=0, negative=5, workers=2, epochs=1, seed=0)``.

Each (library, graph, p, q) runs in its own fresh process. Reported: graph load seconds, walk
seconds, train seconds (walk + train = fit), peak RSS right after training (before evaluating),
Macro/Micro-F1 at 50 % training labels (one-vs-rest logistic regression, liblinear, 5 seeded
splits, DeepWalk's "k known" prediction; `embedworks.evaluate.node_classification` on both
libraries' vectors) and link-prediction ROC-AUC (node2vec §4.4: half the edges removed while
every node keeps an edge, as many non-edges, embeddings retrained on the residual graph with the
same settings, logistic regression on Hadamard features of a seeded half of the pairs, AUC on
the other half; `embedworks.evaluate.link_prediction`, identical split for both libraries).

``--seeds 0,1,2`` runs every row once per seed (the seed of both libraries' walks and training;
the F1 splits and the link-prediction split stay seeded 0, so each seed is a paired comparison
on the same evaluation) and prints, after the per-seed table, one with the per-seed values and
their means, and the mean dot-product AUC (the same test pairs ranked by u·v, no classifier): one
seed's Hadamard AUC moves by about 0.01 between seeds and runs, more than the gaps it is meant to
show.

PecanPy (BSD-3-Clause) and gensim (LGPL-2.1) are benchmark-only; see benchmarks/requirements.txt.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

GRAPHS = ("blogcatalog", "cora")
IMPLS = ("pecanpy", "embedworks")
PQ = ((1.0, 1.0), (0.25, 4.0))
SETTINGS = {"dim": 128, "walk_length": 80, "num_walks": 10, "window": 10, "epochs": 1, "negative": 5,
            "workers": 2, "seed": 0}
PECANPY_MODE = {"blogcatalog": "SparseOTF", "cora": "PreComp"}
TRAIN_RATIO = 0.5
SPLITS = 5

HEADER = ["graph", "p, q", "library", "walk s", "train s", "fit s", "fit ours/peer", "peak RSS MB",
          "Macro-F1", "Micro-F1", "AUC (Hadamard)"]


# ---------------------------------------------------------------------------------- data
def edge_file(graph: str) -> str:
    """The graph as `src<TAB>dst` lines (raw ids, each undirected edge once), cached."""
    out = common.cache_dir() / f"{graph}.edg"
    if out.exists():
        return str(out)
    import numpy as np

    from embedworks.data.graph import Graph

    if graph == "blogcatalog":
        g = Graph.from_mat(common.data_file("blogcatalog", "blogcatalog.mat"), variable="network")
    else:
        g = Graph.from_edgelist(common.data_file("cora", "cora.cites"))
    src, dst, _ = g.edges()
    nodes = np.asarray(g.nodes)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.writelines(f"{a}\t{b}\n" for a, b in zip(nodes[src].tolist(), nodes[dst].tolist()))
    os.replace(tmp, out)
    return str(out)


def labels_of(graph: str):
    from embedworks.evaluate import read_labels

    if graph == "blogcatalog":  # rows of `group` are node ids 0 … n-1, as the edge file's ids
        return read_labels(common.data_file("blogcatalog", "blogcatalog.mat"), variable="group")
    return read_labels(common.data_file("cora", "cora.content.gz"))


# ---------------------------------------------------------------------------------- trainers
def _patch_numpy_for_nptyping() -> None:
    """NOTES.md: PecanPy imports nptyping, which uses aliases NumPy 2 removed."""
    import numpy as np

    aliases = {"bool8": np.bool_, "object0": np.object_, "int0": np.intp, "uint0": np.uintp,
               "float_": np.float64, "complex_": np.complex128, "string_": np.bytes_,
               "unicode_": np.str_, "void0": np.void, "bytes0": np.bytes_, "str0": np.str_,
               "longfloat": np.longdouble, "singlecomplex": np.complex64, "cfloat": np.complex128,
               "clongfloat": np.clongdouble, "longcomplex": np.clongdouble}
    for name, value in aliases.items():
        if name not in np.__dict__:
            setattr(np, name, value)


def train_ours(edg: str, p: float, q: float, options: dict | None = None, seed: int | None = None):
    """→ (Embeddings, facts) for our Node2Vec on the edge file."""
    from embedworks.data.graph import Graph

    with common.Timer() as load:
        graph = Graph.from_edgelist(edg, weighted=False)
    return train_ours_graph(graph, p, q, load.seconds, options, seed)


def train_ours_graph(graph, p: float, q: float, load_seconds: float = 0.0, options: dict | None = None,
                     seed: int | None = None):
    from embedworks.learn import Node2Vec

    s = SETTINGS
    model = Node2Vec(dim=s["dim"], walk_length=s["walk_length"], num_walks=s["num_walks"],
                     window=s["window"], p=p, q=q, negative=s["negative"], epochs=s["epochs"],
                     workers=s["workers"], seed=s["seed"] if seed is None else seed, **(options or {}))
    with common.Timer() as fit:
        model.fit(graph)
    return model.embeddings, {"load_seconds": load_seconds, "walk_seconds": model.walk_stats["seconds"],
                              "train_seconds": model.training_stats["seconds"], "fit_seconds": fit.seconds}


def train_pecanpy(edg: str, p: float, q: float, mode: str, graph=None, seed: int | None = None):
    """→ (Embeddings keyed like the edge file's ids, facts). `graph`: an embedworks Graph to
    hand over instead of the file (link prediction's residual graph), via a temp edge file."""
    _patch_numpy_for_nptyping()
    import numpy as np
    from gensim.models import Word2Vec
    from pecanpy import pecanpy as pp

    from embedworks.space import Embeddings

    s = SETTINGS
    seed = s["seed"] if seed is None else seed
    if graph is not None:  # write the residual graph in the same layout
        import tempfile

        src, dst, _ = graph.edges()
        nodes = np.asarray(graph.nodes)
        with tempfile.NamedTemporaryFile("w", suffix=".edg", delete=False) as handle:
            handle.writelines(f"{a}\t{b}\n" for a, b in zip(nodes[src].tolist(), nodes[dst].tolist()))
        edg = handle.name
    with common.Timer() as load:
        g = getattr(pp, mode)(p=p, q=q, workers=s["workers"], verbose=False, random_state=seed)
        g.read_edg(edg, weighted=False, directed=False)
    if graph is not None:
        os.unlink(edg)
    with common.Timer() as walk:
        walks = g.simulate_walks(num_walks=s["num_walks"], walk_length=s["walk_length"])
    with common.Timer() as train:
        w2v = Word2Vec(walks, vector_size=s["dim"], window=s["window"], sg=1, hs=0,
                       negative=s["negative"], min_count=0, workers=s["workers"], epochs=s["epochs"],
                       seed=seed)
    vectors = w2v.wv[g.nodes]
    keys = [int(n) if n.lstrip("-").isdigit() else n for n in g.nodes]
    return Embeddings(keys, vectors), {"load_seconds": load.seconds, "walk_seconds": walk.seconds,
                                       "train_seconds": train.seconds,
                                       "fit_seconds": walk.seconds + train.seconds, "mode": mode}


def run_one(impl: str, graph_name: str, p: float, q: float, mode: str, links: bool,
            ours_options: dict | None = None, seed: int | None = None) -> dict:
    """One child: train, record peak RSS, then evaluate (classification, link prediction).

    `seed` (default SETTINGS["seed"]) seeds both libraries' walks and training; the evaluation
    splits stay seeded 0."""
    seed = SETTINGS["seed"] if seed is None else int(seed)
    from embedworks.data.graph import Graph
    from embedworks.evaluate import link_prediction, node_classification

    edg = edge_file(graph_name)
    if impl == "embedworks":
        emb, facts = train_ours(edg, p, q, ours_options, seed)
        if ours_options:
            facts["options"] = ours_options
    else:
        emb, facts = train_pecanpy(edg, p, q, mode, seed=seed)
    facts["peak_rss_mb"] = common.peak_rss_mb()
    labels = labels_of(graph_name)
    with common.Timer() as t:
        nc = node_classification(emb, labels, train_ratio=TRAIN_RATIO, repeats=SPLITS, seed=0)
    result = {"impl": impl, "graph": graph_name, "p": p, "q": q, "seed": seed, **facts,
              "n_nodes": len(emb), "macro_f1": nc.macro_f1, "micro_f1": nc.micro_f1,
              "macro_f1_std": nc.macro_f1_std, "micro_f1_std": nc.micro_f1_std,
              "labelled_nodes": nc.n_nodes, "n_labels": nc.n_labels, "classify_seconds": t.seconds}
    if links:
        graph = Graph.from_edgelist(edg, weighted=False)
        if impl == "embedworks":
            def embed(residual):
                return train_ours_graph(residual, p, q, options=ours_options, seed=seed)[0]
        else:
            def embed(residual):
                return train_pecanpy(edg, p, q, mode, graph=residual, seed=seed)[0]
        with common.Timer() as t:
            lp = link_prediction(graph, embed, fraction=0.5, seed=0)
        result.update({f"auc_{k}": v for k, v in lp.auc.items()})
        result.update({"auc_dot": lp.dot_auc, "lp_removed": lp.n_removed, "lp_edges": lp.n_edges,
                       "link_seconds": t.seconds})
    return result


# ---------------------------------------------------------------------------------- output
def _get(d, key):
    return (d or {}).get(key, math.nan)


def _label(impl: str, res: dict | None) -> str:
    return impl if impl == "embedworks" else f"PecanPy {_get(res, 'mode')}"


def row(graph: str, p: float, q: float, impl: str, res: dict | None, peer: dict | None,
        seed: int | None = None) -> list[str]:
    fit_ratio = common.ratio(_get(res, "fit_seconds"), _get(peer, "fit_seconds")) if impl == "embedworks" else math.nan
    cells = [graph, f"{p:g}, {q:g}", _label(impl, res)] + ([] if seed is None else [str(seed)])
    return cells + [common.fmt(_get(res, "walk_seconds"), ".2f"),
                    common.fmt(_get(res, "train_seconds"), ".2f"), common.fmt(_get(res, "fit_seconds"), ".2f"),
                    common.fmt(fit_ratio, ".2f", "×"), common.fmt(_get(res, "peak_rss_mb"), ".0f"),
                    common.fmt(_get(res, "macro_f1"), ".4f"), common.fmt(_get(res, "micro_f1"), ".4f"),
                    common.fmt(_get(res, "auc_hadamard"), ".4f")]


MEAN_HEADER = ["graph", "p, q", "library", "Macro-F1 per seed", "mean", "Micro-F1 mean",
               "AUC per seed", "mean", "AUC ours − peer", "dot AUC mean"]


def _mean(values) -> float:
    values = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    return sum(values) / len(values) if values else math.nan


def mean_rows(graph: str, p: float, q: float, per_seed: dict) -> list[list[str]]:
    """Rows of the means table for one (graph, p, q): `per_seed[impl]` lists one result per seed."""
    rows, auc_mean = [], {}
    for impl in IMPLS:
        if impl not in per_seed:
            continue
        results = per_seed[impl]
        macro = [_get(r, "macro_f1") for r in results]
        auc = [_get(r, "auc_hadamard") for r in results]
        auc_mean[impl] = _mean(auc)
        gap = auc_mean[impl] - auc_mean.get("pecanpy", math.nan) if impl == "embedworks" else math.nan
        label = _label(impl, next((r for r in results if r), None))
        rows.append([graph, f"{p:g}, {q:g}", label, " ".join(common.fmt(v, ".4f") for v in macro),
                     common.fmt(_mean(macro), ".4f"),
                     common.fmt(_mean([_get(r, "micro_f1") for r in results]), ".4f"),
                     " ".join(common.fmt(v, ".4f") for v in auc), common.fmt(auc_mean[impl], ".4f"),
                     common.fmt(gap, "+.4f"), common.fmt(_mean([_get(r, "auc_dot") for r in results]), ".4f")])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", default=",".join(GRAPHS), help=f"comma-separated subset of {','.join(GRAPHS)}")
    parser.add_argument("--only", default=",".join(IMPLS), help=f"comma-separated subset of {','.join(IMPLS)}")
    parser.add_argument("--pq", default="1,1;0.25,4", help="';'-separated 'p,q' pairs (default 1,1;0.25,4)")
    parser.add_argument("--seeds", default=str(SETTINGS["seed"]),
                        help="comma-separated seeds; several print a table of per-seed values and means "
                             f"(default {SETTINGS['seed']})")
    parser.add_argument("--pecanpy-mode", action="append", default=[], metavar="GRAPH=MODE",
                        help="PecanPy mode for a graph (default blogcatalog=SparseOTF, cora=PreComp)")
    parser.add_argument("--ours", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Node2Vec option for ours, e.g. shared_negatives=false (repeatable)")
    parser.add_argument("--no-links", action="store_true", help="skip link prediction (it trains twice)")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result here")
    args = parser.parse_args(argv)
    graphs = [g.strip() for g in args.graphs.split(",") if g.strip()]
    impls = [i.strip() for i in args.only.split(",") if i.strip()]
    bad = sorted(set(graphs) - set(GRAPHS)) + sorted(set(impls) - set(IMPLS))
    if bad:
        parser.error(f"unknown graphs or libraries: {bad}")
    pqs = [tuple(float(x) for x in pair.split(",")) for pair in args.pq.split(";") if pair.strip()]
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--seeds takes comma-separated integers, got {args.seeds!r}")
    if not seeds:
        parser.error("--seeds needs at least one seed")
    multi = len(seeds) > 1
    modes = dict(PECANPY_MODE)
    for item in args.pecanpy_mode:
        name, _, mode = item.partition("=")
        modes[name] = mode

    ours_options = {}
    for item in args.ours:
        key, _, value = item.partition("=")
        low = value.lower()
        ours_options[key] = (low == "true") if low in ("true", "false") else \
            (int(value) if value.lstrip("-").isdigit() else float(value))

    common.limit_blas_threads(1)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(SETTINGS["workers"]))
    facts = {"machine": common.machine(),
             **common.versions("embedworks", "pecanpy", "gensim", "scikit-learn", "numpy", "numba")}
    print(f"# {common.command_line()}\n# data: {common.data_dir()}; "
          f"{facts['machine']['cpu']}, {facts['machine']['cores']} cores", file=sys.stderr)
    for g in graphs:
        edge_file(g)

    rows, means = [], []
    for g in graphs:
        for p, q in pqs:
            per_seed: dict[str, list] = {}
            for seed in seeds:
                results = {}
                for impl in IMPLS:  # the peer first, then ours, back to back
                    if impl not in impls:
                        continue
                    print(f"# {g} p={p:g} q={q:g} seed={seed}: {impl} ...", file=sys.stderr, flush=True)
                    try:
                        res = common.run_isolated(run_one, impl, g, p, q, modes[g], not args.no_links,
                                                  ours_options if impl == "embedworks" else None, seed)
                    except common.ChildError as exc:
                        print(f"# {impl} failed:\n{exc}", file=sys.stderr)
                        res = {"impl": impl, "graph": g, "p": p, "q": q, "seed": seed,
                               "error": str(exc).strip().splitlines()[-1]}
                    common.emit_json({"bench": "graphs", **res, **facts,
                                      "settings": {**SETTINGS, "seed": seed}}, args.json)
                    results[impl] = None if "error" in res else res
                    per_seed.setdefault(impl, []).append(results[impl])
                for impl in IMPLS:
                    if impl in impls:
                        rows.append(row(g, p, q, impl, results.get(impl), results.get("pecanpy"),
                                        seed if multi else None))
                        print(common.markdown_row(rows[-1]), flush=True)
            if multi:
                means += mean_rows(g, p, q, per_seed)
    m = facts["machine"]
    print()
    print(f"Command: `{common.command_line()}`  ")
    print(f"{m['cpu']} ({m['cores']} cores); embedworks {facts['embedworks']}, PecanPy {facts['pecanpy']}, "
          f"gensim {facts['gensim']}, scikit-learn {facts['scikit-learn']}, numpy {facts['numpy']}, "
          f"numba {facts['numba']}. Settings: dim 128, walk length 80, 10 walks/node, window 10, "
          f"1 epoch, negative 5, sample 1e-3 (ours: 'auto'), 2 workers, "
          f"seed{'s' if multi else ''} {','.join(map(str, seeds))}. "
          f"F1: {SPLITS} seeded splits at {TRAIN_RATIO:.0%} training labels; AUC: node2vec-style link "
          f"prediction (Hadamard).\n")
    header = HEADER[:3] + (["seed"] if multi else []) + HEADER[3:]
    print(common.markdown_table(header, rows, align="lll" + "r" * (len(header) - 3)))
    if multi:
        print()
        print(common.markdown_table(MEAN_HEADER, means, align="lllrrrlrrr"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
