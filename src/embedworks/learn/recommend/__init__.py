"""Recommendation models: user and item embeddings whose dot product is the score.

* `MatrixFactorization`: explicit ratings, biased SGD (SVD++ optional), `predict`.
* `ALS`: implicit feedback, confidence-weighted least squares (Hu, Koren & Volinsky 2008).
* `BPR`: implicit feedback, Bayesian personalised ranking with sampled negatives.

All share `Recommender`: `recommend`, `recommend_indices`, `similar_items`, `similar_users`,
`recalculate_user`, `recommend_for`, `users` / `items` as `Embeddings`, `save` / `load`.
"""

from .als import ALS
from .base import Recommender
from .bpr import BPR
from .mf import MatrixFactorization

__all__ = ["ALS", "BPR", "MatrixFactorization", "Recommender"]
