"""Word2Vec's ahead-of-time compiled kernels (learn/_aot.py): built by the install, current, the same
results as the JIT kernels, no Numba loaded to train, and the JIT fallback when stale."""

import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embedworks.learn import Word2Vec, _aot

SENTENCES = [[f"w{(i * 7 + j * 3) % 23}" for j in range(9)] for i in range(200)]


def test_install_built_current_kernels():
    compiled = _aot.compiled_kernels()
    assert compiled is not None, "the install did not compile learn/_word2vec_aot (see setup.py's warning)"
    assert compiled.source_digest() == _aot.source_digest()
    for name in _aot.EXPORTS:
        assert callable(getattr(compiled, name))


@pytest.mark.parametrize("settings", [dict(sg=True), dict(sg=True, shared_negatives=False),
                                      dict(sg=True, hs=True, negative=0), dict(sg=False),
                                      dict(sg=False, hs=True, negative=3)])
def test_compiled_and_jit_kernels_train_the_same_vectors(monkeypatch, settings):
    kw = dict(dim=12, window=3, min_count=1, epochs=2, sample=1e-2, workers=1, seed=3, progress=False, **settings)
    vectors = {}
    for kind, kernels in (("compiled", _aot.compiled_kernels()), ("jit", _aot.jit_kernels())):
        monkeypatch.setattr(_aot, "word2vec_kernels", lambda k=kernels: k)
        for module in ("embedworks.learn.word2vec", "embedworks.learn.vocab"):
            monkeypatch.setattr(sys.modules[module], "word2vec_kernels", lambda k=kernels: k)
        vectors[kind] = Word2Vec(**kw).fit(SENTENCES).embeddings.vectors
    assert np.abs(vectors["compiled"]).max() > 0.01  # trained, not the ±0.5/dim start
    np.testing.assert_allclose(vectors["compiled"], vectors["jit"], rtol=0, atol=1e-5)


def test_training_word2vec_loads_no_numba(tmp_path):
    script = textwrap.dedent("""
        import sys
        from embedworks.learn import Word2Vec
        sentences = [[f"w{(i * 7 + j * 3) % 23}" for j in range(9)] for i in range(200)]
        Word2Vec(dim=8, min_count=1, epochs=1, workers=2, progress=False).fit(sentences)
        Word2Vec(dim=8, min_count=1, epochs=1, sg=False, hs=True, progress=False).fit(sentences)
        print(sorted(m for m in ("numba", "llvmlite", "scipy", "torch") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_stale_kernels_fall_back_to_jit(monkeypatch, caplog):
    monkeypatch.setattr(_aot, "source_digest", lambda folder=None: -1)
    with caplog.at_level(logging.WARNING, logger="embedworks.learn._aot"):
        assert _aot.compiled_kernels() is None
    assert "older than their sources" in caplog.text
    _aot.word2vec_kernels.cache_clear()
    try:
        assert _aot.word2vec_kernels().train_sg is _aot.jit_kernels().train_sg
    finally:
        monkeypatch.undo()
        _aot.word2vec_kernels.cache_clear()
    assert _aot.word2vec_kernels() is _aot.compiled_kernels()
