"""Recommendation models: kernels against NumPy references, planted structure, one contract for all."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from embedworks.data import Interactions
from embedworks.errors import FormatError, InvalidInputError, UnknownKeyError
from embedworks.learn import ALS, BPR, MatrixFactorization
from embedworks.learn.recommend import Recommender, _als, _bpr, _mf
from embedworks.space import Embeddings

F32 = np.float32


# --------------------------------------------------------------------------- NumPy references
def ref_sgd_epoch(users, items, ratings, P, Q, bu, bi, mu, lr, reg, lr_b, reg_b):
    P, Q, bu, bi = (a.astype(np.float64) for a in (P, Q, bu, bi))
    for u, i, r in zip(users, items, ratings):
        err = r - (mu + bu[u] + bi[i] + P[u] @ Q[i])
        bu[u] += lr_b * (err - reg_b * bu[u])
        bi[i] += lr_b * (err - reg_b * bi[i])
        pu = P[u].copy()
        P[u] += lr * (err * Q[i] - reg * P[u])
        Q[i] += lr * (err * pu - reg * Q[i])
    return P, Q, bu, bi


def ref_sgdpp_epoch(csr, user_order, position_order, P, Q, Y, bu, bi, mu, lr, reg):
    P, Q, Y, bu, bi = (a.astype(np.float64) for a in (P, Q, Y, bu, bi))
    for u in user_order:
        s, e = csr.indptr[u], csr.indptr[u + 1]
        n = e - s
        if n == 0:
            continue
        nu = csr.indices[s:e]
        z = Y[nu].sum(axis=0) / np.sqrt(n)
        acc = np.zeros(P.shape[1])
        for pos in position_order[s:e]:
            i, r = csr.indices[pos], csr.data[pos]
            err = r - (mu + bu[u] + bi[i] + Q[i] @ (P[u] + z))
            bu[u] += lr * (err - reg * bu[u])
            bi[i] += lr * (err - reg * bi[i])
            pu, qi = P[u].copy(), Q[i].copy()
            P[u] += lr * (err * qi - reg * pu)
            Q[i] += lr * (err * (pu + z) - reg * qi)
            acc += err * qi
        Y[nu] = (1 - lr * reg) ** n * Y[nu] + lr * acc / np.sqrt(n)
    return P, Q, Y, bu, bi


def ref_als_solve(R, Y, reg, alpha):
    """Dense normal equations of Hu et al. for every row of R (users × items, values r)."""
    out = np.zeros((R.shape[0], Y.shape[1]))
    Y = Y.astype(np.float64)
    for u in range(R.shape[0]):
        r = R[u]
        c = 1 + alpha * np.abs(r)
        p = (r > 0).astype(float)
        A = Y.T @ (c[:, None] * Y) + reg * np.eye(Y.shape[1])
        out[u] = np.linalg.solve(A, Y.T @ (c * p))
    return out


def ref_bpr_step(X, Y, u, i, j, lr, reg):
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    k = X.shape[1] - 1
    z = 1 / (1 + np.exp(X[u] @ (Y[i] - Y[j])))
    xu, yi, yj = X[u, :k].copy(), Y[i, :k].copy(), Y[j, :k].copy()
    X[u, :k] += lr * (z * (yi - yj) - reg * xu)
    Y[i, :k] += lr * (z * xu - reg * yi)
    Y[j, :k] += lr * (-z * xu - reg * yj)
    Y[i, k] += lr * (z - reg * Y[i, k])
    Y[j, k] += lr * (-z - reg * Y[j, k])
    return X, Y


def tiny_ratings(seed=0, n_users=7, n_items=6, density=0.6):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(mask)
    r = rng.integers(1, 6, len(u)).astype(F32)
    return sp.csr_matrix((r, (u, i)), shape=(n_users, n_items))


# --------------------------------------------------------------------------- kernels
def test_mf_sgd_epoch_matches_reference():
    csr = tiny_ratings()
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr)).astype(np.int32)
    order = rng.permutation(csr.nnz)
    users, items, ratings = users[order], csr.indices[order].astype(np.int32), csr.data[order].astype(F32)
    P = rng.normal(0, 0.3, (csr.shape[0], 4)).astype(F32)
    Q = rng.normal(0, 0.3, (csr.shape[1], 4)).astype(F32)
    bu, bi = rng.normal(0, 0.1, csr.shape[0]).astype(F32), rng.normal(0, 0.1, csr.shape[1]).astype(F32)
    mu, lr, reg, lr_b, reg_b = 3.0, 0.05, 0.1, 0.03, 0.02
    expected = ref_sgd_epoch(users, items, ratings, P, Q, bu, bi, mu, lr, reg, lr_b, reg_b)
    _mf.sgd_epoch(users, items, ratings, 0, len(ratings), P, Q, bu, bi, F32(mu), F32(lr), F32(reg),
                  F32(lr_b), F32(reg_b), True)
    for got, want in zip((P, Q, bu, bi), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_svdpp_epoch_matches_reference():
    csr = tiny_ratings(seed=3)
    rng = np.random.default_rng(2)
    nu, ni, k = csr.shape[0], csr.shape[1], 3
    P, Q, Y = (rng.normal(0, 0.3, (n, k)).astype(F32) for n in (nu, ni, ni))
    bu, bi = np.zeros(nu, F32), np.zeros(ni, F32)
    user_of = np.repeat(np.arange(nu), np.diff(csr.indptr))
    position_order = np.lexsort((rng.random(csr.nnz), user_of)).astype(np.int64)
    user_order = rng.permutation(nu).astype(np.int64)
    expected = ref_sgdpp_epoch(csr, user_order, position_order, P, Q, Y, bu, bi, 3.0, 0.05, 0.1)
    _mf.sgdpp_epoch(csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data.astype(F32),
                    user_order, position_order, P, Q, Y, bu, bi, F32(3.0), F32(0.05), F32(0.1),
                    F32(0.05), F32(0.1), True)
    for got, want in zip((P, Q, Y, bu, bi), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_mf_fold_in_is_the_ridge_solution():
    rng = np.random.default_rng(4)
    Q = rng.normal(0, 0.5, (9, 3)).astype(F32)
    bi = rng.normal(0, 0.2, 9).astype(F32)
    items = np.array([0, 2, 3, 7], dtype=np.int32)
    r = np.array([4, 2, 5, 3], dtype=F32)
    mu, reg, reg_b, extra = 3.2, 0.1, 0.05, 0.7
    bu, p = _mf.fold_in(items, r, Q, bi, np.zeros(3, F32), mu, reg, reg_b, True, extra)
    Xd = np.hstack([Q[items].astype(float), np.ones((4, 1))])
    lam = np.diag([reg * 4 + extra] * 3 + [reg_b * 4 + extra])
    w = np.linalg.solve(Xd.T @ Xd + lam, Xd.T @ (r - mu - bi[items]))
    np.testing.assert_allclose(p, w[:3], rtol=1e-6, atol=1e-8)
    assert bu == pytest.approx(w[3], rel=1e-6)


@pytest.mark.parametrize("negative", [False, True])
def test_als_half_step_cg_cholesky_and_numpy_agree(negative):
    rng = np.random.default_rng(5)
    R = tiny_ratings(seed=5).toarray()
    if negative:
        R[0, np.flatnonzero(R[0])[0]] *= -1  # a "disliked" entry
    alpha, reg, k = 2.0, 0.3, 4
    Y = rng.normal(0, 0.5, (R.shape[1], k)).astype(F32)
    want = ref_als_solve(R, Y, reg, alpha)
    C = sp.csr_matrix(R * alpha, dtype=F32)
    indptr, indices, data = C.indptr.astype(np.int64), C.indices.astype(np.int32), C.data.astype(F32)
    YtY = Y.astype(np.float64).T @ Y.astype(np.float64) + reg * np.eye(k)
    X_chol = np.zeros((R.shape[0], k), F32)
    _als.solve_cholesky(indptr, indices, data, X_chol, Y, YtY, 0, R.shape[0])
    np.testing.assert_allclose(X_chol, want, rtol=1e-4, atol=1e-5)
    X_cg = rng.normal(0, 0.1, (R.shape[0], k)).astype(F32)  # CG is warm-started from any value
    _als.solve_cg(indptr, indices, data, X_cg, Y, YtY, 0, R.shape[0], 3 * k)
    np.testing.assert_allclose(X_cg, want, rtol=1e-3, atol=1e-4)
    # few steps and a range of rows: rows outside are untouched
    X_part = np.full((R.shape[0], k), 0.5, F32)
    _als.solve_cg(indptr, indices, data, X_part, Y, YtY, 2, 4, 1)
    assert (X_part[:2] == 0.5).all() and (X_part[4:] == 0.5).all() and not (X_part[2:4] == 0.5).all()


def test_als_loss_matches_dense_objective():
    rng = np.random.default_rng(6)
    R = tiny_ratings(seed=6).toarray()
    alpha, reg = 1.5, 0.2
    X = rng.normal(0, 0.5, (R.shape[0], 3)).astype(F32)
    Y = rng.normal(0, 0.5, (R.shape[1], 3)).astype(F32)
    C = 1 + alpha * np.abs(R)
    P = (R > 0).astype(float)
    pred = X.astype(float) @ Y.astype(float).T
    want = (C * (P - pred) ** 2).sum() + reg * ((X.astype(float) ** 2).sum() + (Y.astype(float) ** 2).sum())
    S = sp.csr_matrix(R * alpha, dtype=F32)
    got = _als.loss(S.indptr.astype(np.int64), S.indices.astype(np.int32), S.data.astype(F32), X, Y,
                    Y.astype(np.float64).T @ Y.astype(np.float64), reg)
    assert got == pytest.approx(want, rel=1e-5)


def test_bpr_step_matches_reference():
    rng = np.random.default_rng(7)
    X = rng.normal(0, 0.3, (4, 6)).astype(F32)
    X[:, -1] = 1
    Y = rng.normal(0, 0.3, (5, 6)).astype(F32)
    want_X, want_Y = ref_bpr_step(X, Y, 2, 1, 4, 0.05, 0.01)
    _bpr.step(X, Y, 2, 1, 4, F32(0.05), F32(0.01))
    np.testing.assert_allclose(X, want_X, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Y, want_Y, rtol=1e-5, atol=1e-6)
    assert X[2, -1] == 1.0


def test_bpr_sampler_helpers():
    state = np.uint64(12345)
    draws = []
    for _ in range(2000):
        state, v = _bpr.below(np.uint64(state), 7)  # numba hands a uint64 back as a Python int
        draws.append(v)
    counts = np.bincount(draws, minlength=7)
    assert len(counts) == 7 and counts.min() > 200
    row = np.array([1, 4, 9, 12], dtype=np.int32)
    assert all(_bpr.contains(row, 0, 4, v) for v in row)
    assert not any(_bpr.contains(row, 0, 4, v) for v in (0, 2, 10, 13))
    assert not _bpr.contains(row, 1, 3, 1) and not _bpr.contains(row, 1, 3, 12)


def test_bpr_epoch_never_uses_a_liked_item_as_negative():
    # one user likes items 0..3 of 5: every negative must be item 4, whose bias only goes down
    csr = sp.csr_matrix(np.array([[1, 1, 1, 1, 0]], dtype=F32))
    X = np.zeros((1, 3), F32)
    X[:, -1] = 1
    Y = np.zeros((5, 3), F32)
    correct, skipped, _ = _bpr.epoch(csr.indptr.astype(np.int64), csr.indices.astype(np.int32),
                                     np.zeros(4, np.int32), X, Y, F32(0.1), F32(0.0), 50, 32, np.uint64(99))
    assert skipped == 0
    assert Y[4, -1] < 0 and (Y[:4, -1] > 0).all()


# --------------------------------------------------------------------------- planted structure
def test_mf_recovers_planted_low_rank_ratings():
    rng = np.random.default_rng(0)
    nu, ni, rank, noise = 300, 200, 3, 0.1
    U, V = rng.normal(0, 1, (nu, rank)), rng.normal(0, 1, (ni, rank))
    full = 3 + 0.3 * rng.normal(size=(nu, 1)) + 0.3 * rng.normal(size=(1, ni)) + 0.5 * U @ V.T / np.sqrt(rank)
    uu, ii = np.nonzero(rng.random((nu, ni)) < 0.3)
    data = Interactions.from_arrays(uu, ii, (full[uu, ii] + noise * rng.normal(size=len(uu))).astype(F32))
    train, test = data.split_random(0.2, seed=1)
    model = MatrixFactorization(factors=5, epochs=60, learning_rate=0.03, lr_decay=0.95,
                                regularization=0.02, init_std=0.1).fit(train)
    pred = model.predict_indices(test.user_ids, test.item_ids, clip=False)
    rmse = np.sqrt(np.mean((pred - test.values) ** 2))
    assert rmse < 1.5 * noise, rmse
    # raw-id predict agrees with the index form (ids here are the ints themselves)
    u0, i0 = test.users[test.user_ids[0]], test.items[test.item_ids[0]]
    assert model.predict(u0, i0, clip=False) == pytest.approx(pred[0], rel=1e-6)


def checkerboard(ratings: bool = False, seed: int = 0):
    """Two user groups × two item groups: users interact with half of their own group's items.

    With ``ratings`` the own-group items are rated 5 and three other-group items per user 1.
    """
    rng = np.random.default_rng(seed)
    users, items, values = [], [], []
    for u in range(40):
        g = u // 20
        own = rng.choice(15, 8, replace=False) + 15 * g
        for i in own:
            users.append(f"u{u}")
            items.append(f"i{i}")
            values.append(5.0 if ratings else 1.0)
        if ratings:
            for i in rng.choice(15, 3, replace=False) + 15 * (1 - g):
                users.append(f"u{u}")
                items.append(f"i{i}")
                values.append(1.0)
    return Interactions.from_arrays(users, items, np.array(values, F32))


MODELS = {
    "als-cg": lambda: ALS(factors=2, iterations=10, regularization=0.1, workers=2, progress=False),
    "als-cholesky": lambda: ALS(factors=2, iterations=10, regularization=0.1, solver="cholesky", workers=1,
                                progress=False),
    "bpr": lambda: BPR(factors=8, learning_rate=0.05, regularization=0.05, iterations=150, workers=1,
                       progress=False),
    "mf": lambda: MatrixFactorization(factors=4, epochs=60, learning_rate=0.02, lr_decay=0.97,
                                      regularization=0.02, init_std=0.1, progress=False),
}
_FITTED = {}


def fitted(name):
    if name not in _FITTED:
        data = checkerboard(ratings=name == "mf")
        _FITTED[name] = (MODELS[name]().fit(data), data)
    return _FITTED[name]


def group(key):
    return int(key[1:]) // 20 if key.startswith("u") else int(key[1:]) // 15


@pytest.fixture(params=list(MODELS))
def model_data(request):
    return fitted(request.param)


def seen_items(data, user):
    row = data.user_index[user]
    return {data.items[i] for i in data.csr.indices[data.csr.indptr[row]:data.csr.indptr[row + 1]]}


# --------------------------------------------------------------------------- the contract
def test_recommends_the_users_own_group(model_data):
    model, data = model_data
    for u in ("u0", "u7", "u25", "u39"):
        recs = model.recommend(u, n=5)
        assert len(recs) == 5
        assert all(group(i) == group(u) for i, _ in recs), (u, recs)
        scores = [s for _, s in recs]
        assert scores == sorted(scores, reverse=True)


def test_filter_seen_really_filters(model_data):
    model, data = model_data
    for u in ("u1", "u30"):
        seen = seen_items(data, u)
        recs = model.recommend(u, n=30)
        assert not seen & {i for i, _ in recs}
        assert len(recs) == 30 - len(seen)
        unfiltered = model.recommend(u, n=30, filter_seen=False)
        assert {i for i, _ in unfiltered} == set(data.items)


def test_items_restriction_and_n_larger_than_catalogue(model_data):
    model, data = model_data
    allowed = ["i3", "i20", "i21", "i29", "i0"]
    recs = model.recommend("u2", n=10, items=allowed, filter_seen=False)
    assert sorted(i for i, _ in recs) == sorted(allowed)
    recs = model.recommend("u2", n=10, items=allowed)
    assert {i for i, _ in recs} == set(allowed) - seen_items(data, "u2")
    assert len(model.recommend("u2", n=1000, filter_seen=False)) == data.n_items
    idx, scores = model.recommend_indices([0, 1], n=40)
    assert idx.shape == (2, 40) and idx.dtype == np.int64 and scores.dtype == np.float32
    assert (idx[:, -1] == -1).all() and np.isnan(scores[:, -1]).all()
    n_seen = np.diff(data.csr.indptr)[:2]
    assert ((idx >= 0).sum(axis=1) == data.n_items - n_seen).all()


def test_batch_matches_single_and_indices(model_data):
    model, data = model_data
    batch = model.recommend(["u3", "u33"], n=4)
    singles = [model.recommend("u3", n=4), model.recommend("u33", n=4)]
    for got, want in zip(batch, singles):  # BLAS may round a matrix product and a vector one apart
        assert [i for i, _ in got] == [i for i, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5)
    idx, scores = model.recommend_indices([data.user_index["u3"]], n=4)
    assert [data.items[i] for i in idx[0]] == [i for i, _ in batch[0]]
    # a train_csr passed explicitly (e.g. by the evaluator) is used for filtering
    empty = sp.csr_matrix((data.n_users, data.n_items), dtype=F32)
    idx2, _ = model.recommend_indices([data.user_index["u3"]], n=data.n_items, train_csr=empty)
    assert (idx2 >= 0).all()


def test_embeddings_dot_is_the_score(model_data):
    model, data = model_data
    assert isinstance(model.users, Embeddings) and isinstance(model.items, Embeddings)
    assert model.users.keys == data.users and model.items.keys == data.items
    assert model.users.metric == "dot"
    for item, score in model.recommend("u5", n=3):
        assert float(model.users["u5"] @ model.items[item]) == pytest.approx(score, rel=1e-4, abs=1e-5)


def test_similar_items_and_users(model_data):
    model, data = model_data
    sims = model.similar_items("i2", n=5)
    assert "i2" not in {i for i, _ in sims} and len(sims) == 5
    assert sum(group(i) == 0 for i, _ in sims) >= 4
    sims = model.similar_users("u22", n=5)
    assert "u22" not in {u for u, _ in sims}
    assert all(group(u) == 1 for u, _ in sims)
    assert all(-1.0001 <= s <= 1.0001 for _, s in sims)


def test_unknown_ids_are_named(model_data):
    model, _ = model_data
    with pytest.raises(UnknownKeyError, match="user 'nobody'"):
        model.recommend("nobody")
    with pytest.raises(UnknownKeyError, match="item 'i999'"):
        model.recommend("u0", items=["i1", "i999"])
    with pytest.raises(UnknownKeyError, match="item 'zzz'"):
        model.similar_items("zzz")
    with pytest.raises(UnknownKeyError, match="user"):
        model.similar_users("u1000")
    with pytest.raises(UnknownKeyError, match="item 'i77'"):
        model.recalculate_user("u0", {"i77": 1.0})
    with pytest.raises(InvalidInputError):
        model.recommend("u0", n=0)


def test_recommend_for_a_new_user(model_data):
    model, _ = model_data
    value = 5.0 if isinstance(model, MatrixFactorization) else 1.0
    liked = {f"i{j}": value for j in (15, 16, 17, 18, 19, 20)}
    recs = model.recommend_for(liked, n=5)
    assert len(recs) == 5 and not set(liked) & {i for i, _ in recs}
    assert sum(group(i) == 1 for i, _ in recs) >= 4
    assert model.recommend_for((list(liked), list(liked.values())), n=5) == recs


def test_recalculate_user_update_adds_and_replaces(model_data):
    name = next(k for k, v in _FITTED.items() if v is model_data)
    model, data = MODELS[name]().fit(model_data[1]), model_data[1]
    value = 5.0 if isinstance(model, MatrixFactorization) else 1.0
    before = model.recommend("u0", n=3)
    factor = model.recalculate_user("u0", {"i20": value})
    assert factor.dtype == np.float32 and factor.shape == model.user_factors.shape[1:]
    assert model.recommend("u0", n=3) == before  # not stored without update
    model.recalculate_user("newbie", {"i16": value, "i17": value, "i18": value}, update=True)
    assert model.users.keys[-1] == "newbie" and model.n_users == data.n_users + 1
    recs = model.recommend("newbie", n=4)
    assert not {"i16", "i17", "i18"} & {i for i, _ in recs}
    model.recalculate_user("u0", ["i20"] if value == 1.0 else {"i20": value}, update=True)
    assert "i20" not in {i for i, _ in model.recommend("u0", n=30)}
    assert model.user_index["u0"] == 0


def test_save_load_round_trip(model_data, tmp_path):
    model, _ = model_data
    path = model.save(tmp_path / "model")
    meta = json.loads((path / "params.json").read_text())
    assert meta["format_version"] == 1 and meta["model"] == type(model).__name__
    assert not list(path.glob("*.pkl"))
    loaded = Recommender.load(path)
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    assert loaded.recommend(["u0", "u21"], n=6) == model.recommend(["u0", "u21"], n=6)
    assert loaded.similar_items("i4", n=3) == model.similar_items("i4", n=3)
    assert type(model).load(path).users.keys == model.users.keys
    other = BPR if not isinstance(model, BPR) else ALS
    with pytest.raises(FormatError):
        other.load(path)
    model.save(path)  # overwriting a model directory is fine
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.txt").write_text("keep me")
    with pytest.raises(InvalidInputError, match="refusing"):
        model.save(tmp_path / "plain")


@pytest.mark.parametrize("name", ["mf", "bpr", "als-cg"])
def test_deterministic_with_one_worker(name):
    data = checkerboard(ratings=name == "mf", seed=3)
    make = MODELS[name]
    a = make()
    a.workers = 1
    b = make()
    b.workers = 1
    a.fit(data)
    b.fit(data)
    assert np.array_equal(a.user_factors, b.user_factors) and np.array_equal(a.item_factors, b.item_factors)


# --------------------------------------------------------------------------- model specifics
def test_als_recalculate_user_equals_a_full_solve():
    data = checkerboard(seed=1)
    model = ALS(factors=6, iterations=5, alpha=3.0, workers=1, progress=False).fit(data)
    X = np.zeros_like(model.user_factors)
    C = data.csr.copy()
    C.data = C.data * F32(3.0)
    YtY = model.item_factors.astype(np.float64).T @ model.item_factors.astype(np.float64) + 0.05 * np.eye(6)
    _als.solve_cholesky(C.indptr.astype(np.int64), C.indices.astype(np.int32), C.data.astype(F32), X,
                        model.item_factors, YtY, 0, data.n_users)
    row = data.user_index["u4"]
    items = [data.items[i] for i in data.csr.indices[data.csr.indptr[row]:data.csr.indptr[row + 1]]]
    np.testing.assert_allclose(model.recalculate_user("u4", items), X[row], rtol=1e-5, atol=1e-6)
    # CG with 15 iterations ends close to the exact solution of its last user half-step
    assert model.loss() > 0


def test_als_workers_do_not_change_the_result():
    data = checkerboard(seed=2)
    one = ALS(factors=6, iterations=3, workers=1, progress=False).fit(data)
    two = ALS(factors=6, iterations=3, workers=2, progress=False).fit(data)
    assert np.array_equal(one.user_factors, two.user_factors)


def test_mf_predict_clips_and_handles_unknowns():
    data = checkerboard(ratings=True)
    model = fitted("mf")[0]
    assert model.rating_range == (1.0, 5.0)
    preds = model.predict(["u0"] * 30, [f"i{j}" for j in range(30)])
    assert preds.shape == (30,) and preds.min() >= 1.0 and preds.max() <= 5.0
    assert preds[:15].mean() > preds[15:].mean() + 2
    assert isinstance(model.predict("u0", "i3"), float)
    with pytest.raises(UnknownKeyError, match="user 'ghost'"):
        model.predict("ghost", "i1")
    base = model.predict(["ghost", "u0"], ["i1", "nope"], unknown="baseline")
    assert base[0] == pytest.approx(np.clip(model.global_mean + model.item_bias[data.item_index["i1"]], 1, 5))
    assert base[1] == pytest.approx(np.clip(model.global_mean + model.user_bias[0], 1, 5))
    assert model.predict_indices([-1], [-1])[0] == pytest.approx(model.global_mean)
    # indices past the model (a test set built with extend=True on the training ids) are unknown
    past = model.predict_indices([0, data.n_users + 3], [data.n_items + 1, 0])
    np.testing.assert_allclose(past, [np.clip(model.global_mean + model.user_bias[0], 1, 5),
                                      np.clip(model.global_mean + model.item_bias[0], 1, 5)], rtol=1e-6)


def test_mf_svdpp_and_hogwild_run():
    data = checkerboard(ratings=True)
    pp = MatrixFactorization(factors=4, epochs=30, learning_rate=0.02, implicit_term=True, workers=2,
                             progress=False).fit(data)
    preds = pp.predict(["u0"] * 30, [f"i{j}" for j in range(30)])
    assert preds[:15].mean() > preds[15:].mean() + 2
    assert pp.training_stats["train_rmse"][-1] < pp.training_stats["train_rmse"][0]
    assert all(group(i) == 0 for i, _ in pp.recommend("u1", n=5))


def test_mf_fold_in_reproduces_trained_predictions():
    data = checkerboard(ratings=True)
    model = fitted("mf")[0]
    row = data.user_index["u6"]
    s, e = data.csr.indptr[row], data.csr.indptr[row + 1]
    ratings = {data.items[i]: float(v) for i, v in zip(data.csr.indices[s:e], data.csr.data[s:e])}
    items = [f"i{j}" for j in range(30)]
    folded = model.predict_for(ratings, items)
    trained = model.predict(["u6"] * 30, items)
    assert np.corrcoef(folded, trained)[0, 1] > 0.9


def test_fit_accepts_a_sparse_matrix_and_rejects_bad_input():
    m = sp.random(12, 9, density=0.4, format="csr", random_state=0, dtype=np.float64)
    model = ALS(factors=3, iterations=2, progress=False).fit(m)
    assert model.users.keys == list(range(12)) and model.item_factors.dtype == np.float32
    bad = m.copy()
    bad.data[0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        ALS(progress=False).fit(bad)
    with pytest.raises(InvalidInputError, match="no interactions"):
        BPR(progress=False).fit(sp.csr_matrix((3, 3)))
    with pytest.raises(InvalidInputError, match="Interactions"):
        MatrixFactorization(progress=False).fit([[1, 2, 3]])
    with pytest.raises(InvalidInputError, match="solver"):
        ALS(solver="lu")
    with pytest.raises(InvalidInputError, match="factors"):
        BPR(factors=0)
    with pytest.raises(InvalidInputError, match="learning_rate"):
        MatrixFactorization(learning_rate=-1)
    with pytest.raises(InvalidInputError, match="not fitted"):
        ALS().recommend(0)
    with pytest.raises(InvalidInputError, match="finite"):
        fitted("als-cg")[0].recommend_for({"i1": float("nan")})


def test_a_user_with_no_interactions_gets_the_most_popular_items():
    counts = np.array([5, 1, 9, 3, 7])  # users who interacted with each of 5 items
    rows, cols = [], []
    for item, c in enumerate(counts):
        rows += list(range(c))
        cols += [item] * c
    m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(12, 5))  # users 9-11: nothing
    model = ALS(factors=3, iterations=3, workers=1, progress=False).fit(m)
    assert [item for item, _ in model.recommend(10, n=3)] == [2, 4, 0]
    assert [score for _, score in model.recommend(10, n=2)] == [9.0, 7.0]
    assert [item for item, _ in model.recommend_for({}, n=2)] == [2, 4]
    assert [item for item, _ in model.recommend_for({2: 1.0, 4: 0.0}, n=5)][:1] != [2]
