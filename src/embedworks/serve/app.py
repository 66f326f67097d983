"""`create_app(resources)`: the FastAPI application behind `embedworks serve`.

Routes (all JSON unless said; errors are `{"error": {"type", "message"}}` with a 4xx status):

* ``GET /`` the web page; ``GET /projector/{name}`` the projector page of a resource (HTML)
* ``GET /health``, ``GET /metrics`` (request counts and latencies per route)
* ``GET /resources``, ``GET /resources/{name}``
* ``POST /resources/{name}/similar | analogy | search | encode | recommend``
* ``POST /resources/{name}/search/file`` and ``/encode/file`` (multipart upload)
* ``POST /resources/{name}/upsert | delete`` (collections; need ``X-API-Key`` when a key is set)
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources as package_files
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Path as PathParam, Security, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from .. import __version__
from . import errors, schemas
from .errors import ServiceError
from .middleware import BodyLimit, Recorder, Timing
from .resources import Resource, Upload, load_resources

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
KEY_HEADER = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                          description="Needed by upsert and delete when the service has an API key.")


@dataclass(frozen=True)
class Limits:
    """Bounds on one request: body bytes (uploads included), items per batch, k (or n) results,
    and the points a projector page shows (the first rows)."""

    max_body_bytes: int = 8 * 2**20
    max_batch: int = 1024
    max_k: int = 1000
    max_projector_points: int = 5000


_ERRORS = {status: {"model": schemas.ErrorBody} for status in (400, 404, 413, 422)}
_WRITE_ERRORS = {**_ERRORS, 401: {"model": schemas.ErrorBody}}
Name = Annotated[str, PathParam(description="The resource's name (see GET /resources).")]
_FILTER = TypeAdapter(schemas.Filter)


def create_app(resources, *, api_key: str | None = None, limits: Limits = Limits()) -> FastAPI:
    """The service for `resources`: a dict name → `Resource`, or resources / "name=path" specs.

    With `api_key`, the write endpoints (upsert, delete) need it in the ``X-API-Key`` header.
    """
    served: dict[str, Resource] = resources if isinstance(resources, dict) else load_resources(resources)
    recorder = Recorder()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        for served_resource in served.values():
            served_resource.close()

    app = FastAPI(title="embedworks", version=__version__, redoc_url=None, lifespan=lifespan,
                  description="Similar keys, analogies, search, encoding, recommendations and collection "
                              "writes over the embeddings, models, text indexes and collections it serves.")
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(Timing, recorder=recorder)

    def authorized(key: Annotated[str | None, Security(KEY_HEADER)] = None) -> None:
        if api_key is not None and (key is None or not secrets.compare_digest(key.encode(), api_key.encode())):
            raise ServiceError(401, "unauthorized", f"this endpoint needs a valid {API_KEY_HEADER} header")

    def resource(name: str) -> Resource:
        if name not in served:
            raise ServiceError(404, "unknown_resource", f"no resource named {name!r} (serving: "
                                                        f"{', '.join(served) or 'nothing'})")
        return served[name]

    def check_k(k: int, what: str = "k") -> int:
        if k > limits.max_k:
            raise ServiceError(422, "limit_exceeded", f"{what} is {k}, the limit is {limits.max_k}")
        return k

    def check_batch(n: int, what: str) -> None:
        if n > limits.max_batch:
            raise ServiceError(422, "limit_exceeded", f"{n} {what} in one request, the limit is {limits.max_batch}")

    def hits(name: str, found) -> dict:
        return {"resource": name, "hits": found}

    # ------------------------------------------------------------------ pages and service
    page = (package_files.files("embedworks.serve") / "page.html").read_text(encoding="utf-8")
    page = page.replace("{{VERSION}}", __version__)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    projector_pages = ProjectorCache(limits.max_projector_points)

    @app.get("/projector/{name}", response_class=HTMLResponse, responses=_ERRORS, tags=["pages"])
    def projector(name: Name) -> HTMLResponse:
        """The interactive projector (PCA) of the resource's first `max_projector_points` vectors."""
        return HTMLResponse(projector_pages.get(resource(name)))

    @app.get("/health", response_model=schemas.Health, tags=["service"])
    def health():
        return {"status": "ok", "version": __version__, "resources": len(served)}

    @app.get("/metrics", tags=["service"])
    async def metrics() -> dict:
        """Requests per route and status, and p50/p99 latency (ms) of the recent requests per route."""
        # async: read on the event loop, the thread that records, so nothing changes mid-read
        return recorder.snapshot()

    @app.get("/resources", response_model=schemas.ResourceList, tags=["resources"])
    def list_resources():
        return {"resources": [r.info() for r in served.values()]}

    @app.get("/resources/{name}", response_model=schemas.ResourceInfo, responses=_ERRORS, tags=["resources"])
    def describe(name: Name):
        return resource(name).info()

    # ------------------------------------------------------------------ queries
    @app.post("/resources/{name}/similar", response_model=schemas.Hits, responses=_ERRORS, tags=["query"])
    def similar(name: Name, body: schemas.SimilarRequest):
        """The k nearest keys to a key (never itself) or to a vector."""
        return hits(name, resource(name).similar(key=body.key, vector=body.vector, k=check_k(body.k),
                                                 metric=body.metric, filter=body.filter))

    @app.post("/resources/{name}/analogy", response_model=schemas.Hits, responses=_ERRORS, tags=["query"])
    def analogy(name: Name, body: schemas.AnalogyRequest):
        """Keys completing "negative is to positive[0] as positive[1] is to ?"."""
        check_batch(len(body.positive) + len(body.negative), "keys")
        return hits(name, resource(name).analogy(body.positive, body.negative, k=check_k(body.k),
                                                 method=body.method))

    @app.post("/resources/{name}/search", response_model=schemas.Hits, responses=_ERRORS, tags=["query"])
    def search(name: Name, body: schemas.SearchRequest):
        """The k best matches of a text (encoded as the resource's vectors were) or a vector."""
        return hits(name, resource(name).search(text=body.text, vector=body.vector, k=check_k(body.k),
                                                filter=body.filter))

    @app.post("/resources/{name}/search/file", response_model=schemas.Hits, responses=_ERRORS, tags=["query"])
    async def search_file(name: Name, file: Annotated[UploadFile, File(description="An image, audio or text file.")],
                          k: Annotated[int, Form(ge=1)] = 10,
                          filter: Annotated[str | None, Form(description="JSON metadata filter.")] = None):
        """The k best matches of an uploaded file, encoded as the resource's vectors were."""
        target, k = resource(name), check_k(k)
        upload = Upload(file.filename, await file.read())
        found = await run_in_threadpool(target.search, file=upload, k=k, filter=parse_filter(filter))
        return hits(name, found)

    @app.post("/resources/{name}/encode", response_model=schemas.Vectors, responses=_ERRORS, tags=["encode"])
    def encode(name: Name, body: schemas.EncodeRequest):
        """The vectors of texts, from the encoder that made the resource's vectors."""
        check_batch(len(body.texts), "texts")
        vectors = resource(name).encode(texts=body.texts)
        return {"resource": name, "dim": vectors.shape[1], "vectors": vectors.tolist()}

    @app.post("/resources/{name}/encode/file", response_model=schemas.Vectors, responses=_ERRORS, tags=["encode"])
    async def encode_file(name: Name, file: Annotated[UploadFile, File(description="An image, audio or text file.")]):
        """The vector of an uploaded file (image, audio or text, as the resource's encoder reads)."""
        target = resource(name)
        upload = Upload(file.filename, await file.read())
        vectors = await run_in_threadpool(target.encode, file=upload)
        return {"resource": name, "dim": vectors.shape[1], "vectors": vectors.tolist()}

    @app.post("/resources/{name}/recommend", response_model=schemas.Hits, responses=_ERRORS, tags=["query"])
    def recommend(name: Name, body: schemas.RecommendRequest):
        """The n best items for a user; `filter_seen` leaves out the items they already had."""
        return hits(name, resource(name).recommend(body.user, n=check_k(body.n, "n"), filter_seen=body.filter_seen))

    # ------------------------------------------------------------------ writes
    @app.post("/resources/{name}/upsert", response_model=schemas.WriteResult, responses=_WRITE_ERRORS,
              dependencies=[Depends(authorized)], tags=["write"])
    def upsert(name: Name, body: schemas.UpsertRequest):
        """Insert or replace keys of a collection, each with a vector or a text to encode."""
        check_batch(len(body.items), "items")
        target = resource(name)
        with_text = [item.text is not None for item in body.items]
        if any(with_text) and not all(with_text):
            raise ServiceError(422, "invalid_input", "give every item a vector, or every item a text")
        metadata = [item.metadata or {} for item in body.items]
        count = target.upsert([item.key for item in body.items],
                              vectors=None if with_text[0] else [item.vector for item in body.items],
                              texts=[item.text for item in body.items] if with_text[0] else None,
                              metadata=metadata if any(metadata) else None)
        return {"resource": name, "count": count, "size": target.size()}

    @app.post("/resources/{name}/delete", response_model=schemas.WriteResult, responses=_WRITE_ERRORS,
              dependencies=[Depends(authorized)], tags=["write"])
    def delete(name: Name, body: schemas.DeleteRequest):
        """Delete keys from a collection (unknown keys are an error; nothing is deleted then)."""
        check_batch(len(body.keys), "keys")
        target = resource(name)
        count = target.delete(body.keys)
        return {"resource": name, "count": count, "size": target.size()}

    _name_served_resources(app, sorted(served))
    return app


def _name_served_resources(app: FastAPI, names: list[str]) -> None:
    """List the served names as the `name` path parameter's enum in the OpenAPI spec."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            for operation in (op for path in generate()["paths"].values() for op in path.values()):
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path" and parameter["name"] == "name" and names:
                        parameter["schema"]["enum"] = names
        return app.openapi_schema

    app.openapi = openapi


def parse_filter(text: str | None):
    """The metadata filter a form field holds as JSON, checked like a JSON body's."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ServiceError(422, "validation_error", "filter: not valid JSON") from None
    try:
        return _FILTER.validate_python(value)
    except ValidationError as error:
        raise ServiceError(422, "validation_error", f"filter: {error.errors()[0]['msg']}") from None


class ProjectorCache:
    """Projector pages by resource, made once per resource version (PCA, 10 neighbours)."""

    def __init__(self, max_points: int):
        self.max_points = max_points
        self.pages: dict[str, tuple[int, str]] = {}
        self.lock = threading.Lock()

    def get(self, resource: Resource) -> str:
        with self.lock:
            version = resource.version()
            cached = self.pages.get(resource.name)
            if cached is None or cached[0] != version:
                self.pages[resource.name] = (version, self._make(resource))
            return self.pages[resource.name][1]

    def _make(self, resource: Resource) -> str:
        from ..visualize.projector import projector

        emb = resource.projector_embeddings(self.max_points)
        title = f"{resource.name} — {min(len(emb), self.max_points):,} points"
        with tempfile.TemporaryDirectory(prefix="embedworks-projector-") as folder:
            path = Path(folder) / "projector.html"
            projector(emb, path, methods="pca", dims=2, neighbors=min(10, max(len(emb) - 1, 0)), title=title)
            return path.read_text(encoding="utf-8")
