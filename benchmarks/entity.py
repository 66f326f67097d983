"""Entity embeddings on UCI Adult: our EntityEmbedding MLP against one-hot logistic regression and
scikit-learn's gradient boosting, and gradient boosting fed our learned features.

    .venv/bin/python benchmarks/entity.py                       # ~2 min on 2 cores
    .venv/bin/python benchmarks/entity.py --seed 0 1 2 --json out.jsonl   # + the split-seed sweep

Needs embedworks' ``tabular`` extra and scikit-learn (no peer library).

Data: ``$EMBEDWORKS_DATA/adult`` (see its SOURCE.md). adult.data is split, seeded (``--seed``,
default 0), into 90 % training rows and 10 % validation rows; adult.test (first line a comment
``|1x3 …``, labels with a trailing ``.``) is the test set, scored once per seed. Every model trains
on the same training rows; the validation rows serve early stopping where a model has it (ours,
its fold models, and gradient boosting through ``X_val``) and were the only rows used to choose
our defaults and which learned features to feed gradient boosting.

Models, all in this run:
(a) one-hot logistic regression: one-hot categorical columns (unknown categories ignored) +
    standardised numeric columns, ``LogisticRegression(max_iter=2000)``;
(b) ``HistGradientBoostingClassifier`` on the raw columns (categoricals ordinal-coded and marked
    categorical, missing kept as NaN), early stopping on the validation rows;
(c) our ``EntityEmbedding`` MLP (defaults; the categorical/numeric roles inferred);
(d), (d2)–(d5) (b) with learned columns appended, named by the call that gives the training rows'
    columns (validation and test rows always get the full model's ``transform``, with the same
    ``score``); the standardised numerics that both calls also return are left out (they repeat
    the raw numerics):
    (d) ``transform()``, the default call: the category vectors, in-sample for the training rows;
    (d2) ``transform(score=True)``: the vectors and the MLP's logit, in-sample;
    (d3) ``fit_transform(train, folds=--folds)``: the vectors, cross-fitted (each training row's
        vectors come from a fold model that never saw it, Procrustes-aligned to the full model's);
    (d4) ``fit_transform(train, folds=--folds, score=True)``: the vectors and the logit, cross-fitted;
    (d5) the logit column alone of ``fit_transform(train, folds=--folds, score=True)``.
With several ``--seed`` values, a sweep table gives (c) − (a) and each (d) − (b) in ROC-AUC on the
validation and the test rows of every seed, and their means.
Roles: the eight text columns are categorical for every model; for (c) the inference also makes
``education-num`` (16 integer values) categorical. Test ROC-AUC, accuracy at the 0.5 threshold
and fit seconds (wall clock; the machine may be shared; a (d) row counts its features' fits too)
for each. The learned ``education`` embedding of the first seed is drawn with PCA (`--plot`) and
its nearest neighbours (cosine) listed.
"""

from __future__ import annotations

import argparse
import sys

import common

NAMES = ("age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation", "relationship",
         "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income")
TARGET, POSITIVE = "income", ">50K"
PROBES = ("Preschool", "7th-8th", "HS-grad", "Some-college", "Bachelors", "Masters", "Doctorate")


def load_tables(seed: int):
    """(train, validation, test) Tables of UCI Adult."""
    from embedworks.data import Table

    data = Table.from_csv(common.data_file("adult", "adult.data.gz"), names=NAMES)
    test = Table.from_csv(common.data_file("adult", "adult.test.gz"), names=NAMES, comment="|")
    test = test.replace(TARGET, {"<=50K.": "<=50K", ">50K.": ">50K"})
    train, valid = data.split(0.1, seed=seed)
    return train, valid, test


def raw_matrix(table, categorical, numeric, encoder=None):
    """(X, encoder): ordinal codes of the categoricals (NaN missing/unknown) then raw numerics."""
    import numpy as np
    from sklearn.preprocessing import OrdinalEncoder

    def column(c):
        values = table[c]
        return np.where([v is None for v in values.tolist()], np.nan, values).astype(object)

    cats = np.stack([column(c) for c in categorical], 1)
    if encoder is None:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                 encoded_missing_value=np.nan).fit(cats)
    nums = np.stack([table[c] for c in numeric], 1)
    return np.concatenate([encoder.transform(cats), nums], 1).astype(np.float64), encoder


def scores(y, p) -> dict:
    from sklearn.metrics import accuracy_score, roc_auc_score

    return {"test_auc": float(roc_auc_score(y, p)), "test_accuracy": float(accuracy_score(y, p >= 0.5))}


def run(seed: int, folds: int, json_path: str | None, plot_path: str | None) -> tuple[list[dict], dict]:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from embedworks.learn import EntityEmbedding

    train, valid, test = load_tables(seed)
    categorical = [c for c in NAMES if c != TARGET and not train.is_numeric(c)]
    numeric = [c for c in NAMES if c != TARGET and train.is_numeric(c)]
    y_train, y_valid, y_test = ((t[TARGET] == POSITIVE).astype(int) for t in (train, valid, test))
    base = {"section": "adult", "train": len(train), "validation": len(valid), "test": len(test),
            "seed": seed, **common.machine()}
    rows = []

    def record(model: str, seconds: float, p_test, p_valid, **extra) -> None:
        row = {**base, "model": model, **scores(y_test, p_test), "val_auc": float(roc_auc_score(y_valid, p_valid)),
               "fit_seconds": seconds, **extra}
        rows.append(row)
        common.emit_json(row, json_path)

    # (a) one-hot logistic regression
    def frame(t):
        import pandas as pd
        return pd.DataFrame({c: t[c] for c in categorical + numeric})

    onehot = make_pipeline(ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                                              ("num", StandardScaler(), numeric)]),
                           LogisticRegression(max_iter=2000))
    with common.Timer() as t:
        onehot.fit(frame(train), y_train)
    record("(a) one-hot logistic regression", t.seconds, onehot.predict_proba(frame(test))[:, 1],
           onehot.predict_proba(frame(valid))[:, 1])

    # (b) gradient boosting on the raw columns
    X_train, ordinal = raw_matrix(train, categorical, numeric)
    X_valid, X_test = (raw_matrix(t, categorical, numeric, ordinal)[0] for t in (valid, test))
    mask = [True] * len(categorical) + [False] * len(numeric)

    def boosting(extra_train=None, extra_valid=None, extra_test=None):
        join = (lambda a, b: a) if extra_train is None else (lambda a, b: np.concatenate([a, b], 1))
        gbm = HistGradientBoostingClassifier(categorical_features=mask + [False] * (
            0 if extra_train is None else extra_train.shape[1]), early_stopping=True, random_state=seed)
        with common.Timer() as t:
            gbm.fit(join(X_train, extra_train), y_train, X_val=join(X_valid, extra_valid), y_val=y_valid)
        return gbm, t.seconds, gbm.predict_proba(join(X_test, extra_test))[:, 1], \
            gbm.predict_proba(join(X_valid, extra_valid))[:, 1]

    gbm, seconds, p_test, p_valid = boosting()
    record("(b) gradient boosting, raw columns", seconds, p_test, p_valid, iterations=gbm.n_iter_)

    # (c) our entity-embedding MLP
    model = EntityEmbedding(target=TARGET, validation=valid, seed=seed, progress=False)
    with common.Timer() as t:
        model.fit(train)
    record("(c) EntityEmbedding MLP (ours)", t.seconds, model.predict_proba(test)[:, 1],
           model.predict_proba(valid)[:, 1], epochs=model.best_epoch,
           dims={c: e.dim for c, e in model.embeddings.items()})

    # (d) gradient boosting on raw columns + our learned columns. score=True only appends the score
    # column(s) to what the default call returns (for fit_transform, tests/test_entity.py checks it),
    # so each call's columns are taken from the score=True matrices, which saves a second cross-fit.
    crossfit = EntityEmbedding(target=TARGET, validation=valid, seed=seed, progress=False)
    with common.Timer() as tc:
        oof = crossfit.fit_transform(train, folds=folds, score=True)
    assert np.array_equal(crossfit.predict_proba(valid), model.predict_proba(valid))  # the same full model
    in_sample = [model.transform(x, score=True) for x in (train, valid, test)]
    assert np.array_equal(in_sample[1][:, :-1], model.transform(valid))
    names = model.feature_names_for(score=True)
    n_vectors = sum(e.dim for e in model.embeddings.values())  # the first columns
    learned = {"vectors": np.arange(len(names)) < n_vectors, "score": np.isin(names, model.score_names)}
    learned["vectors and score"] = learned["vectors"] | learned["score"]
    for label, train_rows, columns, seconds in (
            ("(d) gradient boosting, raw + `transform()`", in_sample[0], "vectors", t.seconds),
            ("(d2) gradient boosting, raw + `transform(score=True)`", in_sample[0], "vectors and score", t.seconds),
            ("(d3) gradient boosting, raw + `fit_transform()`", oof, "vectors", tc.seconds),
            ("(d4) gradient boosting, raw + `fit_transform(score=True)`", oof, "vectors and score", tc.seconds),
            ("(d5) gradient boosting, raw + `fit_transform(score=True)`, score only", oof, "score", tc.seconds)):
        keep = learned[columns]
        gbm, boost_s, p_test, p_valid = boosting(train_rows[:, keep], in_sample[1][:, keep], in_sample[2][:, keep])
        record(label, boost_s + seconds, p_test, p_valid, iterations=gbm.n_iter_, boosting_seconds=boost_s,
               extra_features=int(keep.sum()), learned=columns,
               cross_fitted=train_rows is oof, folds=folds if train_rows is oof else None)

    return rows, education_report(model, plot_path)


def education_report(model, plot_path: str | None) -> dict:
    """Nearest neighbours of a few education levels, and a PCA plot of all of them."""
    emb = model.embeddings["education"]
    levels = [k for k in emb.keys if k != "<unknown>"]
    neighbours = {k: [(n, round(s, 3)) for n, s in emb.most_similar(k, k=3, restrict=levels)] for k in PROBES}
    if plot_path:
        from embedworks.visualize import plot

        plot(emb, plot_path, method="pca", keys=levels, labels=levels, color_by="count",
             title="UCI Adult: learned education embedding")
    return neighbours


def table(rows: list[dict]) -> str:
    header = ["model", "test ROC-AUC", "test accuracy", "validation ROC-AUC", "fit s"]
    body = [[r["model"], common.fmt(r["test_auc"], ".4f"), common.fmt(r["test_accuracy"], ".4f"),
             common.fmt(r["val_auc"], ".4f"), common.fmt(r["fit_seconds"], ".1f")] for r in rows]
    return common.markdown_table(header, body, "lrrrr")


def sweep(rows_by_seed: dict[int, list[dict]]) -> str:
    """(c) − (a) and each (d) − (b), ROC-AUC, on the validation and the test rows of every seed."""
    seeds = list(rows_by_seed)
    by_model = {s: {r["model"][:4].strip(): r for r in rows} for s, rows in rows_by_seed.items()}
    pairs = [("(c)", "(a)")] + [(d, "(b)") for d in by_model[seeds[0]] if d.startswith("(d")]
    header = (["difference"] + [f"val seed {s}" for s in seeds] + ["val mean"]
              + [f"test seed {s}" for s in seeds] + ["test mean"])
    body = []
    for ours, ref in pairs:
        cells = [f"{ours} − {ref}"]
        for split in ("val_auc", "test_auc"):
            diffs = [by_model[s][ours][split] - by_model[s][ref][split] for s in seeds]
            cells += [f"{d:+.4f}" for d in diffs] + [f"{sum(diffs) / len(diffs):+.4f}"]
        body.append(cells)
    return common.markdown_table(header, body, "l" + "r" * (len(header) - 1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, nargs="+", default=[0],
                        help="validation split and model seed; several give a sweep table (default 0)")
    parser.add_argument("--folds", type=int, default=5, help="cross-fitting folds of (d3)-(d5) (default 5)")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result")
    parser.add_argument("--plot", metavar="PNG", default=str(common.cache_dir() / "adult-education.png"),
                        help="where to draw the education embedding (default: benchmarks/.cache/)")
    args = parser.parse_args(argv)
    results = {}
    for i, seed in enumerate(args.seed):
        results[seed] = run(seed, args.folds, args.json, args.plot if i == 0 else None)
    rows, neighbours = results[args.seed[0]]
    print()
    print(f"`{common.command_line()}`")
    print()
    print(f"seed {args.seed[0]}:")
    print()
    print(table(rows))
    if len(args.seed) > 1:
        print()
        print("ROC-AUC differences per split seed:")
        print()
        print(sweep({seed: r for seed, (r, _) in results.items()}))
    print()
    print(f"education neighbours (cosine), seed {args.seed[0]}:")
    for level, near in neighbours.items():
        print(f"- {level}: " + ", ".join(f"{k} ({s:.2f})" for k, s in near))
    print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
