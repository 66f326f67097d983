"""Recommendation metrics: rating error (RMSE, MAE) and top-k ranking quality on a held-out split.

`rating_metrics(model_or_predictions, test)` → ``{"rmse", "mae", "n"}``.

`ranking_metrics(model, train, test, k=10)` → `RankingResult`. Every user with at least one test
interaction (and known to `train`'s mapping) is evaluated: the recommender's top k items for
that user, training items excluded, are compared with the user's test items (every stored test
interaction is relevant; use ``test.filter(min_value=4)`` for "ratings ≥ 4 are positives").
Per-user scores are averaged over the evaluated users (macro average). With ``hits`` the number of
relevant items in the top k, ``R`` the user's number of test items and ``rel_j`` ∈ {0, 1} the
relevance of rank j (1-based):

* ``precision``  = hits / k (a list shorter than k — a tiny catalogue — still divides by k);
* ``recall``     = hits / R (the common definition; some papers divide by min(k, R));
* ``ndcg``       = DCG / IDCG with binary gains, DCG = Σ_j rel_j / log2(j + 1) and IDCG the DCG
  of min(k, R) relevant items at the top — as implicit's ``ranking_metrics_at_k``;
* ``map``        = Σ_j rel_j · precision@j / min(k, R) — as implicit;
* ``hit_rate``   = 1 if hits > 0 else 0;
* ``auc``        = implicit's "limited AUC": misses in the top k ranked against hits above them,
  every item outside the top k counted as tied (half credit); negatives are all catalogue
  items that are not test items (training items included), as implicit counts them;
* ``coverage``   = distinct items recommended to the evaluated users / ``train.n_items``
  (catalogue coverage, not averaged per user);
* ``precision_capped`` = Σ hits / Σ min(k, R) over users (a micro average): this is what
  implicit's ``ranking_metrics_at_k`` reports as "precision". It differs from ``precision``
  above, which is the usual per-user hits / k averaged over users.

Differences from implicit's ``ranking_metrics_at_k``: its "precision" is our
``precision_capped``; it has no recall, hit rate or coverage; otherwise (ndcg, map, auc, the
users evaluated: all with a test item, training items filtered) the definitions are the same.
"""

from __future__ import annotations

import inspect

import logging
from dataclasses import dataclass, field

import numpy as np

from ..data.interactions import Interactions
from ..errors import InvalidInputError, UnknownKeyError

logger = logging.getLogger(__name__)

__all__ = ["rating_metrics", "ranking_metrics", "RankingResult"]

#: score-matrix cells (users in a batch × catalogue size) a recommender is asked for at once
BATCH_CELLS = 1 << 22


# --------------------------------------------------------------------------- rating metrics

def _raw_id_array(ids: list) -> np.ndarray:
    if ids and all(isinstance(x, int) for x in ids):
        return np.asarray(ids, dtype=np.int64)
    if ids and all(isinstance(x, str) for x in ids):
        return np.asarray(ids, dtype=str)
    out = np.empty(len(ids), dtype=object)
    out[:] = ids
    return out


def rating_metrics(model_or_predictions, test: Interactions, unknown: str = "baseline") -> dict:
    """RMSE and MAE of predicted values against ``test.values``.

    Test pairs whose user or item the model never saw are scored by the model's fallback
    (``unknown="baseline"``: global mean plus the known biases, as Surprise does) when its
    ``predict`` takes an `unknown` argument; ``unknown="error"`` raises on them instead.

    `model_or_predictions` is one of:

    * an array (or list) of predictions aligned with ``test.values`` (the order of
      ``test.user_ids`` / ``test.item_ids``);
    * a model with ``predict(users, items)`` on arrays of raw ids (used first: it is right
      whatever the index mapping of the model);
    * a model with ``predict_indices(user_indices, item_indices)`` only, which must share
      `test`'s index mapping;
    * a plain callable ``f(users, items)`` on raw ids.

    Returns ``{"rmse": float, "mae": float, "n": number of test interactions}``.
    """
    if not isinstance(test, Interactions):
        raise InvalidInputError(f"test must be an Interactions, got {type(test).__name__}")
    if test.nnz == 0:
        raise InvalidInputError("test holds no interactions")
    m = model_or_predictions
    if isinstance(m, (np.ndarray, list, tuple)):
        preds = m
    elif hasattr(m, "predict"):
        options = {"unknown": unknown} if "unknown" in inspect.signature(m.predict).parameters else {}
        preds = m.predict(_raw_id_array(test.users)[test.user_ids],
                          _raw_id_array(test.items)[test.item_ids], **options)
    elif hasattr(m, "predict_indices"):
        preds = m.predict_indices(test.user_ids, test.item_ids)
    elif callable(m):
        preds = m(_raw_id_array(test.users)[test.user_ids], _raw_id_array(test.items)[test.item_ids])
    else:
        raise InvalidInputError("expected predictions or a model with predict(users, items) or "
                                f"predict_indices(...), got {type(m).__name__}")
    preds = np.asarray(preds, dtype=np.float64).reshape(-1)
    if len(preds) != test.nnz:
        raise InvalidInputError(f"{len(preds)} predictions for {test.nnz} test interactions")
    bad = ~np.isfinite(preds)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"prediction {preds[j]} for (user {test.users[test.user_ids[j]]!r}, "
                                f"item {test.items[test.item_ids[j]]!r}) is not finite "
                                f"({int(bad.sum())} such)")
    err = preds - test.values.astype(np.float64)
    return {"rmse": float(np.sqrt(np.mean(err * err))), "mae": float(np.mean(np.abs(err))),
            "n": int(test.nnz)}


# --------------------------------------------------------------------------- ranking metrics

@dataclass
class RankingResult:
    """Ranking metrics at `k`, averaged over `n_users` evaluated users (see the module docstring).

    `per_user` holds, for each evaluated user, its index (``"users"``) and its ``"precision"``,
    ``"recall"``, ``"ndcg"``, ``"ap"``, ``"hit"``, ``"auc"`` and ``"n_relevant"`` (numpy arrays),
    e.g. for paired significance tests.
    """

    k: int
    n_users: int
    precision: float
    recall: float
    ndcg: float
    map: float
    hit_rate: float
    coverage: float
    auc: float
    precision_capped: float
    per_user: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The scalar metrics (no per-user arrays) as a plain dict."""
        return {"k": self.k, "n_users": self.n_users, "precision": self.precision,
                "recall": self.recall, "ndcg": self.ndcg, "map": self.map,
                "hit_rate": self.hit_rate, "coverage": self.coverage, "auc": self.auc,
                "precision_capped": self.precision_capped}

    def __str__(self) -> str:
        k = self.k
        return (f"precision@{k} {self.precision:.4f}  recall@{k} {self.recall:.4f}  "
                f"ndcg@{k} {self.ndcg:.4f}  map@{k} {self.map:.4f}  hit_rate@{k} {self.hit_rate:.4f}  "
                f"coverage {self.coverage:.4f}  auc {self.auc:.4f}  ({self.n_users} users)")


def _check_mappings(train: Interactions, test: Interactions):
    """train's id lists must equal test's, or be a prefix of them (test built with extend=True)."""
    for what, a, b in (("user", train.users, test.users), ("item", train.items, test.items)):
        if a is b:
            continue
        if len(a) > len(b) or list(b[:len(a)]) != list(a):
            raise InvalidInputError(
                f"train and test map {what} ids to different indices; build test with "
                f"{what}_ids=train.{what}s (e.g. Interactions.from_csv(path, user_ids=train.users, "
                "item_ids=train.items, extend=True)) or split one Interactions")


def _member(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Boolean array: which `queries` occur in the sorted 1-D `sorted_keys`."""
    if len(sorted_keys) == 0:
        return np.zeros(queries.shape, dtype=bool)
    pos = np.searchsorted(sorted_keys, queries)
    np.minimum(pos, len(sorted_keys) - 1, out=pos)
    return sorted_keys[pos] == queries


def _recommender(model, train: Interactions):
    """A function (user_indices, n) -> item indices (n_users, ≤ n) for a model or a callable."""
    if hasattr(model, "recommend_indices"):
        train_csr = train.csr

        def rec(users, n):
            return model.recommend_indices(users, n, True, train_csr)
        return rec
    if callable(model):
        return model
    raise InvalidInputError("expected a model with recommend_indices(user_indices, n, filter_seen, "
                            f"train_csr) or a callable recommend(user_indices, n), got {type(model).__name__}")


def _top_items(rec, users: np.ndarray, n: int, n_items: int) -> np.ndarray:
    """(len(users), n) int64 item indices, -1 where the recommender gave fewer than n."""
    out = rec(users, n)
    if isinstance(out, tuple):
        out = out[0]
    items = np.asarray(out)
    if items.ndim == 1 and len(users) == 1:
        items = items[None, :]
    if items.ndim != 2 or items.shape[0] != len(users) or items.shape[1] > n:
        raise InvalidInputError(f"the recommender returned shape {items.shape} for {len(users)} users "
                                f"and n={n}; expected ({len(users)}, {n})")
    if items.dtype.kind not in "iu":
        if items.dtype.kind == "f" and np.all(np.isnan(items) | (items == np.floor(items))):
            items = np.where(np.isnan(items), -1, items)
        else:
            raise InvalidInputError(f"the recommender must return item indices, got dtype {items.dtype}")
    items = items.astype(np.int64)
    if items.size and (items.min() < -1 or items.max() >= n_items):
        raise InvalidInputError(f"the recommender returned item indices outside 0 … {n_items - 1}")
    if items.shape[1] < n:
        items = np.concatenate([items, np.full((len(users), n - items.shape[1]), -1, np.int64)], axis=1)
    return items


def _first_valid(items: np.ndarray, k: int) -> np.ndarray:
    """Per row, the first k entries that are not -1 (kept in order), padded with -1."""
    order = np.argsort(items < 0, axis=1, kind="stable")
    out = np.take_along_axis(items, order, axis=1)[:, :k]
    if out.shape[1] < k:
        out = np.concatenate([out, np.full((len(out), k - out.shape[1]), -1, np.int64)], axis=1)
    return out


def ranking_metrics(model, train: Interactions, test: Interactions, k: int = 10, users=None,
                    batch_size: int | None = None) -> RankingResult:
    """Precision, recall, NDCG, MAP, hit rate, AUC @k and catalogue coverage (module docstring).

    `model` is a trained recommender with ``recommend_indices(user_indices, n, filter_seen,
    train_csr)`` → ``(items (len(users), n) int64, scores)``, or any callable
    ``recommend(user_indices, n)`` returning item indices (or an ``(items, scores)`` tuple).
    Training items are excluded from every top-k even when the recommender does not filter
    them: a user whose list held training items is asked again for ``k + |train items|`` and the
    first k non-training items are kept. Entries of -1 mean "no item" (a short list).

    `train` and `test` must share the id mapping (a split of one Interactions, or test built with
    ``user_ids=train.users, item_ids=train.items``, ``extend=True`` allowed: test users or items
    unknown to train are then relevant but cannot be recommended; test users beyond train's
    users are not evaluated). `users` (raw ids) restricts the evaluation to those users; any of
    them without a test interaction is skipped. Users are processed in batches (`batch_size`,
    default: as many as fit 4 M score cells of the catalogue).
    """
    if not isinstance(train, Interactions) or not isinstance(test, Interactions):
        raise InvalidInputError("train and test must be Interactions")
    k = int(k)
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    _check_mappings(train, test)
    n_items = train.n_items
    if n_items == 0:
        raise InvalidInputError("train has no items")

    test_counts = test.user_counts()
    candidates = np.flatnonzero(test_counts[:train.n_users] > 0)
    if users is not None:
        if isinstance(users, (str, int, np.integer)):
            users = [users]
        idx = []
        for u in users:
            key = u if isinstance(u, str) else int(u)
            j = test.user_index.get(key)
            if j is None:
                raise UnknownKeyError(key, test.users, what="user")
            idx.append(j)
        wanted = np.unique(np.asarray(idx, dtype=np.int64))
        candidates = np.intersect1d(candidates, wanted)
    if len(candidates) == 0:
        raise InvalidInputError("no user to evaluate: no (selected) user has a test interaction")

    rec = _recommender(model, train)
    train_keys = train.user_ids * n_items + train.item_ids          # sorted: COO is user, item order
    train_counts = train.user_counts()
    test_keys = test.user_ids * test.n_items + test.item_ids
    if batch_size is None:
        batch_size = max(1, min(len(candidates), BATCH_CELLS // max(n_items, 1)))

    disc = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    idcg_table = np.cumsum(disc)
    ranks = np.arange(1, k + 1, dtype=np.float64)
    recommended = np.zeros(n_items, dtype=bool)
    parts = {name: [] for name in ("precision", "recall", "ndcg", "ap", "hit", "auc", "hits")}

    for b0 in range(0, len(candidates), batch_size):
        batch = candidates[b0:b0 + batch_size]
        top = _top_items(rec, batch, k, n_items)
        in_train = (top >= 0) & _member(train_keys, batch[:, None] * n_items + top)
        redo = in_train.any(axis=1)
        if redo.any():
            sub = batch[redo]
            n2 = int(min(n_items, k + train_counts[sub].max()))
            more = _top_items(rec, sub, n2, n_items)
            more[(more >= 0) & _member(train_keys, sub[:, None] * n_items + more)] = -1
            top[redo] = _first_valid(more, k)
        valid = top >= 0
        recommended[top[valid]] = True
        rel = valid & _member(test_keys, batch[:, None] * test.n_items + top)

        n_rel = test_counts[batch].astype(np.float64)
        capped = np.minimum(n_rel, k)
        hits = rel.sum(axis=1).astype(np.float64)
        cum = np.cumsum(rel, axis=1).astype(np.float64)
        parts["hits"].append(hits)
        parts["precision"].append(hits / k)
        parts["recall"].append(hits / n_rel)
        parts["hit"].append((hits > 0).astype(np.float64))
        parts["ndcg"].append((rel @ disc) / idcg_table[capped.astype(np.int64) - 1])
        parts["ap"].append((rel * cum / ranks).sum(axis=1) / capped)
        # implicit's limited AUC: each miss in the top k scores the hits above it; the items
        # below the top k count as tied with the remaining positives (half credit)
        n_neg = test.n_items - n_rel
        misses = k - hits
        auc = (~rel * cum).sum(axis=1) + (hits + n_rel) / 2.0 * (n_neg - misses)
        with np.errstate(divide="ignore", invalid="ignore"):
            parts["auc"].append(np.where(n_neg > 0, auc / (n_rel * n_neg), np.nan))

    per = {name: np.concatenate(v) for name, v in parts.items()}
    n_rel_all = test_counts[candidates]
    auc_vals = per["auc"][np.isfinite(per["auc"])]
    result = RankingResult(
        k=k, n_users=int(len(candidates)),
        precision=float(per["precision"].mean()), recall=float(per["recall"].mean()),
        ndcg=float(per["ndcg"].mean()), map=float(per["ap"].mean()),
        hit_rate=float(per["hit"].mean()), coverage=float(recommended.sum() / n_items),
        auc=float(auc_vals.mean()) if len(auc_vals) else float("nan"),
        precision_capped=float(per["hits"].sum() / np.minimum(n_rel_all, k).sum()),
        per_user={"users": candidates, "precision": per["precision"], "recall": per["recall"],
                  "ndcg": per["ndcg"], "ap": per["ap"], "hit": per["hit"], "auc": per["auc"],
                  "n_relevant": n_rel_all},
    )
    logger.info("ranking metrics @%d over %d users: %s", k, result.n_users, result)
    return result
