"""EntityEmbedding: planted categories, unknowns, determinism, save/load, tasks, CLI, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from typer.testing import CliRunner  # noqa: E402

from embedworks import Embeddings, load  # noqa: E402
from embedworks.cli import app  # noqa: E402
from embedworks.data import Table  # noqa: E402
from embedworks.errors import FormatError, InvalidInputError  # noqa: E402
from embedworks.learn import EntityEmbedding  # noqa: E402
from embedworks.learn.entity import auto_dim  # noqa: E402

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


def test_deterministic_with_a_seed_on_cpu():
    kwargs = dict(target="y", epochs=3, seed=7, device="cpu", progress=False)
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
    names = ("age workclass fnlwgt education education-num marital-status occupation relationship race sex "
             "capital-gain capital-loss hours-per-week native-country income").split()
    train = Table.from_csv(ADULT / "adult.data.gz", names=names)
    test = Table.from_csv(ADULT / "adult.test.gz", names=names, comment="|").replace(
        "income", {"<=50K.": "<=50K", ">50K.": ">50K"})
    model = EntityEmbedding(target="income", epochs=3, progress=False).fit(train)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(test["income"] == ">50K", model.predict_proba(test)[:, 1]) > 0.88
    assert "Tech-support" in model.embeddings["occupation"]
