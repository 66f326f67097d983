"""The HTTP service: `create_app(resources)` (FastAPI) and `embedworks serve` (uvicorn).

    >>> from embedworks.serve import create_app, Limits
    >>> app = create_app(["words=vectors.emb", "ml=als-model/"], api_key="s3cret",   # doctest: +SKIP
    ...                  limits=Limits(max_k=100))

FastAPI, uvicorn and python-multipart come with the ``serve`` extra and are imported when one of
`create_app`, `Limits` or `serve` is first used. See docs/serve.md for the endpoints.
"""

from __future__ import annotations

import importlib

from .._lazy import lazy_attributes
from ..errors import MissingExtraError

_LAZY = {"create_app": ".app", "Limits": ".app", "load_resources": ".resources", "load_resource": ".resources"}

__all__ = [*_LAZY, "serve"]


def _require_extra() -> None:
    for module in ("fastapi", "uvicorn", "python_multipart", "threadpoolctl"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError(module.replace("_", "-"), "serve") from None


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, before=_require_extra)


def serve(resources, host: str = "127.0.0.1", port: int = 8000, *, api_key: str | None = None,
          limits=None, log_level: str = "info") -> None:
    """Serve `resources` with uvicorn until interrupted (see `create_app`).

    The service runs requests in parallel threads, so BLAS runs single-threaded in this process:
    concurrent callers of multi-threaded OpenBLAS queue behind each other (on 2 cores, 8
    concurrent `similar` requests over 100,000 vectors went from about 12 to 170 per second).
    """
    _require_extra()
    import uvicorn
    from threadpoolctl import threadpool_limits

    from .app import Limits, create_app

    app = create_app(resources, api_key=api_key, limits=limits or Limits())
    with threadpool_limits(limits=1, user_api="blas"):
        uvicorn.run(app, host=host, port=port, log_level=log_level)
