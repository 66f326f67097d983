"""Recommenders, embedworks vs Surprise and implicit, in the same run, on the same MovieLens 100k splits.

    .venv-bench/bin/python benchmarks/recommend.py                      # everything (~2 min, 2 cores)
    .venv-bench/bin/python benchmarks/recommend.py --only mf,als --json results.jsonl

Data: `$EMBEDWORKS_DATA/ml-100k` (default `../shared/data/ml-100k` beside the checkout).

Explicit ratings ("mf", "svdpp"): train on `u1.base`, test on `u1.test` (80,000 / 20,000
ratings; the test file is read with the training id lists, `extend=True`, so ids the training
set lacks map past its end).

* "mf": ours `MatrixFactorization()` with its defaults (workers 1, seed 0) vs Surprise `SVD()`
  with its defaults (`random_state=0`).
* "svdpp": ours `MatrixFactorization(implicit_term=True)` (SVD++, other settings default) vs
  Surprise `SVDpp()` with its defaults (`random_state=0`), which is fitted once (it is slow).

RMSE and MAE over all 20,000 test ratings. A test pair whose user or item is absent from
training is predicted the same way by both: global mean + the known biases (Surprise's SVD and
SVDpp do so; ours via `predict(..., unknown="baseline")`, which `rating_metrics` uses); the
number of such pairs is reported. Both clip predictions to the training rating range (1–5).

Implicit feedback ("als", "bpr"): `u.data` ratings ≥ 4 are positives (`filter(min_value=4)`,
then `binarize()`), split per user 80/20 with `split_per_user(0.2, seed=0)`.

* "als": ours `ALS(factors=64, iterations=15)` (defaults: regularization 0.05, alpha 1, conjugate
  gradient, workers 2) vs implicit's `AlternatingLeastSquares(factors=64, iterations=15,
  regularization=0.05, alpha=1.0, random_state=0, num_threads=2)` (conjugate gradient, its
  default). Confidence conventions differ: ours turns a stored value r into c = 1 + alpha·r;
  implicit ≥ 0.5 takes the user × item matrix and uses c = alpha·r itself (its CG solver adds
  (c − 1)·y yᵀ on top of YᵀY, i.e. an unobserved cell has confidence 1). Two implicit variants
  are therefore reported: fed the matrix 1 + alpha·r (with its alpha 1, it then solves exactly
  our objective; the like-for-like comparison) and fed r itself (what a plain
  `AlternatingLeastSquares(alpha=1.0).fit(binary matrix)` does: c = 1 for a positive, no more
  weight than an unobserved cell).
* "bpr": ours `BPR(factors=64, iterations=100)` (defaults: learning rate 0.01, regularization
  0.01, workers 2) vs implicit's `BayesianPersonalizedRanking(factors=64, iterations=100,
  random_state=0, num_threads=2)` (its learning rate and regularization defaults are the same
  0.01), fed the binary user × item matrix.

precision@10, NDCG@10 and MAP@10 are computed by OUR `ranking_metrics` for both libraries (the
peer model wrapped as a callable `(user_indices, n) -> item indices` calling implicit's
`recommend(..., filter_already_liked_items=True)` on the training matrix): every user with a
test positive, training items excluded.

Timing: fit seconds only (data loading and building Surprise's trainset are outside the timer),
the median of `--repeats` (3) fits made after one untimed warm-up fit (which loads / compiles our
Numba kernels; done for the peers too, for symmetry), except Surprise SVDpp: one fit, no
warm-up. Every model runs in its own fresh process (`common.run_isolated`), ours and the peer
back to back; BLAS is limited to one thread (implicit wants `OPENBLAS_NUM_THREADS=1`).
Quality metrics come from the last timed fit (all fits use the same seed). The ratios are
ours / peer: a fit-time ratio below 1 means ours is faster.

Surprise (BSD-3) and implicit (MIT) are benchmark-only dependencies; see
benchmarks/requirements.txt.
"""

from __future__ import annotations

import argparse
import gzip
import math
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

KINDS = ("mf", "svdpp", "als", "bpr")
DATASET = "ml-100k"
EXPLICIT = ("u1.base.gz", "u1.test.gz")
IMPLICIT = "u.data"
COLUMNS = {"user": 0, "item": 1, "value": 2}
POSITIVE = 4  # ratings ≥ 4 are positives
TEST_FRACTION, SPLIT_SEED = 0.2, 0
K = 10
THREADS = 2
REPEATS = 3

OURS_EXPLICIT = {"mf": {}, "svdpp": {"implicit_term": True}}
OURS_IMPLICIT = {"als": {"factors": 64, "iterations": 15},
                 "bpr": {"factors": 64, "iterations": 100}}
PEER_ALS = {"factors": 64, "iterations": 15, "regularization": 0.05, "alpha": 1.0, "random_state": 0}
PEER_BPR = {"factors": 64, "iterations": 100, "random_state": 0}
# implicit ALS variants: (name, what it is fed)
ALS_VARIANTS = (("1+alpha*r", "fed 1 + α·r (our objective)"), ("r", "fed r (its c = α·r)"))


# ---------------------------------------------------------------------------------- data
def explicit_paths() -> tuple[str, str]:
    base, test = (common.data_file(DATASET, name) for name in EXPLICIT)
    return str(base), str(test)


def surprise_files(base: str, test: str) -> tuple[str, str]:
    """Plain-text copies of u1.base / u1.test for Surprise's `load_from_folds` (it reads no gzip),
    cached in benchmarks/.cache/."""
    out = []
    for src in (base, test):
        dst = common.cache_dir() / f"{DATASET}-{Path(src).name.removesuffix('.gz')}"
        if not dst.exists():
            tmp = dst.with_suffix(".tmp")
            with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            tmp.replace(dst)
        out.append(str(dst))
    return out[0], out[1]


def load_explicit(base: str, test: str):
    """(train, test) Interactions; test maps ids with train's lists, extended for new ones."""
    from embedworks.data import Interactions

    train = Interactions.from_csv(base, sep="\t", columns=COLUMNS)
    held = Interactions.from_csv(test, sep="\t", columns=COLUMNS, user_ids=train.users,
                                 item_ids=train.items, extend=True)
    return train, held


def unknown_pairs(train, test) -> dict:
    """How many test pairs have a user and / or item absent from training."""
    new_user = test.user_ids >= train.n_users
    new_item = test.item_ids >= train.n_items
    return {"test_pairs": int(test.nnz), "unknown_pairs": int((new_user | new_item).sum()),
            "unknown_user_pairs": int(new_user.sum()), "unknown_item_pairs": int(new_item.sum())}


def load_implicit(path: str):
    """(train, test) Interactions of positives (ratings ≥ 4, binarised), seeded per-user 80/20."""
    from embedworks.data import Interactions

    ratings = Interactions.from_csv(path, sep="\t", columns=COLUMNS)
    positives = ratings.filter(min_value=POSITIVE).binarize()
    train, test = positives.split_per_user(TEST_FRACTION, seed=SPLIT_SEED)
    return train, test


def _timed_fits(make_and_fit, repeats: int, warmup: bool) -> tuple[object, list[float]]:
    """(last fitted model, fit seconds of each timed run); `make_and_fit(timer)` fits one model
    inside `with timer:` and returns it."""
    if warmup:
        make_and_fit(common.Timer())
    runs, model = [], None
    for _ in range(repeats):
        timer = common.Timer()
        model = make_and_fit(timer)
        runs.append(timer.seconds)
    return model, runs


def _call(name: str, kwargs: dict) -> str:
    """"ALS(factors=64, iterations=15)": how the model was made, for the record."""
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"


def _timing(runs: list[float]) -> dict:
    return {"fit_seconds": statistics.median(runs), "fit_runs": runs}


# ---------------------------------------------------------------------------------- children
def fit_ours_explicit(kind: str, base: str, test: str, repeats: int) -> dict:
    """Ours MatrixFactorization on u1.base, RMSE / MAE on u1.test."""
    import numpy as np

    import embedworks
    from embedworks.evaluate import rating_metrics
    from embedworks.learn import MatrixFactorization

    train, held = load_explicit(base, test)
    kwargs = {**OURS_EXPLICIT[kind], "progress": False}

    def make_and_fit(timer):
        model = MatrixFactorization(**kwargs)
        with timer:
            model.fit(train)
        return model

    model, runs = _timed_fits(make_and_fit, repeats, warmup=True)
    peak = common.peak_rss_mb()
    metrics = rating_metrics(model, held, unknown="baseline")  # predict(raw ids, unknown="baseline")
    # cross-check: the index path (ids past train's lists count as unknown) gives the same numbers
    via_indices = model.predict_indices(held.user_ids, held.item_ids)
    err = via_indices - held.values.astype(np.float64)
    assert abs(float(np.sqrt(np.mean(err * err))) - metrics["rmse"]) < 1e-9
    return {"impl": "embedworks", "version": embedworks.__version__,
            "variant": _call("MatrixFactorization", OURS_EXPLICIT[kind]),
            "rmse": metrics["rmse"], "mae": metrics["mae"], **unknown_pairs(train, held),
            **_timing(runs), "warmup": True, "peak_rss_mb": peak,
            "params": {k: v for k, v in model.get_params().items() if k != "progress"}}


def fit_surprise(kind: str, base: str, test: str, repeats: int) -> dict:
    """Surprise SVD ("mf") or SVDpp ("svdpp") on u1.base, RMSE / MAE on u1.test."""
    import numpy as np
    import surprise
    from surprise import SVD, Dataset, Reader, SVDpp, accuracy
    from surprise.model_selection import PredefinedKFold

    base_txt, test_txt = surprise_files(base, test)
    data = Dataset.load_from_folds([(base_txt, test_txt)], Reader("ml-100k"))
    trainset, testset = next(PredefinedKFold().split(data))
    cls = SVD if kind == "mf" else SVDpp
    slow = kind == "svdpp"

    def make_and_fit(timer):
        algo = cls(random_state=0)
        with timer:
            algo.fit(trainset)
        return algo

    algo, runs = _timed_fits(make_and_fit, 1 if slow else repeats, warmup=not slow)
    peak = common.peak_rss_mb()
    predictions = algo.test(testset)
    est = np.array([p.est for p in predictions], dtype=np.float64)
    true = np.array([p.r_ui for p in predictions], dtype=np.float64)
    rmse, mae = float(np.sqrt(np.mean((est - true) ** 2))), float(np.mean(np.abs(est - true)))
    assert abs(rmse - accuracy.rmse(predictions, verbose=False)) < 1e-9

    def known(convert, raw) -> bool:
        try:
            convert(raw)
            return True
        except ValueError:
            return False

    new_user = np.array([not known(trainset.to_inner_uid, u) for u, _, _ in testset])
    new_item = np.array([not known(trainset.to_inner_iid, i) for _, i, _ in testset])
    impossible = sum(bool(p.details.get("was_impossible")) for p in predictions)
    params = {name: getattr(algo, name) for name in
              ("n_factors", "n_epochs", "init_mean", "init_std_dev", "lr_bu", "lr_bi", "lr_pu",
               "lr_qi", "reg_bu", "reg_bi", "reg_pu", "reg_qi", "lr_yj", "reg_yj", "biased",
               "random_state") if hasattr(algo, name)}
    return {"impl": "surprise", "version": surprise.__version__, "variant": f"{cls.__name__}()",
            "rmse": rmse, "mae": mae, "test_pairs": len(testset),
            "unknown_pairs": int((new_user | new_item).sum()), "unknown_user_pairs": int(new_user.sum()),
            "unknown_item_pairs": int(new_item.sum()), "impossible_predictions": impossible,
            **_timing(runs), "warmup": not slow, "peak_rss_mb": peak, "params": params}


def _ranking(model_or_callable, train, test) -> dict:
    from embedworks.evaluate import ranking_metrics

    result = ranking_metrics(model_or_callable, train, test, k=K)
    return {"precision": result.precision, "ndcg": result.ndcg, "map": result.map,
            "recall": result.recall, "hit_rate": result.hit_rate, "coverage": result.coverage,
            "precision_capped": result.precision_capped, "users_evaluated": result.n_users}


def _implicit_facts(train, test) -> dict:
    return {"n_users": train.n_users, "n_items": train.n_items, "train_nnz": int(train.nnz),
            "test_nnz": int(test.nnz)}


def fit_ours_implicit(kind: str, path: str, repeats: int) -> dict:
    """Ours ALS / BPR on the positives' training split, ranking metrics @10 on the test split."""
    import embedworks
    from embedworks.learn import ALS, BPR

    train, test = load_implicit(path)
    cls = ALS if kind == "als" else BPR
    kwargs = {**OURS_IMPLICIT[kind], "workers": THREADS, "seed": 0, "progress": False}

    def make_and_fit(timer):
        model = cls(**kwargs)
        with timer:
            model.fit(train)
        return model

    model, runs = _timed_fits(make_and_fit, repeats, warmup=True)
    peak = common.peak_rss_mb()
    return {"impl": "embedworks", "version": embedworks.__version__,
            "variant": _call(cls.__name__, OURS_IMPLICIT[kind]),
            **_ranking(model, train, test), **_implicit_facts(train, test), **_timing(runs),
            "warmup": True, "peak_rss_mb": peak,
            "params": {k: v for k, v in model.get_params().items() if k != "progress"}}


def fit_implicit(kind: str, variant: str, path: str, repeats: int) -> dict:
    """implicit's ALS / BPR on the same training split (as a float32 CSR user × item matrix),
    evaluated by our ranking_metrics through a callable."""
    import implicit
    import numpy as np
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    train, test = load_implicit(path)
    user_items = train.csr.astype(np.float32)  # binary: 1.0 per positive
    if kind == "als":
        cls, kwargs = AlternatingLeastSquares, dict(PEER_ALS)
        if variant == "1+alpha*r":  # c = 1 + alpha·r with OUR alpha; implicit's own alpha stays 1
            from embedworks.learn import ALS

            fed = user_items.copy()
            fed.data = (1.0 + ALS(**OURS_IMPLICIT["als"]).alpha * fed.data).astype(np.float32)
        else:  # r itself: implicit's c = alpha·r
            fed = user_items
    else:
        cls, kwargs, fed = BayesianPersonalizedRanking, dict(PEER_BPR), user_items
    kwargs["num_threads"] = THREADS

    def make_and_fit(timer):
        model = cls(**kwargs)
        with timer:
            model.fit(fed, show_progress=False)
        return model

    model, runs = _timed_fits(make_and_fit, repeats, warmup=True)
    peak = common.peak_rss_mb()

    def recommend(users, n):
        users = np.asarray(users)
        ids, _ = model.recommend(users, user_items[users], N=n, filter_already_liked_items=True)
        return ids

    params = {**kwargs}
    if kind == "als":
        params.update({"use_cg": model.use_cg, "fed": variant})
    else:
        params.update({"learning_rate": model.learning_rate, "regularization": model.regularization,
                       "verify_negative_samples": model.verify_negative_samples})
    return {"impl": "implicit", "version": implicit.__version__,
            "variant": f"{cls.__name__}" + (f" fed {variant}" if kind == "als" else ""),
            **_ranking(recommend, train, test), **_implicit_facts(train, test), **_timing(runs),
            "warmup": True, "peak_rss_mb": peak, "params": params}


# ---------------------------------------------------------------------------------- report
EXPLICIT_HEADER = ["model (ours vs peer)", "peer RMSE", "ours RMSE", "Δ RMSE", "peer MAE", "ours MAE",
                   "peer fit s", "ours fit s", "fit time ours/peer"]
IMPLICIT_HEADER = ["model (ours vs peer)", "peer P@10", "ours P@10", "peer NDCG@10", "ours NDCG@10",
                   "peer MAP@10", "ours MAP@10", "peer fit s", "ours fit s", "fit time ours/peer"]


def _get(d: dict | None, key: str):
    return (d or {}).get(key, math.nan)


def explicit_row(label: str, peer: dict | None, ours: dict | None) -> list[str]:
    return [label,
            common.fmt(_get(peer, "rmse"), ".4f"), common.fmt(_get(ours, "rmse"), ".4f"),
            common.fmt(_sub(_get(ours, "rmse"), _get(peer, "rmse")), "+.4f"),
            common.fmt(_get(peer, "mae"), ".4f"), common.fmt(_get(ours, "mae"), ".4f"),
            common.fmt(_get(peer, "fit_seconds"), ".2f"), common.fmt(_get(ours, "fit_seconds"), ".2f"),
            common.fmt(common.ratio(_get(ours, "fit_seconds"), _get(peer, "fit_seconds")), ".2f", "×")]


def implicit_row(label: str, peer: dict | None, ours: dict | None) -> list[str]:
    cells = [label]
    for key in ("precision", "ndcg", "map"):
        cells += [common.fmt(_get(peer, key), ".4f"), common.fmt(_get(ours, key), ".4f")]
    cells += [common.fmt(_get(peer, "fit_seconds"), ".2f"), common.fmt(_get(ours, "fit_seconds"), ".2f"),
              common.fmt(common.ratio(_get(ours, "fit_seconds"), _get(peer, "fit_seconds")), ".2f", "×")]
    return cells


def _sub(a, b) -> float:
    try:
        return a - b
    except TypeError:
        return math.nan


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(KINDS),
                        help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result here")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"timed fits per model after the warm-up, median reported (default {REPEATS}; "
                             "Surprise SVDpp is always fitted once)")
    parser.add_argument("--skip-peers", action="store_true", help="run embedworks only")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or args.repeats < 1:
        parser.error(f"unknown model kinds {unknown}" if unknown else "--repeats must be at least 1")

    common.limit_blas_threads(1)
    facts = {"machine": common.machine(),
             **common.versions("embedworks", "scikit-surprise", "implicit", "numpy", "scipy", "numba")}
    print(f"# {common.command_line()}\n# data: {common.data_dir() / DATASET}; "
          f"{facts['machine']['cpu']}, {facts['machine']['cores']} cores", file=sys.stderr)
    base = test = ratings = None
    if {"mf", "svdpp"} & set(kinds):
        base, test = explicit_paths()
    if {"als", "bpr"} & set(kinds):
        ratings = str(common.data_file(DATASET, IMPLICIT))

    def run(kind: str, impl: str, task: str, fn, *fn_args) -> dict | None:
        print(f"# {kind}: fitting {impl} ...", file=sys.stderr, flush=True)
        try:
            result = common.run_isolated(fn, *fn_args)
        except common.ChildError as exc:
            print(f"# {kind}: {impl} failed:\n{exc}", file=sys.stderr)
            result = {"impl": impl, "error": str(exc).strip().splitlines()[-1]}
        record = {"bench": "recommend", "task": task, "model": kind, "dataset": DATASET, **result, **facts}
        common.emit_json(record, args.json)
        return None if "error" in result else result

    explicit_rows, implicit_rows, notes = [], [], []
    unknown_counts: dict[str, set] = {}  # who -> {(pairs, user pairs, item pairs, test pairs)}
    for kind in kinds:
        if kind in ("mf", "svdpp"):
            peer = None if args.skip_peers else run(kind, "surprise", "explicit", fit_surprise, kind,
                                                     base, test, args.repeats)
            ours = run(kind, "embedworks", "explicit", fit_ours_explicit, kind, base, test, args.repeats)
            label = ("MatrixFactorization() vs Surprise SVD()" if kind == "mf" else
                     "MatrixFactorization(implicit_term=True) vs Surprise SVDpp()")
            row = explicit_row(label, peer, ours)
            explicit_rows.append(row)
            print(common.markdown_row(row), flush=True)
            for who, res in (("ours", ours), ("Surprise", peer)):
                if res and "unknown_pairs" in res:
                    unknown_counts.setdefault(who, set()).add(
                        tuple(res[key] for key in ("unknown_pairs", "unknown_user_pairs",
                                                   "unknown_item_pairs", "test_pairs")))
        else:
            ours = run(kind, "embedworks", "implicit", fit_ours_implicit, kind, ratings, args.repeats)
            variants = [v for v, _ in ALS_VARIANTS] if kind == "als" else [None]
            for variant in variants:
                peer = None if args.skip_peers else run(kind, "implicit", "implicit", fit_implicit, kind,
                                                         variant, ratings, args.repeats)
                if kind == "als":
                    label = f"ALS vs implicit ALS {dict(ALS_VARIANTS)[variant]}"
                else:
                    label = "BPR vs implicit BPR"
                row = implicit_row(label, peer, ours)
                implicit_rows.append(row)
                print(common.markdown_row(row), flush=True)
            if ours and not any(n.startswith("implicit split") for n in notes):
                notes.append(f"implicit split: {ours['train_nnz']:,} training / {ours['test_nnz']:,} test "
                             f"positives, {ours['users_evaluated']} users evaluated, "
                             f"{ours['n_items']:,} items.")

    counts = set().union(*unknown_counts.values()) if unknown_counts else set()
    if len(counts) == 1:
        pairs, users, items, total = counts.pop()
        notes.insert(0, f"{pairs} of {total:,} u1.test pairs have a user or item absent from u1.base "
                        f"({users} a user, {items} an item; counted alike by "
                        f"{' and '.join(sorted(unknown_counts))}); both libraries predict them as global "
                        "mean + the known biases.")
    elif counts:
        notes.insert(0, f"unknown-pair counts differ between runs or libraries: {unknown_counts}!")
    m = facts["machine"]
    print()
    print(f"Command: `{common.command_line()}`  ")
    print(f"MovieLens 100k; {m['cpu']} ({m['cores']} cores); embedworks {facts['embedworks']}, "
          f"scikit-surprise {facts['scikit-surprise']}, implicit {facts['implicit']}, "
          f"numpy {facts['numpy']}, "
          f"numba {facts['numba']}. Fit seconds: median of {args.repeats} fits after a warm-up fit "
          f"(Surprise SVDpp: one fit); ours/peer below 1 = ours faster. MF: one thread (Surprise is "
          f"single-threaded); ALS / BPR: {THREADS} threads each, OPENBLAS_NUM_THREADS=1.\n")
    if explicit_rows:
        print("Explicit ratings, u1.base → u1.test:\n")
        print(common.markdown_table(EXPLICIT_HEADER, explicit_rows))
        print()
    if implicit_rows:
        print(f"Implicit feedback, ratings ≥ {POSITIVE} as positives, per-user {1 - TEST_FRACTION:.0%}/"
              f"{TEST_FRACTION:.0%} split (seed {SPLIT_SEED}); factors 64; metrics @{K} by embedworks' "
              "ranking_metrics for both:\n")
        print(common.markdown_table(IMPLICIT_HEADER, implicit_rows))
        print()
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
