"""API errors in OpenAI's shape, and the handlers that render them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .providers.base import ProviderError
from .schemas import ErrorBody, ErrorDetail

logger = logging.getLogger(__name__)


class APIError(Exception):
    """An error the API returns to the client with a status code."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> ErrorBody:
        """Return the JSON body of the error."""
        detail = ErrorDetail(message=self.message, type=self.type, code=self.code, param=self.param)
        return ErrorBody(error=detail)


def from_provider_error(error: ProviderError) -> APIError:
    """Return the API error a failed provider call becomes.

    An upstream 4xx keeps its status and the provider's message (the client sent
    something the model refuses, and retrying will not help); 429 keeps the upstream's
    ``Retry-After``; anything else is a 502, or 504 for a timeout.
    """
    status = error.status
    if status not in (400, 401, 403, 404, 409, 413, 422, 429, 504):
        status = 502 if status >= 500 or status < 400 else 400
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return APIError(
        status,
        error.message,
        type=error.type,
        code=error.code,
        param=error.param,
        headers=headers,
    )


def error_response(error: APIError) -> JSONResponse:
    """Render an API error as a JSON response."""
    return JSONResponse(
        error.body().model_dump(), status_code=error.status_code, headers=error.headers
    )


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # A value that fits no member of a union fails once per member: the error that
    # reaches deepest into the body says most (an image part's URL, not "not a string").
    located = [
        (error_param(e.get("loc", ()), exc.body, missing=e.get("type") == "missing"), e)
        for e in exc.errors()
    ]
    param, first = max(located, key=lambda pair: len(pair[0] or ""), default=(None, None))
    message, code = (first["msg"] if first else "invalid request"), "invalid_value"
    if first is not None and first.get("type") == "extra_forbidden":
        message, code = f"Unknown parameter: {param!r}.", "unknown_parameter"  # OpenAI's words
    elif param:
        message = f"Invalid value for {param!r}: {message}"
    error = APIError(400, message, type="invalid_request_error", code=code, param=param)
    return error_response(error)


def error_param(loc: Sequence[Any], body: Any, *, missing: bool = False) -> str | None:
    """Return the request field an error is about, as OpenAI names it (``messages.0.content``).

    pydantic's locations also hold the members of unions (``str``, ``list[...]``, the
    tag of a discriminated union); only the keys and indexes found in the body stay.
    """
    parts: list[str] = []
    node = body
    path = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    for position, part in enumerate(path):
        found = (isinstance(node, dict) and isinstance(part, str) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if found:
            node = node[part]
        elif missing and position == len(path) - 1 and isinstance(part, str):
            pass  # a required field the body lacks
        else:
            continue
        parts.append(str(part))
    return ".".join(parts) or None


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 413:
        return error_response(too_large())
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    error = APIError(exc.status_code, str(exc.detail), type=kind, headers=dict(exc.headers or {}))
    return error_response(error)


def too_large() -> APIError:
    """Return the 413 of a body beyond ``MAX_REQUEST_BYTES``."""
    return APIError(
        413,
        "The request body is too large for this service (MAX_REQUEST_BYTES).",
        type="invalid_request_error",
        code="request_too_large",
    )


async def _provider_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProviderError)
    return error_response(from_provider_error(exc))


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    return error_response(APIError(500, "internal error", type="server_error"))


def register_error_handlers(app: FastAPI) -> None:
    """Render every error as an OpenAI-style JSON body."""
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ProviderError, _provider_error)
    app.add_exception_handler(Exception, _unexpected_error)
