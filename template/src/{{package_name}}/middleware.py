"""Request id, API-key check, access log and HTTP metrics as one pure ASGI middleware."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import API_PREFIX, ApiKeys
from .errors import APIError, error_response
from .ids import new_id
from .logs import request_id_var
from .metrics import Metrics

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.encode()
UNTRACKED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_logger = logging.getLogger("access")


class RequestContextMiddleware:
    """Give each request an id, check its key, count it, time it and log it when it ends.

    One middleware and no per-request task: each layer and each FastAPI dependency on
    the path of every request costs tens of microseconds.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics, api_keys: ApiKeys) -> None:
        self.app = app
        self.http = metrics.http
        self.api_keys = api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or new_id()
        token = request_id_var.set(request_id)
        status = 500
        header = (_REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        path = _route_path(scope)
        tracked = path not in UNTRACKED_PATHS
        key_id = None
        if tracked:
            self.http.in_flight += 1
        start = time.perf_counter()
        try:
            if path.startswith(API_PREFIX):
                key_id = self.api_keys.key_id(scope["headers"])
                if key_id is None:
                    await _refused(scope, receive, send_with_id)
                    return
                scope.setdefault("state", {})["key_id"] = key_id
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            if tracked:
                self.http.in_flight -= 1
            route = getattr(scope.get("route"), "path", "unmatched")
            method: str = scope["method"]
            self.http.observe(method, route, status, elapsed)
            if tracked or status >= 500:
                access_logger.info(
                    "request",
                    extra={
                        "fields": {
                            "method": method,
                            "route": route,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 2),
                            "key_id": key_id,
                        }
                    },
                )
            request_id_var.reset(token)


async def _refused(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 401 in the API's error shape, before routing."""
    error = APIError(
        401,
        "missing or invalid API key",
        type="authentication_error",
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )
    await error_response(error)(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """Return the path the router matches: without the root path the app is served under.

    Servers put the root path (``--root-path``, a proxy's prefix) in front of ``path``;
    checking the full path for the API prefix would let ``/prefix/v1/...`` through.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path) :].startswith("/"):
        return path[len(root_path) :]
    return path


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            return candidate if _VALID_REQUEST_ID.fullmatch(candidate) else None
    return None
