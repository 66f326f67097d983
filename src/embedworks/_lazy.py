"""Package attributes that import their module on first use (PEP 562), so that importing a package
loads only what a program touches: ``from embedworks.learn import Word2Vec`` imports neither
torch nor SciPy, and no Numba when Word2Vec's kernels are compiled (see learn/_aot.py)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_attributes(package: str, modules: dict[str, str], before: Callable[[], None] | None = None):
    """(`__getattr__`, `__dir__`) for `package`, whose attribute ``name`` lives in the module
    ``modules[name]`` (relative to the package); `before()` runs before the first import of one
    (e.g. a check that an optional extra is installed)."""

    def __getattr__(name: str):
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if before is not None:
            before()
        value = getattr(importlib.import_module(modules[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(modules))

    return __getattr__, __dir__
