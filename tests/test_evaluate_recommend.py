"""Recommendation metrics against hand-computed values and an implicit-style reference loop."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from embedworks.data import Interactions
from embedworks.errors import InvalidInputError, UnknownKeyError
from embedworks.evaluate import RankingResult, ranking_metrics, rating_metrics

USERS = ["u1", "u2", "u3"]
ITEMS = ["i0", "i1", "i2", "i3", "i4"]

DATA_DIR = Path(os.environ.get("EMBEDWORKS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
ML100K = DATA_DIR / "ml-100k"


@pytest.fixture
def example():
    """3 users × 5 items.

    train: u1 {i0}        u2 {i1, i2}     u3 {}
    test:  u1 {i1, i3}    u2 {i0}         u3 {i4}
    """
    train = Interactions.from_arrays(["u1", "u2", "u2"], ["i0", "i1", "i2"], user_ids=USERS, item_ids=ITEMS)
    test = Interactions.from_arrays(["u1", "u1", "u2", "u3"], ["i1", "i3", "i0", "i4"],
                                    [4.0, 3.0, 5.0, 2.0], user_ids=USERS, item_ids=ITEMS)
    return train, test


# Each user's full ranking (item indices). It does NOT filter training items: the metrics must.
RANKING = {
    0: [0, 1, 2, 3, 4],   # u1: i0 is a training item -> top 2 = [i1, i2]
    1: [3, 1, 0, 2, 4],   # u2: i1, i2 are training items -> top 2 = [i3, i0]
    2: [1, 2, 3, 0, 4],   # u3: no training items -> top 2 = [i1, i2]
}


def ranked(users, n):
    return np.array([RANKING[int(u)][:n] for u in users], dtype=np.int64)


def test_ranking_metrics_by_hand(example):
    train, test = example
    r = ranking_metrics(ranked, train, test, k=2)
    # top-2 lists after removing training items, and their relevance:
    #   u1: [i1, i2] -> [1, 0]   hits 1, |relevant| 2
    #   u2: [i3, i0] -> [0, 1]   hits 1, |relevant| 1
    #   u3: [i1, i2] -> [0, 0]   hits 0, |relevant| 1
    assert r.n_users == 3 and r.k == 2
    # precision = hits / k: (1/2 + 1/2 + 0) / 3 = 1/3
    assert r.precision == pytest.approx(1 / 3)
    # recall = hits / |relevant|: (1/2 + 1/1 + 0) / 3 = 1/2
    assert r.recall == pytest.approx(1 / 2)
    # NDCG, discounts 1/log2(2) = 1, 1/log2(3) = 0.6309:
    #   u1: DCG 1, IDCG (min(2, 2) = 2 relevant at the top) 1 + 0.6309 -> 0.6131
    #   u2: DCG 0.6309, IDCG 1 -> 0.6309;   u3: 0
    d2 = 1 / math.log2(3)
    assert r.ndcg == pytest.approx((1 / (1 + d2) + d2 + 0) / 3)
    assert r.ndcg == pytest.approx(0.414692, abs=1e-6)
    # AP: u1: precision@1 = 1 at its hit, / min(2, 2) -> 0.5; u2: precision@2 = 1/2, / 1 -> 0.5; u3 0
    assert r.map == pytest.approx(1 / 3)
    # hit rate: u1 and u2 have a hit -> 2/3
    assert r.hit_rate == pytest.approx(2 / 3)
    # coverage: recommended {i1, i2, i3, i0} = 4 of 5 items
    assert r.coverage == pytest.approx(0.8)
    # implicit's "precision": total hits / total min(k, |relevant|) = 2 / (2 + 1 + 1)
    assert r.precision_capped == pytest.approx(0.5)
    # implicit's limited AUC (5 items, negatives = 5 - |relevant|):
    #   u1: miss at rank 2 scores 1 hit above; + (1 + 2)/2 * (3 - 1) = 3 -> 4 / (2*3) = 2/3
    #   u2: miss at rank 1 scores 0;           + (1 + 1)/2 * (4 - 1) = 3 -> 3 / (1*4) = 3/4
    #   u3: two misses score 0;                + (0 + 1)/2 * (4 - 2) = 1 -> 1 / 4
    assert r.auc == pytest.approx((2 / 3 + 3 / 4 + 1 / 4) / 3)
    assert r.per_user["users"].tolist() == [0, 1, 2]
    assert r.per_user["precision"].tolist() == pytest.approx([0.5, 0.5, 0.0])
    d = r.to_dict()
    assert d["precision"] == r.precision and "per_user" not in d and d["n_users"] == 3
    assert "precision@2 0.3333" in str(r) and "(3 users)" in str(r)


def test_ranking_metrics_k3_by_hand(example):
    train, test = example
    r = ranking_metrics(ranked, train, test, k=3)
    #   u1: [i1, i2, i3] -> [1, 0, 1]  hits 2, R 2
    #   u2: [i3, i0, i4] -> [0, 1, 0]  hits 1, R 1
    #   u3: [i1, i2, i3] -> [0, 0, 0]  hits 0, R 1
    assert r.precision == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert r.recall == pytest.approx((1 + 1 + 0) / 3)
    d2, d3 = 1 / math.log2(3), 0.5
    # u1: DCG 1 + 1/2, IDCG 1 + 0.6309; u2: DCG 0.6309, IDCG 1
    assert r.ndcg == pytest.approx(((1 + d3) / (1 + d2) + d2) / 3)
    # u1: (1/1 + 2/3) / min(3, 2) = 5/6; u2: (1/2) / 1; u3: 0
    assert r.map == pytest.approx((5 / 6 + 1 / 2) / 3)
    assert r.coverage == pytest.approx(1.0)


def test_training_items_are_excluded(example):
    train, test = example
    calls = []

    def rec(users, n):
        calls.append((np.asarray(users).tolist(), n))
        return ranked(users, n)

    r = ranking_metrics(rec, train, test, k=2)
    # u1 and u2 had training items in their first top-2: asked again for k + |train| items
    assert calls[0] == ([0, 1, 2], 2)
    assert calls[1] == ([0, 1], 4)
    recommended = {0: {1, 2}, 1: {3, 0}, 2: {1, 2}}
    assert r.coverage == pytest.approx(len(set().union(*recommended.values())) / 5)
    # a recommender that returns nothing but training items gets no credit for them
    only_train = ranking_metrics(lambda u, n: np.tile([0, 1, 2], (len(u), 1))[:, :n], train, test, k=2)
    # u1: after removing i0 -> [i1, i2] -> hit i1; u2: [i0] only (i1, i2 removed) -> hit; u3 [i0, i1]
    assert only_train.per_user["hit"].tolist() == [1.0, 1.0, 0.0]


class FilteringModel:
    """Mimics a model's recommend_indices: scores are fixed, training items filtered."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)
        self.calls = []

    def recommend_indices(self, user_indices, n, filter_seen, train_csr):
        self.calls.append((np.asarray(user_indices).tolist(), n, filter_seen, train_csr.shape))
        s = self.scores[user_indices].copy()
        if filter_seen:
            s[train_csr[user_indices].toarray() > 0] = -np.inf
        items = np.argsort(-s, axis=1, kind="stable")[:, :n]
        top = np.take_along_axis(s, items, axis=1)
        items[~np.isfinite(top)] = -1
        return items.astype(np.int64), top


def test_model_protocol(example):
    train, test = example
    scores = np.zeros((3, 5))
    for u, order in RANKING.items():
        scores[u, order] = np.arange(5, 0, -1)
    model = FilteringModel(scores)
    r = ranking_metrics(model, train, test, k=2)
    assert model.calls == [([0, 1, 2], 2, True, (3, 5))]       # filtered: no second call
    assert r.to_dict() == ranking_metrics(ranked, train, test, k=2).to_dict()
    # n larger than what is left after filtering: -1 pads, still well defined
    big = ranking_metrics(model, train, test, k=5)
    assert big.recall == pytest.approx(1.0) and big.coverage == pytest.approx(1.0)
    assert big.precision == pytest.approx((2 / 5 + 1 / 5 + 1 / 5) / 3)


def test_users_argument_and_errors(example):
    train, test = example
    r = ranking_metrics(ranked, train, test, k=2, users=["u2"])
    assert r.n_users == 1 and r.precision == pytest.approx(0.5) and r.recall == pytest.approx(1.0)
    with pytest.raises(UnknownKeyError):
        ranking_metrics(ranked, train, test, users=["nobody"])
    with pytest.raises(InvalidInputError, match="k must"):
        ranking_metrics(ranked, train, test, k=0)
    other = Interactions.from_arrays(["u1"], ["i1"])                 # a different mapping
    with pytest.raises(InvalidInputError, match="different indices"):
        ranking_metrics(ranked, train, other)
    with pytest.raises(InvalidInputError, match="shape"):
        ranking_metrics(lambda u, n: np.zeros((len(u), n + 1), dtype=int), train, test, k=2)
    with pytest.raises(InvalidInputError, match="outside"):
        ranking_metrics(lambda u, n: np.full((len(u), n), 9), train, test, k=2)
    with pytest.raises(InvalidInputError):
        ranking_metrics(object(), train, test)


def test_users_without_test_items_are_skipped():
    train = Interactions.from_arrays(["a", "b"], [0, 1], user_ids=["a", "b", "c"], item_ids=[0, 1, 2])
    test = Interactions.from_arrays(["a"], [2], user_ids=train.users, item_ids=train.items)
    r = ranking_metrics(lambda u, n: np.tile([2, 0, 1], (len(u), 1))[:, :n], train, test, k=1)
    assert r.n_users == 1 and r.precision == 1.0 and r.per_user["users"].tolist() == [0]


def test_rating_metrics_by_hand(example):
    _, test = example
    # test values in COO order: (u1,i1)=4, (u1,i3)=3, (u2,i0)=5, (u3,i4)=2
    preds = [3.5, 3.0, 3.0, 2.5]
    # errors -0.5, 0, -2, 0.5 -> MSE (0.25 + 0 + 4 + 0.25)/4 = 1.125, RMSE 1.06066; MAE 3/4
    m = rating_metrics(preds, test)
    assert m["rmse"] == pytest.approx(math.sqrt(1.125)) and m["mae"] == pytest.approx(0.75)
    assert m["n"] == 4

    class RawModel:
        def predict(self, users, items):
            table = {("u1", "i1"): 3.5, ("u1", "i3"): 3.0, ("u2", "i0"): 3.0, ("u3", "i4"): 2.5}
            return [table[(u, i)] for u, i in zip(users.tolist(), items.tolist())]

    class IndexModel:
        def predict_indices(self, u, i):
            return np.array(preds)[np.argsort(np.argsort(u * 5 + i))]

    assert rating_metrics(RawModel(), test) == m
    assert rating_metrics(IndexModel(), test) == m
    with pytest.raises(InvalidInputError, match="3 predictions"):
        rating_metrics(preds[:3], test)
    with pytest.raises(InvalidInputError, match="not finite"):
        rating_metrics([1.0, np.nan, 1.0, 1.0], test)


def implicit_reference(top_lists, test_sets, k, n_items):
    """A per-user loop following implicit's ranking_metrics_at_k (precision, map, ndcg, auc)."""
    cg = 1.0 / np.log2(np.arange(2, k + 2))
    relevant = pr_div = mean_ap = ndcg = mean_auc = total = 0.0
    for ids, likes in zip(top_lists, test_sets):
        pr_div += min(k, len(likes))
        ap = hit = miss = auc = 0.0
        idcg = cg[:min(k, len(likes))].sum()
        n_pos, n_neg = len(likes), n_items - len(likes)
        for i in range(k):
            if ids[i] in likes:
                relevant += 1
                hit += 1
                ap += hit / (i + 1)
                ndcg += cg[i] / idcg
            else:
                miss += 1
                auc += hit
        auc += ((hit + n_pos) / 2.0) * (n_neg - miss)
        mean_ap += ap / min(k, len(likes))
        mean_auc += auc / (n_pos * n_neg)
        total += 1
    return {"precision": relevant / pr_div, "map": mean_ap / total, "ndcg": ndcg / total,
            "auc": mean_auc / total}


def test_matches_implicit_definitions_on_random_data():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 60, 40, 7
    full = Interactions.from_arrays(rng.integers(0, n_users, 900), rng.integers(0, n_items, 900),
                                    user_ids=range(n_users), item_ids=range(n_items))
    train, test = full.split_per_user(fraction=0.3, seed=1)
    scores = rng.random((n_users, n_items))
    train_dense = train.csr.toarray() > 0

    def rec(users, n):
        s = scores[users].copy()
        s[train_dense[users]] = -1.0
        return np.argsort(-s, axis=1)[:, :n]

    r = ranking_metrics(rec, train, test, k=k, batch_size=7)
    users = np.flatnonzero(test.user_counts())
    tops = [rec(np.array([u]), k)[0].tolist() for u in users]
    sets = [set(test.csr[u].indices.tolist()) for u in users]
    ref = implicit_reference(tops, sets, k, n_items)
    assert r.precision_capped == pytest.approx(ref["precision"])
    assert r.map == pytest.approx(ref["map"])
    assert r.ndcg == pytest.approx(ref["ndcg"])
    assert r.auc == pytest.approx(ref["auc"])
    assert r.precision == pytest.approx(np.mean([len(set(t) & s) / k for t, s in zip(tops, sets)]))
    assert r.recall == pytest.approx(np.mean([len(set(t) & s) / len(s) for t, s in zip(tops, sets)]))
    assert r.to_dict() == ranking_metrics(rec, train, test, k=k).to_dict()   # batching changes nothing


def test_result_type():
    assert {"precision", "recall", "ndcg", "map", "hit_rate", "coverage"} <= set(RankingResult.__dataclass_fields__)


@pytest.mark.slow
@pytest.mark.skipif(not (ML100K / "u1.base.gz").exists(), reason=f"no ml-100k under {DATA_DIR}")
def test_movielens_u1_popularity_baseline():
    train = Interactions.from_csv(ML100K / "u1.base.gz")
    test = Interactions.from_csv(ML100K / "u1.test.gz", user_ids=train.users, item_ids=train.items,
                                 extend=True)
    m = rating_metrics(np.full(test.nnz, float(train.values.mean())), test)
    assert 1.1 < m["rmse"] < 1.2 and m["n"] == 20_000          # global-mean baseline is ~1.15
    pop = np.argsort(-train.item_counts(), kind="stable")
    r = ranking_metrics(lambda u, n: np.tile(pop[:n], (len(u), 1)), train, test.filter(min_value=4), k=10)
    assert r.n_users > 400 and 0.05 < r.precision < 0.5 and 0 < r.coverage < 0.1


def test_rating_metrics_scores_unseen_items_with_the_model_baseline():
    from embedworks.learn import MatrixFactorization

    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 20, 400), [f"i{k}" for k in rng.integers(0, 15, 400)]
    train = Interactions.from_arrays(users, items, rng.integers(1, 6, 400).astype(float), duplicates="last")
    test = Interactions.from_arrays([0, 1], ["i3", "new-item"], [4.0, 2.0], user_ids=train.users,
                                    item_ids=train.items, extend=True)
    model = MatrixFactorization(factors=4, epochs=3, seed=0).fit(train)
    result = rating_metrics(model, test)
    expected = np.array([model.predict(0, "i3"), model.predict(1, "new-item", unknown="baseline")])
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean((expected - [4.0, 2.0]) ** 2)))
    with pytest.raises(UnknownKeyError, match="new-item"):
        rating_metrics(model, test, unknown="error")
