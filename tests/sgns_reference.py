"""Slow pure-Python pieces of word2vec.c that the kernel tests of Word2Vec and FastText share."""

from embedworks.learn import _sgns

MASK64 = (1 << 64) - 1


def ref_sigmoid(f):
    if f >= _sgns.MAX_EXP:
        return 1.0
    if f <= -_sgns.MAX_EXP:
        return 0.0
    return float(_sgns.EXP_TABLE[int((f + _sgns.MAX_EXP) * (_sgns.EXP_TABLE_SIZE / _sgns.MAX_EXP / 2))])


def ref_lcg(nr):
    return (nr * 25214903917 + 11) & MASK64
