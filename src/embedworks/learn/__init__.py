"""Trainers: learn embeddings from your own data."""

from .word2vec import Word2Vec
from .glove import GloVe
from .fasttext import FastText
from .recommend import ALS, BPR, MatrixFactorization
from .graph import DeepWalk, Node2Vec
from .doc2vec import Doc2Vec
from .entity import EntityEmbedding  # torch is imported only by fit/load
from .audio import AudioEmbedding  # torch is imported only by fit/load
