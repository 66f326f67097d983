"""EntityEmbedding: planted categories, unknowns, determinism, save/load, tasks, cross-fitting, CLI,
bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedworks import Embeddings, load
from embedworks.cli import app
from embedworks.data import Table
from embedworks.errors import FormatError, InvalidInputError
from embedworks.learn import EntityEmbedding
from embedworks.learn.entity import auto_dim, fold_assignment

pytest.importorskip("torch")  # the imports above do not import torch; fit and load do
pytest.importorskip("safetensors")

DATA = Path(os.environ.get("EMBEDWORKS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
ADULT = DATA / "adult"
EFFECTS = {"s0": (2, 0), "s1": (2, 0), "s2": (0, 2), "s3": (-2, 0), "s4": (0, -2), "s5": (1.4, -1.4)}


def planted(n: int = 3000, seed: int = 0) -> Table:
    """Shops s0 and s1 act identically: the target's logit is a_shop · x1 + b_shop · x2."""
    rng = np.random.default_rng(seed)
    shops = rng.choice(list(EFFECTS), n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    a = np.array([EFFECTS[s] for s in shops], dtype=float)
    logit = a[:, 0] * x1 + a[:, 1] * x2
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-2 * logit)), "yes", "no")
    region = rng.choice(["north", "south", "east", "west", "far"], n, p=[0.3, 0.3, 0.2, 0.198, 0.002])
    return Table({"shop": shops.astype(object), "region": region.astype(object), "x1": x1, "x2": x2,
                  "y": y.astype(object)})


@pytest.fixture(scope="module")
def fitted():
    return EntityEmbedding(target="y", epochs=15, seed=0, min_count=10, progress=False).fit(planted())


def test_planted_twins_are_each_others_nearest(fitted):
    shop = fitted.embeddings["shop"]
    assert isinstance(shop, Embeddings)
    assert shop.keys == ["<unknown>", "s0", "s1", "s2", "s3", "s4", "s5"]
    assert shop.dim == auto_dim(7) == 4
    assert shop.most_similar("s0", k=1)[0][0] == "s1"
    assert shop.most_similar("s1", k=1)[0][0] == "s0"
    assert shop.metadata["count"][1] > 400
    p = fitted.predict_proba(planted(500, seed=1))
    assert p.shape == (500, 2) and np.allclose(p.sum(1), 1)
    truth = planted(500, seed=1)["y"]
    assert (fitted.predict(planted(500, seed=1)) == truth).mean() > 0.75


def test_auto_dim_rule():
    assert [auto_dim(c) for c in (2, 3, 17, 100, 101, 1000)] == [1, 2, 9, 50, 50, 50]


def test_rare_and_unseen_categories_share_unknown(fitted):
    region = fitted.embeddings["region"]
    assert "far" not in region and "<unknown>" in region  # 'far' is rarer than min_count=10
    rows = Table({"shop": ["s0", "s9", None], "region": ["far", "north", "nowhere"], "x1": [0.0] * 3,
                  "x2": [0.0] * 3})
    x = fitted.transform(rows)
    assert x.shape == (3, len(fitted.feature_names)) == (3, 4 + 3 + 2)
    unknown_shop, unknown_region = fitted.embeddings["shop"]["<unknown>"], region["<unknown>"]
    assert np.array_equal(x[1, :4], unknown_shop) and np.array_equal(x[2, :4], unknown_shop)
    assert np.array_equal(x[0, 4:7], unknown_region) and np.array_equal(x[2, 4:7], unknown_region)
    assert np.array_equal(x[0, :4], fitted.embeddings["shop"]["s0"])


def test_transform_is_vectors_and_numerics_and_score_on_request(fitted):
    rows = planted(50, seed=3)
    codes = fitted.encoder.codes(rows)
    # the default: each column's vector, then the standardised numerics; no score
    x = fitted.transform(rows)
    names = [f"shop[{i}]" for i in range(4)] + [f"region[{i}]" for i in range(3)] + ["x1", "x2"]
    assert fitted.feature_names == fitted.feature_names_for(score=False) == names
    expected = np.concatenate([fitted.embeddings["shop"].vectors[codes[:, 0]],
                               fitted.embeddings["region"].vectors[codes[:, 1]], fitted.encoder.numbers(rows)], 1)
    assert x.dtype == np.float32 and np.array_equal(x, expected.astype(np.float32))
    # score=True appends the logit, which predict_proba turns into P(yes)
    xs = fitted.transform(rows, score=True)
    assert fitted.score_names == ["y (logit)"]
    assert fitted.feature_names_for(score=True) == names + ["y (logit)"]
    assert xs.shape == (50, 10) and np.array_equal(xs[:, :-1], x)
    assert np.allclose(1 / (1 + np.exp(-xs[:, -1])), fitted.predict_proba(rows)[:, 1], atol=1e-6)


def test_deterministic_with_a_seed_on_cpu():
    kwargs = {"target": "y", "epochs": 3, "seed": 7, "device": "cpu", "progress": False}
    data = planted(800)
    a, b = EntityEmbedding(**kwargs).fit(data), EntityEmbedding(**kwargs).fit(data)
    for column in a.embeddings:
        assert np.array_equal(a.embeddings[column].vectors, b.embeddings[column].vectors)
    for (ka, va), (kb, vb) in zip(a._net.state_dict().items(), b._net.state_dict().items()):
        assert ka == kb and bool((va == vb).all())
    c = EntityEmbedding(**{**kwargs, "seed": 8}).fit(data)
    assert not np.array_equal(a.embeddings["shop"].vectors, c.embeddings["shop"].vectors)


def test_save_load_round_trip(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    assert (path / "entity.json").is_file() and (path / "weights.safetensors").is_file()
    back = EntityEmbedding.load(path, device="cpu")
    test = planted(300, seed=2)
    assert np.array_equal(back.predict_proba(test), fitted.predict_proba(test))
    assert np.array_equal(back.transform(test), fitted.transform(test))
    assert np.array_equal(back.transform(test, score=True), fitted.transform(test, score=True))
    assert back.classes == ["no", "yes"] and back.best_epoch == fitted.best_epoch
    on_disk = load(path / "shop.emb")
    assert on_disk.keys == fitted.embeddings["shop"].keys
    assert np.array_equal(on_disk.vectors, fitted.embeddings["shop"].vectors)
    with pytest.raises(FormatError, match="not an entity embedding model"):
        EntityEmbedding.load(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="refusing to overwrite"):
        fitted.save(tmp_path / "other")
    assert (tmp_path / "other" / "keep.txt").read_text() == "mine"


def test_regression_and_multiclass():
    data = planted(1500)
    shop_value = {"s0": 10.0, "s1": 10.0, "s2": -5.0, "s3": 0.0, "s4": 3.0, "s5": 7.0}
    target = np.array([shop_value[s] for s in data["shop"].tolist()]) + 2 * data["x1"]
    data.columns["amount"] = target
    reg = EntityEmbedding(target="amount", task="regression", numeric=["x1"], categorical=["shop"],
                          epochs=15, progress=False).fit(data)
    pred = reg.predict(data)
    assert pred.dtype == np.float64 and np.corrcoef(pred, target)[0, 1] > 0.95
    with pytest.raises(InvalidInputError, match="predict_proba is for classification"):
        reg.predict_proba(data)

    multi = EntityEmbedding(target="region", task="multiclass", categorical=["shop", "y"], epochs=2,
                            class_weight="balanced", progress=False).fit(data)
    proba = multi.predict_proba(data)
    assert proba.shape == (len(data), 5) and np.allclose(proba.sum(1), 1)
    assert set(multi.predict(data)) <= set(multi.classes)
    assert multi.score_names == [f"region={c} (logit)" for c in multi.classes]
    assert multi.feature_names_for(score=True) == multi.feature_names + multi.score_names
    assert multi.transform(data, score=True).shape == (len(data), len(multi.feature_names) + 5)
    assert reg.feature_names[-1] == "x1" and reg.score_names == ["amount (prediction)"]
    x = reg.transform(data, score=True)
    assert np.array_equal(x[:, :-1], reg.transform(data))
    assert np.allclose(x[:, -1] * reg.encoder.target_stats["std"] + reg.encoder.target_stats["mean"], pred, atol=1e-4)


def test_class_weight_and_no_validation():
    model = EntityEmbedding(target="y", epochs=2, validation=0, class_weight={"yes": 3.0},
                            progress=False).fit(planted(600))
    assert len(model.history) == 2 and "val_loss" not in model.history[0]
    with pytest.raises(InvalidInputError, match="not a class"):
        EntityEmbedding(target="y", epochs=1, class_weight={"maybe": 2.0}, progress=False).fit(planted(200))


def test_nan_in_numeric_columns_imputed_with_indicator():
    data = planted(600)
    data.columns["x2"] = np.where(np.arange(600) % 7 == 0, np.nan, data["x2"])
    model = EntityEmbedding(target="y", epochs=2, progress=False).fit(data)
    assert "x2 (missing)" in model.feature_names
    x = model.transform(data)
    assert np.isfinite(x).all()
    assert np.isfinite(model.predict_proba(data)).all()


def test_bad_input():
    data = planted(200)
    with pytest.raises(InvalidInputError, match="no target column 'income'"):
        EntityEmbedding(target="income", progress=False).fit(data)
    data.columns["same"] = np.array(["one"] * 200, dtype=object)
    with pytest.raises(InvalidInputError, match="only one class"):
        EntityEmbedding(target="same", progress=False).fit(data)
    with pytest.raises(InvalidInputError, match="'same' has a single value"):
        EntityEmbedding(target="y", categorical=["shop", "same"], progress=False).fit(data)
    data.columns["empty"] = np.full(200, np.nan)
    with pytest.raises(InvalidInputError, match="'empty' is always missing"):
        EntityEmbedding(target="y", numeric=["empty"], progress=False).fit(data)
    with pytest.raises(InvalidInputError, match="task must be"):
        EntityEmbedding(target="y", task="ranking")
    with pytest.raises(InvalidInputError, match="epochs must be >= 1"):
        EntityEmbedding(target="y", epochs=0)
    with pytest.raises(InvalidInputError, match="not fitted"):
        EntityEmbedding(target="y").transform(data)


# --------------------------------------------------------------------------- cross-fitting
def test_fit_transform_is_fit_plus_out_of_fold_features():
    data = planted(1200)
    kwargs = {"target": "y", "epochs": 20, "lr": 3e-3, "seed": 3, "device": "cpu", "progress": False}
    model = EntityEmbedding(**kwargs)
    oof = model.fit_transform(data, folds=3, score=True)
    names = model.feature_names_for(score=True)
    assert oof.shape == (len(data), len(names)) and oof.dtype == np.float32
    assert names == [f"shop[{i}]" for i in range(4)] + [f"region[{i}]" for i in range(3)] + ["x1", "x2", "y (logit)"]
    # the model itself is exactly what fit gives
    same = EntityEmbedding(**kwargs).fit(data)
    in_sample = same.transform(data, score=True)
    assert np.array_equal(model.transform(data, score=True), in_sample)
    assert np.array_equal(model.predict_proba(data), same.predict_proba(data))
    # the validation rows (10 %, held out by the seeded split) are not learned from: they get transform
    held = ~np.isin(np.arange(len(data)), model._split(data)[0])
    assert held.sum() == 120
    assert np.array_equal(oof[held], in_sample[held])
    # the training rows get other vectors and scores, the same (target-free) numerics
    train = ~held
    assert np.array_equal(oof[train, 7:9], in_sample[train, 7:9])
    assert not np.allclose(oof[train, :7], in_sample[train, :7], atol=1e-3)
    assert np.abs(oof[train, -1] - in_sample[train, -1]).mean() > 0.01
    # aligned: fold vectors and scores mean what the full model's do
    assert np.corrcoef(oof[train, -1], in_sample[train, -1])[0, 1] > 0.9
    for j in range(4):
        assert np.corrcoef(oof[train, j], in_sample[train, j])[0, 1] > 0.5


def auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC from ranks (Mann–Whitney U)."""
    from scipy.stats import rankdata

    ranks, n_pos = rankdata(score), int(positive.sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(score) - n_pos)))


def test_out_of_fold_scores_come_from_models_that_never_saw_the_row():
    # every row has its own id and a coin-flip target: a model can only memorise it
    rng = np.random.default_rng(0)
    n, folds = 300, 3
    data = Table({"id": np.array([f"r{i}" for i in range(n)], dtype=object),
                  "noise": rng.normal(size=n), "y": rng.choice(["no", "yes"], n).astype(object)})
    kwargs = {"target": "y", "categorical": ["id"], "numeric": ["noise"], "hidden": (32,), "dropout": 0.0,
              "lr": 0.02, "epochs": 40, "batch_size": 32, "validation": 0, "seed": 0, "device": "cpu",
              "progress": False}
    model = EntityEmbedding(**kwargs)
    oof = model.fit_transform(data, folds=folds, score=True)
    y = data["y"] == "yes"
    assert model.feature_names_for(score=True)[-1] == "y (logit)"
    assert auc(y, model.transform(data, score=True)[:, -1]) > 0.95  # in-sample: memorised
    assert abs(auc(y, oof[:, -1]) - 0.5) < 0.15                     # out of fold: chance
    # a held-out id is unknown to its fold's model: every row gets the <unknown> vector (zero: no
    # training row was unknown), while in-sample every row has its own learned vector
    dim = model.embeddings["id"].dim
    unknown = model.embeddings["id"]["<unknown>"]
    assert np.array_equal(oof[:, :dim], np.tile(unknown, (n, 1))) and not unknown.any()
    assert len(np.unique(model.transform(data)[:, :dim], axis=0)) == n
    # the default (no score) gives the same out-of-fold vectors and numerics, without the score column
    plain = EntityEmbedding(**kwargs).fit_transform(data, folds=folds)
    assert model.feature_names == [f"id[{i}]" for i in range(dim)] + ["noise"]
    assert np.array_equal(plain, oof[:, :-1])


def test_fold_assignment_covers_every_row_once():
    strata = np.array([0] * 70 + [1] * 30)
    folds = fold_assignment(100, 5, seed=4, strata=strata)
    assert folds.shape == (100,) and set(folds.tolist()) == set(range(5))
    assert np.bincount(folds).tolist() == [20] * 5                     # each row in exactly one fold
    assert [np.bincount(folds[strata == 1], minlength=5).tolist()] == [[6] * 5]  # stratified
    assert np.array_equal(folds, fold_assignment(100, 5, seed=4, strata=strata))
    assert not np.array_equal(folds, fold_assignment(100, 5, seed=5, strata=strata))
    assert sorted(np.bincount(fold_assignment(7, 3, seed=0)).tolist()) == [2, 2, 3]


def test_fit_transform_is_deterministic_and_checks_folds():
    data = planted(400)
    kwargs = {"target": "y", "epochs": 2, "seed": 1, "device": "cpu", "progress": False}
    model = EntityEmbedding(**kwargs)
    a = model.fit_transform(data, folds=2)
    assert a.shape == (400, len(model.feature_names)) and model.feature_names[-2:] == ["x1", "x2"]  # no score
    with_score = EntityEmbedding(**kwargs).fit_transform(data, folds=2, score=True)
    assert np.array_equal(with_score[:, :-1], a)  # the same fold models; score=True only appends
    assert np.array_equal(a, EntityEmbedding(**kwargs).fit_transform(data, folds=2))
    assert not np.array_equal(a, EntityEmbedding(**{**kwargs, "seed": 2}).fit_transform(data, folds=2))
    for bad in (1, 0, -3, 2.5, True, "5"):
        with pytest.raises(ValueError, match="folds must be an integer >= 2"):
            EntityEmbedding(**kwargs).fit_transform(data, folds=bad)
    with pytest.raises(ValueError, match=r"folds \(361\) cannot exceed the number of training rows \(360\)"):
        EntityEmbedding(**kwargs).fit_transform(data, folds=361)


def test_fit_transform_multiclass_and_regression():
    data = planted(600)
    data.columns["amount"] = 3 * data["x1"] + np.where(data["shop"] == "s2", 5.0, 0.0)
    multi = EntityEmbedding(target="region", task="multiclass", categorical=["shop"], numeric=["x1"], epochs=2,
                            seed=0, progress=False)
    x = multi.fit_transform(data, folds=3, score=True)
    assert x.shape == (600, 4 + 1 + 5) and np.isfinite(x).all()
    assert multi.feature_names_for(score=True)[-5:] == [f"region={c} (logit)" for c in multi.classes]
    reg = EntityEmbedding(target="amount", task="regression", categorical=["shop"], numeric=["x1"], epochs=10,
                          seed=0, progress=False)
    x = reg.fit_transform(data, folds=3, score=True)
    assert reg.feature_names_for(score=True)[-1] == "amount (prediction)"
    assert np.corrcoef(x[:, -1], data["amount"])[0, 1] > 0.8


def test_importing_learn_does_not_import_torch():
    code = "import sys, embedworks.learn, embedworks.data; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------- CLI
def write_csv(path: Path, table: Table) -> Path:
    lines = [",".join(table.names)]
    for i in range(len(table)):
        lines.append(", ".join("?" if v is None else f"{v}" for v in (table[c][i] for c in table.names)))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_train_entity_then_similar(tmp_path):
    csv = write_csv(tmp_path / "shops.csv", planted(1500))
    runner = CliRunner()
    result = runner.invoke(app, ["train", "entity", str(csv), "--target", "y", "--categorical", "shop,region",
                                 "--epochs", "15", "--quiet", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "shop.emb").is_dir() and "7 categories × 4" in " ".join(result.output.split())
    result = runner.invoke(app, ["similar", str(tmp_path / "out" / "shop.emb"), "s0", "-k", "1"])
    assert result.exit_code == 0 and "s1" in result.output
    back = EntityEmbedding.load(tmp_path / "out", device="cpu")
    assert back.embeddings["shop"].keys[0] == "<unknown>"


def test_cli_bad_input_is_one_line(tmp_path):
    csv = write_csv(tmp_path / "shops.csv", planted(100))
    result = CliRunner().invoke(app, ["train", "entity", str(csv), "--target", "income", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no target column 'income'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,x,yes\n2,y\n")
    result = CliRunner().invoke(app, ["train", "entity", str(bad), "--target", "y", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "line 3" in result.output


# --------------------------------------------------------------------------- real data
@pytest.mark.slow
@pytest.mark.skipif(not ADULT.exists(), reason="needs ../shared/data/adult")
def test_adult_learns_income():
    names = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
             "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
             "income"]
    train = Table.from_csv(ADULT / "adult.data.gz", names=names)
    test = Table.from_csv(ADULT / "adult.test.gz", names=names, comment="|").replace(
        "income", {"<=50K.": "<=50K", ">50K.": ">50K"})
    model = EntityEmbedding(target="income", epochs=3, progress=False).fit(train)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(test["income"] == ">50K", model.predict_proba(test)[:, 1]) > 0.88
    assert "Tech-support" in model.embeddings["occupation"]
