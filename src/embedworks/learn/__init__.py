"""Trainers: learn embeddings from your own data.

Each trainer's module is imported on first use, so ``from embedworks.learn import Word2Vec``
loads Word2Vec alone (torch is imported only by the fit/load of the torch-based models).
"""

from .._lazy import lazy_attributes

_LAZY = {"Word2Vec": ".word2vec", "GloVe": ".glove", "FastText": ".fasttext", "ALS": ".recommend",
         "BPR": ".recommend", "MatrixFactorization": ".recommend", "DeepWalk": ".graph",
         "Node2Vec": ".graph", "Doc2Vec": ".doc2vec", "EntityEmbedding": ".entity",
         "AudioEmbedding": ".audio"}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
