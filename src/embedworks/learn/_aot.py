"""Word2Vec's kernels compiled ahead of time, so that training Word2Vec loads neither Numba nor LLVM.

The kernels are the Numba functions of `_sgns.py` and `_vocab.py`. At install time `setup.py`
compiles them with `numba.pycc` into the extension module `_word2vec_aot` (native code for the
installing machine's CPU, same optimisation flags, GIL released), as gensim ships Cython. At run
time `word2vec_kernels()` hands Word2Vec and the vocabulary that module, which costs nothing to
import, instead of the JIT functions, whose first use costs about 125 MB of resident memory
(`import numba` 65 MB, LLVM's code generator about 60 MB, even when loading from Numba's cache).
The results are the same (tests/test_aot.py).

The module records a digest of the kernel sources it was compiled from. When it is missing (no C
compiler at install time) or stale (a kernel source was edited after installing), the JIT
functions are used, so the package always works, only heavier.

Everything at module level is standard library only: `setup.py` loads this file by path, before
embedworks or its dependencies can be imported.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
from pathlib import Path
from types import SimpleNamespace

logger = logging.getLogger(__name__)

#: name of the compiled extension module, inside this package
MODULE = "_word2vec_aot"
#: kernel sources compiled into it, next to this file
SOURCES = ("_sgns.py", "_vocab.py")

_MATRIX, _VECTOR = "f4[:, ::1]", "f4[::1]"
_TRAIN = ("Tuple((u8, i8, i8))(" + ", ".join([_MATRIX] * 3) +
          ", i4[::1], i8[::1], f4[::1], u4[::1], i4[::1], u1[:, ::1], i4[:, ::1], i4[::1],"
          " i8, i8, b1, b1, f8, f8, f8, f8, i8, i8, u8)")
#: exported name: (source module, Numba signature); every argument as Word2Vec passes it
EXPORTS = {
    "train_sg": ("_sgns", _TRAIN),
    "train_cbow": ("_sgns", _TRAIN),
    "init_vectors": ("_sgns", f"u8({_MATRIX}, u8)"),
    "compact": ("_vocab", "UniTuple(i8, 3)(i4[::1], i8[::1], i4[::1], b1, i8, i8, i8, i8, i8)"),
    "count_ids": ("_vocab", "i8[::1](i4[::1], i8)"),
    "huffman_sorted": ("_vocab", "Tuple((u1[:, ::1], i4[:, ::1], i4[::1]))(i8[::1])"),
    "vose": ("_vocab", "void(f8[::1], u4[::1], i4[::1])"),
}


def source_digest(folder: Path | None = None) -> int:
    """A 60-bit digest of the kernel sources (an int, so the compiled module can return it)."""
    folder = Path(__file__).parent if folder is None else folder
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((folder / name).read_bytes())
    return int(h.hexdigest()[:15], 16)


def compiled_kernels():
    """The compiled kernel module, or None when it is not installed or older than the sources."""
    try:
        compiled = importlib.import_module(f"{__package__}.{MODULE}")
    except ImportError:
        logger.debug("no ahead-of-time compiled kernels; using Numba's JIT")
        return None
    if compiled.source_digest() != source_digest():
        logger.warning("the compiled Word2Vec kernels are older than their sources (reinstall "
                       "embedworks to rebuild them); using Numba's JIT, which needs more memory")
        return None
    return compiled


def jit_kernels() -> SimpleNamespace:
    """EXPORTS as Numba JIT functions (compiled on first call, cached on disk)."""
    from . import _sgns, _vocab

    modules = {"_sgns": _sgns, "_vocab": _vocab}
    return SimpleNamespace(**{name: getattr(modules[source], name) for name, (source, _) in EXPORTS.items()})


@functools.cache
def word2vec_kernels():
    """The kernels Word2Vec and the vocabulary call: compiled when possible, else JIT."""
    compiled = compiled_kernels()
    return jit_kernels() if compiled is None else compiled


def build(path: str | Path) -> None:
    """Compile EXPORTS into the extension module file `path` (setup.py calls this; needs Numba and
    a C compiler)."""
    import tempfile
    import warnings

    from numba.core import compiler, config, cpu
    from numba.core.errors import NumbaPendingDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)  # pycc's pending deprecation
        from numba.pycc import CC
        from numba.pycc import compiler as pycc_compiler

    class KernelFlags(compiler.Flags):
        """pycc compiles with default flags; give the exports those of `_sgns._JIT`."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.release_gil = True
            self.fastmath = cpu.FastMathOptions(True)

    folder, path = Path(__file__).parent, Path(path)
    cc = CC(MODULE)
    cc.output_dir, cc.output_file = str(path.parent), path.name
    cc.target_cpu = "host"  # as Numba's JIT; the module is built where it is installed
    saved = config.CACHE_DIR, pycc_compiler.Flags
    with tempfile.TemporaryDirectory() as cache:
        # the sources load under other names, so they must not meet the JIT's cache of them
        config.CACHE_DIR, pycc_compiler.Flags = cache, KernelFlags
        try:
            sources = {}
            for name in SOURCES:
                spec = importlib.util.spec_from_file_location(f"embedworks_aot_{name[:-3]}", folder / name)
                sources[name[:-3]] = module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            for name, (source, signature) in EXPORTS.items():
                cc.export(name, signature)(getattr(sources[source], name).py_func)
            digest = source_digest(folder)
            cc.export("source_digest", "i8()")(lambda: digest)
            cc.compile()
        finally:
            config.CACHE_DIR, pycc_compiler.Flags = saved
