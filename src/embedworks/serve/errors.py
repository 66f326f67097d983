"""Every failure as a JSON body `{"error": {"type", "message"}}` with a 4xx status (5xx only for bugs).

embedworks' exceptions map centrally: an unknown key → 404 ``unknown_key``, a wrong dimension
→ 422 ``dimension_mismatch``, unusable input → 422 ``invalid_input``, an operation the resource
does not offer → 400 ``unsupported_operation``, a missing optional dependency → 503.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import (DimensionError, EmbedworksError, FormatError, InvalidInputError, MissingExtraError,
                      UnknownKeyError)
from .resources import UnsupportedOperation

logger = logging.getLogger(__name__)

#: exception class → (status, type); the first match in this order wins
_MAPPING = [(UnknownKeyError, 404, "unknown_key"), (DimensionError, 422, "dimension_mismatch"),
            (UnsupportedOperation, 400, "unsupported_operation"), (MissingExtraError, 503, "missing_dependency"),
            (FormatError, 422, "unreadable_input"), (InvalidInputError, 422, "invalid_input"),
            (EmbedworksError, 400, "bad_request")]

_HTTP_TYPES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               413: "payload_too_large", 415: "unsupported_media_type"}


class ServiceError(Exception):
    """A failure the service reports as it is: `status`, `type` and `message`."""

    def __init__(self, status: int, type_: str, message: str):
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


def error_response(status: int, type_: str, message: str, details=None) -> JSONResponse:
    error = {"type": type_, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status)


def _validation_details(exc: RequestValidationError) -> list[dict]:
    details = []
    for error in exc.errors():
        details.append({"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "")),
                        "type": str(error.get("type", ""))})
    return jsonable_encoder(details)


def install(app: FastAPI) -> None:
    """Register the handlers that give every failure its JSON error body."""

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        return error_response(exc.status, exc.type, exc.message)

    @app.exception_handler(EmbedworksError)
    async def embedworks_error(request: Request, exc: EmbedworksError):
        status, type_ = next((s, t) for cls, s, t in _MAPPING if isinstance(exc, cls))
        message = exc.args[0] if exc.args else str(exc)
        return error_response(status, type_, str(message))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        details = _validation_details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(400, "malformed_json", "the request body is not valid JSON", details)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"][1:] if first["loc"][:1] == ["body"] else first["loc"]) or "request"
        return error_response(422, "validation_error", f"{where}: {first['msg']}", details)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        type_ = _HTTP_TYPES.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, type_, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        logger.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error (logged)")
