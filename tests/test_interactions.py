"""Interactions: parsing layouts, id mapping, duplicates, splits, bad input, save/load."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from embedworks.data import Interactions
from embedworks.errors import FormatError, InvalidInputError, UnknownKeyError

UDATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n196\t377\t4\t881250950\n"
RATINGS_DAT = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"

DATA_DIR = Path(os.environ.get("EMBEDWORKS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
ML100K = DATA_DIR / "ml-100k"


def write(tmp_path, name, text):
    p = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(p, "wt") as f:
            f.write(text)
    else:
        p.write_text(text)
    return p


def dense(inter):
    return inter.csr.toarray()


def pairs(inter):
    return set(zip(inter.raw_user_ids(), inter.raw_item_ids()))


# --------------------------------------------------------------------------- parsing

def test_udata_layout_and_mapping(tmp_path):
    x = Interactions.from_csv(write(tmp_path, "u.data", UDATA))
    assert (x.n_users, x.n_items, x.nnz) == (3, 3, 4)
    assert x.users == [22, 186, 196] and x.items == [242, 302, 377]   # sorted ints
    assert x.user_index == {22: 0, 186: 1, 196: 2}
    assert x.item_index[377] == 2 and x.items[x.item_index[302]] == 302
    # aligned COO sorted by user then item
    assert x.user_ids.tolist() == [0, 1, 2, 2] and x.item_ids.tolist() == [2, 1, 0, 2]
    assert x.values.tolist() == [1.0, 3.0, 3.0, 4.0]
    assert x.timestamps.dtype == np.int64
    assert x.timestamps.tolist() == [878887116, 891717742, 881250949, 881250950]
    m = x.csr
    assert isinstance(m, sp.csr_matrix) and m.dtype == np.float32 and m.has_sorted_indices
    assert m.shape == (3, 3)
    assert m[x.user_index[196], x.item_index[377]] == 4.0
    assert x.csc.dtype == np.float32 and (x.csc.toarray() == m.toarray()).all()
    assert x.raw_user_ids() == [22, 186, 196, 196]


def test_ratings_dat_layout(tmp_path):
    x = Interactions.from_csv(write(tmp_path, "ratings.dat", RATINGS_DAT))
    assert x.users == [1, 2] and x.items == [661, 1193]
    assert dense(x).tolist() == [[3.0, 5.0], [0.0, 4.0]]
    assert x.timestamps.tolist() == [978302109, 978300760, 978298413]


def test_csv_with_header(tmp_path):
    text = "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n7,31,4.5,1260759185\n"
    x = Interactions.from_csv(write(tmp_path, "ratings.csv", text))
    assert x.users == [1, 7] and x.items == [31, 1029]
    assert dense(x).tolist() == [[2.5, 3.0], [4.5, 0.0]]
    assert x.has_timestamps


def test_csv_header_aliases_and_string_ids(tmp_path):
    text = "customer,product,clicks\nbob,pear,1\nalice,apple,3\nalice,pear,2\n"
    x = Interactions.from_csv(write(tmp_path, "clicks.csv", text))
    assert x.users == ["alice", "bob"] and x.items == ["apple", "pear"]
    assert dense(x).tolist() == [[3.0, 2.0], [0.0, 1.0]]
    assert x.timestamps is None


def test_gz_equals_plain(tmp_path):
    a = Interactions.from_csv(write(tmp_path, "u.data", UDATA))
    b = Interactions.from_csv(write(tmp_path, "u1.base.gz", UDATA))
    assert a.users == b.users and a.items == b.items
    assert (dense(a) == dense(b)).all() and (a.timestamps == b.timestamps).all()


def test_gz_detected_by_content(tmp_path):
    p = tmp_path / "data.txt"
    p.write_bytes(gzip.compress(UDATA.encode()))
    assert Interactions.from_csv(p).nnz == 4


def test_whitespace_and_explicit_columns(tmp_path):
    x = Interactions.from_csv(write(tmp_path, "ws.txt", "10 1 5\n10   2 4\n\n11 1 1\n"))
    assert x.users == [10, 11] and dense(x).tolist() == [[5.0, 4.0], [1.0, 0.0]]
    # columns by position: item first, user second; a role mapped to None is left out
    y = Interactions.from_csv(write(tmp_path, "swap.tsv", "a\tu1\t5\nb\tu2\t3\n"),
                              columns={"user": 1, "item": 0, "value": None})
    assert y.users == ["u1", "u2"] and y.items == ["a", "b"] and y.values.tolist() == [1.0, 1.0]
    # columns by name
    z = Interactions.from_csv(write(tmp_path, "named.csv", "when,who,what,stars\n5,u,i,2\n"),
                              columns={"user": "who", "item": "what", "value": "stars", "timestamp": "when"})
    assert z.users == ["u"] and z.values.tolist() == [2.0] and z.timestamps.tolist() == [5]


def test_two_columns_and_header_of_names(tmp_path):
    x = Interactions.from_csv(write(tmp_path, "pairs.csv", "user,item\n1,2\n1,3\n"))
    assert x.nnz == 2 and x.values.tolist() == [1.0, 1.0]
    y = Interactions.from_csv(write(tmp_path, "pairs2.csv", "1,2\n1,3\n"))
    assert y.nnz == 2


def test_quoted_csv_and_id_types(tmp_path):
    text = 'user,item,rating\n"Smith, J",007,5\nLee,7,4\n'
    x = Interactions.from_csv(write(tmp_path, "q.csv", text))
    assert x.users == ["Lee", "Smith, J"]
    assert x.items == ["007", "7"]        # "007" is not a plain integer: all item ids stay str
    y = Interactions.from_csv(write(tmp_path, "q.csv", text), ids="str")
    assert y.items == ["007", "7"]


def test_header_forced_off(tmp_path):
    with pytest.raises(FormatError):  # header row read as data: 'rating' is not a number
        Interactions.from_csv(write(tmp_path, "h.csv", "user,item,rating\n1,2,3\n"), header=False)


# --------------------------------------------------------------------------- from_arrays / others

def test_from_arrays_mapping_shared_and_extend():
    train = Interactions.from_arrays(["b", "a", "c"], [2, 1, 1], [1.0, 2.0, 3.0])
    assert train.users == ["a", "b", "c"] and train.items == [1, 2]
    test = Interactions.from_arrays(["c", "a"], [2, 2], user_ids=train.users, item_ids=train.items)
    assert test.users == train.users and test.items == train.items
    assert test.user_ids.tolist() == [0, 2] and test.values.tolist() == [1.0, 1.0]
    with pytest.raises(UnknownKeyError, match="'d'"):
        Interactions.from_arrays(["d"], [1], user_ids=train.users, item_ids=train.items)
    ext = Interactions.from_arrays(["z", "d", "a"], [1, 3, 1], user_ids=train.users,
                                   item_ids=train.items, extend=True)
    assert ext.users == ["a", "b", "c", "d", "z"] and ext.items == [1, 2, 3]
    assert train.users == ["a", "b", "c"]    # the given list is not modified


def test_from_arrays_bad_input():
    with pytest.raises(InvalidInputError, match="not finite"):
        Interactions.from_arrays([1, 2], [1, 2], [1.0, np.nan])
    with pytest.raises(InvalidInputError):
        Interactions.from_arrays([1, 2], [1], [1.0, 2.0])
    with pytest.raises(InvalidInputError):
        Interactions.from_arrays([], [])
    with pytest.raises(InvalidInputError, match="float"):
        Interactions.from_arrays([1.5], [1])


def test_from_arrays_datetime_timestamps():
    ts = np.array(["2020-01-01T00:00:00", "2020-01-01T00:00:10"], dtype="datetime64[s]")
    x = Interactions.from_arrays([1, 1], [1, 2], timestamps=ts)
    assert x.timestamps.tolist() == [1577836800, 1577836810]


def test_from_sparse():
    m = sp.csr_matrix(np.array([[0, 2.0, 0], [1.0, 0, 0]]))
    x = Interactions.from_sparse(m, users=["u", "v"], items=["a", "b", "c"])
    assert x.n_users == 2 and x.n_items == 3 and x.nnz == 2
    assert x.user_index["v"] == 1 and dense(x).tolist() == m.toarray().tolist()
    y = Interactions.from_sparse(np.eye(3))
    assert y.users == [0, 1, 2] and y.nnz == 3


def test_from_dataframe_mapping():
    cols = {"uid": np.array([3, 1, 3]), "iid": np.array(["x", "y", "y"]),
            "rating": np.array([1.0, 2.0, 5.0]), "t": np.array([10, 20, 30])}
    x = Interactions.from_dataframe(cols, user="uid", item="iid", value="rating", timestamp="t")
    assert x.users == [1, 3] and dense(x).tolist() == [[0.0, 2.0], [1.0, 5.0]]
    with pytest.raises(InvalidInputError, match="no column 'user'"):
        Interactions.from_dataframe(cols)


def test_from_dataframe_pandas():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": ["a", "b"], "item": [1, 2], "rating": [4.0, 3.0],
                       "when": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    x = Interactions.from_dataframe(df, value="rating", timestamp="when")
    assert x.users == ["a", "b"] and x.values.tolist() == [4.0, 3.0]
    assert x.timestamps.tolist() == [1577836800, 1577923200]


# --------------------------------------------------------------------------- duplicates

DUPS = "1\t10\t1\t200\n2\t10\t4\t50\n1\t10\t2\t100\n"   # (1, 10) twice: later row is older


def test_duplicates_sum(tmp_path):
    x = Interactions.from_csv(write(tmp_path, "d.tsv", DUPS))
    assert x.nnz == 2 and x.values.tolist() == [3.0, 4.0]
    assert x.timestamps.tolist() == [200, 50]            # the pair keeps its latest timestamp
    y = Interactions.from_arrays([1, 1, 1], ["a", "a", "b"], [1.0, 1.0, 1.0])
    assert y.values.tolist() == [2.0, 1.0]


def test_duplicates_last(tmp_path):
    x = Interactions.from_csv(write(tmp_path, "d.tsv", DUPS), duplicates="last")
    assert x.values.tolist() == [1.0, 4.0]               # by timestamp: 200 beats 100
    y = Interactions.from_csv(write(tmp_path, "d3.tsv", "1\t10\t1\n1\t10\t2\n"), duplicates="last")
    assert y.values.tolist() == [2.0]                    # no timestamps: file order
    z = Interactions.from_arrays([1, 1, 1], [5, 5, 5], [1.0, 2.0, 3.0], timestamps=[7, 9, 9],
                                 duplicates="last")
    assert z.values.tolist() == [3.0]                    # timestamp tie: the later row


def test_duplicates_error(tmp_path):
    with pytest.raises(InvalidInputError, match=r"user 1, item 10\) on lines 1 and 3"):
        Interactions.from_csv(write(tmp_path, "d.tsv", DUPS), duplicates="error")
    with pytest.raises(InvalidInputError, match="user 'u', item 'i'"):
        Interactions.from_arrays(["u", "u"], ["i", "i"], duplicates="error")
    with pytest.raises(InvalidInputError, match="duplicates must be"):
        Interactions.from_arrays(["u"], ["i"], duplicates="max")


# --------------------------------------------------------------------------- bad input

def test_empty_file(tmp_path):
    p = write(tmp_path, "empty.tsv", "")
    with pytest.raises(InvalidInputError, match="empty.tsv"):
        Interactions.from_csv(p)
    with pytest.raises(InvalidInputError, match="blank.tsv"):
        Interactions.from_csv(write(tmp_path, "blank.tsv", "\n\n  \n"))
    with pytest.raises(InvalidInputError, match="only a header"):
        Interactions.from_csv(write(tmp_path, "hdr.csv", "user,item,rating\n"))
    with pytest.raises(InvalidInputError, match="no such file"):
        Interactions.from_csv(tmp_path / "missing.tsv")


def test_non_numeric_rating_names_line(tmp_path):
    p = write(tmp_path, "bad.tsv", "1\t2\t3\t100\n1\t3\t4\t100\n\n2\t2\tfive\t100\n")
    with pytest.raises(FormatError) as e:
        Interactions.from_csv(p)
    assert e.value.line == 4 and "bad.tsv" in str(e.value) and "'five'" in str(e.value)


def test_non_numeric_timestamp(tmp_path):
    with pytest.raises(FormatError) as e:
        Interactions.from_csv(write(tmp_path, "t.tsv", "1\t2\t3\t100\n1\t3\t4\tyesterday\n"))
    assert e.value.line == 2 and "timestamp" in str(e.value)


def test_nan_and_inf_name_line(tmp_path):
    with pytest.raises(FormatError) as e:
        Interactions.from_csv(write(tmp_path, "n.csv", "user,item,rating\n1,2,3\n1,3,nan\n"))
    assert e.value.line == 3 and "finite" in str(e.value)
    with pytest.raises(FormatError) as e:
        Interactions.from_csv(write(tmp_path, "i.tsv", "1\t2\tinf\n"))
    assert e.value.line == 1


def test_wrong_column_count(tmp_path):
    with pytest.raises(FormatError) as e:
        Interactions.from_csv(write(tmp_path, "w.tsv", "1\t2\t3\t100\n1\t3\t4\n"))
    assert e.value.line == 2 and "expected 4 fields" in str(e.value)
    with pytest.raises(FormatError) as e:
        Interactions.from_csv(write(tmp_path, "w.csv", "user,item,rating\n1,2,3\n1,3,4,5\n"))
    assert e.value.line == 3


def test_bad_columns_argument(tmp_path):
    p = write(tmp_path, "u.data", UDATA)
    with pytest.raises(InvalidInputError, match="unknown column role"):
        Interactions.from_csv(p, columns={"rating": 2})
    with pytest.raises(InvalidInputError, match="out of range"):
        Interactions.from_csv(p, columns={"value": 7})


# --------------------------------------------------------------------------- splits

@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(5)
    users, items = [], []
    for u in range(40):
        n = int(rng.integers(1, 16))                     # users with 1 … 15 interactions
        items.extend(rng.choice(30, size=n, replace=False).tolist())
        users.extend([f"u{u}"] * n)
    ts = rng.permutation(len(users)) * 10 + 1000       # distinct timestamps
    return Interactions.from_arrays(users, items, rng.integers(1, 6, len(users)).astype(float), ts)


def check_partition(full, train, test):
    assert train.users is full.users and test.users is full.users
    assert train.items is full.items and test.items is full.items
    assert train.user_index is full.user_index
    assert train.nnz + test.nnz == full.nnz
    assert not (pairs(train) & pairs(test))
    assert pairs(train) | pairs(test) == pairs(full)
    assert (train.csr + test.csr - full.csr).count_nonzero() == 0


def round_half_up(x):
    return int(np.floor(x + 0.5))


def test_split_random(synthetic):
    train, test = synthetic.split_random(fraction=0.25, seed=3)
    check_partition(synthetic, train, test)
    assert test.nnz == round_half_up(0.25 * synthetic.nnz)
    again = synthetic.split_random(fraction=0.25, seed=3)[1]
    assert pairs(again) == pairs(test)
    assert pairs(synthetic.split_random(fraction=0.25, seed=4)[1]) != pairs(test)


def test_split_per_user(synthetic):
    train, test = synthetic.split_per_user(fraction=0.3, seed=1)
    check_partition(synthetic, train, test)
    n, n_tr, n_te = synthetic.user_counts(), train.user_counts(), test.user_counts()
    for u in range(synthetic.n_users):
        if n[u] >= 2:
            assert n_te[u] == min(max(1, round_half_up(0.3 * n[u])), n[u] - 1)
            assert n_tr[u] >= 1
        else:
            assert n_te[u] == 0
    assert pairs(synthetic.split_per_user(fraction=0.3, seed=1)[1]) == pairs(test)
    assert pairs(synthetic.split_per_user(fraction=0.3, seed=2)[1]) != pairs(test)
    _, t5 = synthetic.split_per_user(fraction=0.3, seed=1, min_interactions=5)
    assert (t5.user_counts()[n < 5] == 0).all() and (t5.user_counts()[n >= 5] >= 1).all()


def test_split_leave_k_out(synthetic):
    train, test = synthetic.split_leave_k_out(k=2, seed=0)
    check_partition(synthetic, train, test)
    n = synthetic.user_counts()
    assert (test.user_counts() == np.where(n >= 3, 2, 0)).all()
    assert pairs(synthetic.split_leave_k_out(k=2, seed=0)[1]) == pairs(test)


def test_split_temporal_takes_latest(synthetic):
    train, test = synthetic.split_temporal(k=2)
    check_partition(synthetic, train, test)
    n = synthetic.user_counts()
    assert (test.user_counts() == np.where(n >= 2, np.minimum(2, n - 1), 0)).all()
    for u in np.flatnonzero(test.user_counts()):
        te = test.timestamps[test.user_ids == u]
        tr = train.timestamps[train.user_ids == u]
        assert te.min() > tr.max()
    tr2, te2 = synthetic.split_temporal(fraction=0.5)
    assert (te2.user_counts()[n >= 2] == np.clip(np.floor(0.5 * n[n >= 2] + 0.5), 1, n[n >= 2] - 1)).all()
    with pytest.raises(InvalidInputError, match="timestamps"):
        Interactions.from_arrays([1, 1], [1, 2]).split_temporal()
    with pytest.raises(InvalidInputError, match="not both"):
        synthetic.split_temporal(fraction=0.2, k=1)


def test_split_dispatcher(synthetic):
    for method, kw, direct in [("random", {"seed": 2}, synthetic.split_random),
                               ("user", {"seed": 2}, synthetic.split_per_user),
                               ("leave_k_out", {"k": 1, "seed": 2}, synthetic.split_leave_k_out),
                               ("temporal", {"k": 1}, synthetic.split_temporal)]:
        assert pairs(synthetic.split(method, **kw)[1]) == pairs(direct(**kw)[1])
    with pytest.raises(InvalidInputError, match="unknown split"):
        synthetic.split("bogus")
    with pytest.raises(InvalidInputError, match="fraction"):
        synthetic.split_random(fraction=1.5)


def test_filter_and_binarize(synthetic):
    pos = synthetic.filter(min_value=4)
    assert pos.users is synthetic.users and (pos.values >= 4).all()
    assert pos.nnz == int((synthetic.values >= 4).sum())
    b = pos.binarize()
    assert (b.values == 1.0).all() and b.nnz == pos.nnz and pairs(b) == pairs(pos)


# --------------------------------------------------------------------------- save / load

def test_save_load_roundtrip(tmp_path, synthetic):
    out = synthetic.save(tmp_path / "inter")
    meta = json.loads((out / "interactions.json").read_text())
    assert meta["format"] == "embedworks-interactions" and meta["version"] == 1
    y = Interactions.load(out)
    assert y.users == synthetic.users and y.items == synthetic.items
    for a in ("user_ids", "item_ids", "values", "timestamps"):
        assert (getattr(y, a) == getattr(synthetic, a)).all()
    # overwrite in place; a directory that is not ours is refused
    x = Interactions.from_arrays([1, 2], ["a", "b"])
    x.save(out)
    z = Interactions.load(out)
    assert z.users == [1, 2] and z.timestamps is None
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(InvalidInputError):
        x.save(tmp_path / "other")
    assert (tmp_path / "other" / "keep.txt").read_text() == "x"


def test_load_rejects_bad_version(tmp_path):
    out = Interactions.from_arrays([1], [1]).save(tmp_path / "i")
    meta = json.loads((out / "interactions.json").read_text())
    meta["version"] = 99
    (out / "interactions.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="version"):
        Interactions.load(out)
    with pytest.raises(FormatError):
        Interactions.load(tmp_path / "nothing")


# --------------------------------------------------------------------------- real data

@pytest.mark.slow
@pytest.mark.skipif(not (ML100K / "u.data").exists(), reason=f"no ml-100k under {DATA_DIR}")
def test_movielens_100k():
    x = Interactions.from_csv(ML100K / "u.data")
    assert (x.nnz, x.n_users, x.n_items) == (100_000, 943, 1682)
    assert x.users[0] == 1 and x.users[-1] == 943 and x.items[-1] == 1682
    assert set(np.unique(x.values).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert x.user_counts().min() >= 20
    train = Interactions.from_csv(ML100K / "u1.base.gz")
    test = Interactions.from_csv(ML100K / "u1.test.gz", user_ids=train.users,
                                 item_ids=train.items, extend=True)
    assert (train.nnz, test.nnz) == (80_000, 20_000)
    assert test.users[:train.n_users] == train.users and test.items[:train.n_items] == train.items
    assert test.n_items >= train.n_items and test.n_users == 943
    assert not (pairs(train) & pairs(test))
    tr, te = x.filter(min_value=4).split_per_user(fraction=0.2, seed=0)
    assert tr.nnz + te.nnz == int((x.values >= 4).sum())
