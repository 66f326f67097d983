"""Build step beyond pyproject.toml: Word2Vec's kernels compiled ahead of time (src/embedworks/learn/_aot.py).

The extension is optional: without Numba's AOT compiler or a C compiler the build warns and the
package uses the same kernels through Numba's JIT.
"""

import importlib.util
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError

ROOT = Path(__file__).resolve().parent


def load_aot():
    """src/embedworks/learn/_aot.py, loaded by path (embedworks itself is not importable here)."""
    spec = importlib.util.spec_from_file_location("embedworks_aot", ROOT / "src/embedworks/learn/_aot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildExt(build_ext):
    """Builds the kernel module with numba.pycc instead of a C compiler run over sources."""

    def build_extension(self, ext):
        try:
            load_aot().build(self.get_ext_fullpath(ext.name))
        except Exception as error:  # optional extension: setuptools warns and goes on
            raise CompileError(f"could not compile Word2Vec's kernels ahead of time: {error}") from error


aot = load_aot()
kernels = Extension(f"embedworks.learn.{aot.MODULE}", sources=[], optional=True,
                    depends=[f"src/embedworks/learn/{name}" for name in aot.SOURCES])
setup(ext_modules=[kernels], cmdclass={"build_ext": BuildExt})
