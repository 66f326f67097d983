"""`embedworks serve`: the HTTP service and its web page over embeddings, models, indexes and collections."""

from __future__ import annotations

import logging

import typer

from . import app, err, friendly_errors

logger = logging.getLogger(__name__)


@app.command("serve")
@friendly_errors
def serve(
        resources: list[str] = typer.Argument(..., metavar="MODEL_OR_COLLECTION...",
                                              help="Embeddings files/dirs, recommender model dirs, text index dirs "
                                                   "or collection dirs (kind detected by content); name=path "
                                                   "names one (default: the file name without suffixes)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 for every interface)."),
        port: int = typer.Option(8000, "--port", help="TCP port."),
        api_key: str = typer.Option(None, "--api-key", envvar="EMBEDWORKS_API_KEY",
                                    help="Key the write endpoints (upsert, delete) require in the X-API-Key header."),
        max_body_bytes: int = typer.Option(8 * 2**20, "--max-body-bytes", help="Largest request body (uploads too)."),
        max_batch: int = typer.Option(1024, "--max-batch", help="Most texts / items / keys in one request."),
        max_k: int = typer.Option(1000, "--max-k", help="Most results one query may ask for."),
        max_projector_points: int = typer.Option(5000, "--max-projector-points",
                                                 help="Points on a projector page (the first rows)."),
        log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level.")):
    """Serve embeddings, recommenders, text indexes and collections over HTTP, with a web page at /."""
    from ..serve import Limits, load_resources
    from ..serve import serve as run

    loaded = load_resources(resources)
    if api_key is None and host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"warning: serving on {host} without --api-key: anyone who reaches it can write to collections",
                  highlight=False, markup=False)
    limits = Limits(max_body_bytes=max_body_bytes, max_batch=max_batch, max_k=max_k,
                    max_projector_points=max_projector_points)
    logger.info("serving %s on http://%s:%d", ", ".join(loaded), host, port)
    run(loaded, host=host, port=port, api_key=api_key, limits=limits, log_level=log_level)
