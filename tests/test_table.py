"""Table: CSV/Parquet/DataFrame reading, role inference, TableEncoder vocabularies and statistics."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from embedworks.data import Table, TableEncoder
from embedworks.data.table import UNKNOWN
from embedworks.errors import FormatError, InvalidInputError

DATA = Path(os.environ.get("EMBEDWORKS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
ADULT = DATA / "adult"
ADULT_NAMES = ("age workclass fnlwgt education education-num marital-status occupation relationship race sex "
               "capital-gain capital-loss hours-per-week native-country income").split()


def write(tmp_path, name, text):
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


# --------------------------------------------------------------------------- reading
def test_adult_style_csv_spaces_missing_no_header(tmp_path):
    path = write(tmp_path, "a.data", "39, State-gov, 77516, <=50K\n50, ?, 83311, >50K\n38, Private, , <=50K\n")
    t = Table.from_csv(path, names=["age", "work", "w", "income"])
    assert len(t) == 3 and t.names == ["age", "work", "w", "income"]
    assert t.is_numeric("age") and t.is_numeric("w") and not t.is_numeric("work")
    assert t["work"].tolist() == ["State-gov", None, "Private"]
    assert np.isnan(t["w"][2]) and t["age"].tolist() == [39.0, 50.0, 38.0]


@pytest.mark.parametrize("sep", [",", "\t", ";", "|"])
def test_separator_sniffed_and_header_detected(tmp_path, sep):
    text = sep.join(["city", "zip", "price"]) + "\n" + "\n".join(
        sep.join(row) for row in [["Paris", "02134", "1.5"], ["Rome", "10115", "2"]]) + "\n"
    t = Table.from_csv(write(tmp_path, "t.csv.gz", text))
    assert t.names == ["city", "zip", "price"]
    assert t["zip"].tolist() == ["02134", "10115"]  # a leading zero keeps the column text
    assert t["price"].tolist() == [1.5, 2.0]


def test_comment_skip_rows_and_replace(tmp_path):
    path = write(tmp_path, "adult.test", "|1x3 Cross validator\n25, Private, <=50K.\n\n38, ?, >50K.\n")
    t = Table.from_csv(path, names=["age", "work", "income"], comment="|")
    assert t["income"].tolist() == ["<=50K.", ">50K."]
    fixed = t.replace("income", {"<=50K.": "<=50K", ">50K.": ">50K"})
    assert fixed["income"].tolist() == ["<=50K", ">50K"] and t["income"][0] == "<=50K."
    assert Table.from_csv(path, names=["age", "work", "income"], skip_rows=1)["age"].tolist() == [25.0, 38.0]


def test_malformed_line_named(tmp_path):
    path = write(tmp_path, "bad.csv", "a,b,c\n1,x,2\n3,y\n4,z,5\n")
    with pytest.raises(FormatError, match=r"bad\.csv, line 3: 2 fields, expected 3"):
        Table.from_csv(path)


def test_header_problems(tmp_path):
    with pytest.raises(FormatError, match="appears twice"):
        Table.from_csv(write(tmp_path, "d.csv", "a,a\n1,2\n"))
    with pytest.raises(FormatError, match="no rows"):
        Table.from_csv(write(tmp_path, "e.csv", "\n\n"))


def test_dataframe_and_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"shop": ["a", None, "b"], "n": [1.0, np.nan, 3.0], "k": [1, 2, 2],
                          "flag": [True, False, True]})
    t = Table.from_dataframe(frame)
    assert t["shop"].tolist() == ["a", None, "b"] and np.isnan(t["n"][1])
    assert t.is_numeric("k") and t["flag"].tolist() == ["True", "False", "True"]
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    back = Table.read(path)
    assert back.names == t.names and back["shop"].tolist() == ["a", None, "b"]


def test_split_is_seeded_and_disjoint():
    t = Table({"x": np.arange(100.0)})
    a, b = t.split(0.2, seed=3)
    assert len(b) == 20 and len(a) == 80
    assert sorted(a["x"].tolist() + b["x"].tolist()) == list(range(100))
    assert t.split(0.2, seed=3)[1]["x"].tolist() == b["x"].tolist()


# --------------------------------------------------------------------------- roles and encoding
def table():
    rng = np.random.default_rng(0)
    n = 200
    return Table({"shop": np.array(["a"] * 100 + ["b"] * 97 + ["rare"] * 3, dtype=object),
                  "level": rng.integers(1, 4, n).astype(float),
                  "amount": np.where(np.arange(n) % 10 == 0, np.nan, rng.normal(5, 2, n)),
                  "y": np.array(["no", "yes"] * (n // 2), dtype=object)})


def test_roles_inferred_and_declared():
    t = table()
    assert t.roles("y") == (["shop", "level"], ["amount"])
    assert t.roles("y", numeric=["level", "amount"]) == (["shop"], ["level", "amount"])
    with pytest.raises(InvalidInputError, match="no target column 'incme'.*did you mean"):
        Table({"income": ["a"], "x": [1.0]}).roles("incme")
    with pytest.raises(InvalidInputError, match="numeric column 'shop' holds text"):
        t.roles("y", numeric=["shop"])
    with pytest.raises(InvalidInputError, match="both categorical and numeric"):
        t.roles("y", categorical=["level"], numeric=["level"])


def test_rare_unseen_and_missing_categories_are_unknown():
    enc = TableEncoder.fit(table(), "y", "binary", min_count=5)
    assert enc.categories["shop"] == [UNKNOWN, "a", "b"]
    assert enc.counts["shop"] == [3, 100, 97]
    new = Table({"shop": ["a", "rare", "never", None], "level": [1.0, 2.0, 3.0, 9.0],
                 "amount": [5.0, np.nan, 1.0, 2.0]})
    assert enc.codes(new)[:, 0].tolist() == [1, 0, 0, 0]
    assert enc.codes(new)[:, 1].tolist() == [1, 2, 3, 0]  # level 9 was never seen


def test_numeric_standardised_missing_imputed_with_indicator():
    t = table()
    enc = TableEncoder.fit(t, "y", "binary")
    assert enc.numeric_features == ["amount", "amount (missing)"]
    x = enc.numbers(t)
    present = ~np.isnan(t["amount"])
    assert np.isfinite(x).all()
    assert abs(x[present, 0].mean()) < 1e-5 and abs(x[present, 0].std() - 1) < 1e-4
    assert (x[~present, 0] == 0).all() and x[:, 1].tolist() == (~present).astype(float).tolist()


def test_target_classes_and_bad_targets():
    enc = TableEncoder.fit(table(), "y", "binary")
    assert enc.classes == ["no", "yes"]
    y, kept = enc.target_values(table())
    assert kept.all() and y[:4].tolist() == [0, 1, 0, 1]
    one = Table({"x": ["a", "b"] * 5, "y": ["same"] * 10})
    with pytest.raises(InvalidInputError, match="only one class"):
        TableEncoder.fit(one, "y", "binary")
    three = Table({"x": ["a", "b", "c"] * 3, "y": ["p", "q", "r"] * 3})
    with pytest.raises(InvalidInputError, match="3 classes.*multiclass"):
        TableEncoder.fit(three, "y", "binary")


def test_constant_and_all_missing_columns(caplog):
    t = Table({"one": ["k"] * 6, "none": [None] * 6, "blank": [np.nan] * 6, "x": [1.5, 2, 3, 4, 5, 6],
               "y": ["a", "b"] * 3})
    with caplog.at_level(logging.WARNING):
        enc = TableEncoder.fit(t, "y", "binary")
    assert enc.categorical == [] and list(enc.numeric) == ["x"]
    assert "single value ('k')" in caplog.text and "always missing" in caplog.text
    with pytest.raises(InvalidInputError, match="'one' has a single value"):
        TableEncoder.fit(t, "y", "binary", categorical=["one"])
    with pytest.raises(InvalidInputError, match="'none' is always missing"):
        TableEncoder.fit(t, "y", "binary", categorical=["none"])
    with pytest.raises(InvalidInputError, match="'blank' is always missing"):
        TableEncoder.fit(t, "y", "binary", numeric=["blank"])


def test_encoder_json_round_trip():
    enc = TableEncoder.fit(table(), "y", "binary")
    back = TableEncoder.from_dict(enc.to_dict())
    assert (back.codes(table()) == enc.codes(table())).all()
    assert (back.numbers(table()) == enc.numbers(table())).all()


@pytest.mark.skipif(not ADULT.exists(), reason="needs ../shared/data/adult")
def test_real_adult_files():
    train = Table.from_csv(ADULT / "adult.data.gz", names=ADULT_NAMES)
    test = Table.from_csv(ADULT / "adult.test.gz", names=ADULT_NAMES, comment="|")
    assert (len(train), len(test)) == (32561, 16281)
    assert set(test["income"].tolist()) == {"<=50K.", ">50K."}
    assert sum(v is None for v in train["occupation"].tolist()) == 1843
    cat, num = train.roles("income")
    assert "education" in cat and "age" in num
