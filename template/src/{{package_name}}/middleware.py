"""Request id, API-key check, body limit, access log and HTTP metrics: one pure ASGI middleware."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api.security import key_check_overridden, unauthorized
from .auth import ApiKeys
from .errors import error_response, too_large
from .ids import new_id
from .logs import request_id_var
from .metrics import Metrics

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.encode()
UNTRACKED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The status logged and counted for a response the client went away from before its
# end (an aborted stream): nginx's "client closed request".
ABORTED_STATUS = 499

access_logger = logging.getLogger("access")


class RequestContextMiddleware:
    """Give each request an id, check its key and body size, count, time and log it.

    The key is checked for every path that is not public (``api/security.py``) and the
    body bounded by ``MAX_REQUEST_BYTES``, both before the body is read. One middleware
    and no per-request task: each layer on the path of every request costs tens of
    microseconds.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        api_keys: ApiKeys,
        public_paths: frozenset[str],
        dependency_overrides: Mapping[Any, Any],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.http = metrics.http
        self.api_keys = api_keys
        self.public_paths = public_paths
        self.overrides = dependency_overrides

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or new_id()
        token = request_id_var.set(request_id)
        status = 500
        complete = False
        header = (_REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                complete = True
            await send(message)

        path = _route_path(scope)
        tracked = path not in UNTRACKED_PATHS
        key_id = None
        if tracked:
            self.http.in_flight += 1
        start = time.perf_counter()
        try:
            if path not in self.public_paths:
                key_id = self.api_keys.key_id(scope["headers"])
                if key_id is None and not key_check_overridden(self.overrides):
                    # Refused before routing: the body is never read.
                    await error_response(unauthorized())(scope, receive, send_with_id)
                    return
                scope.setdefault("state", {})["key_id"] = key_id
            if _content_length(scope) > self.max_body_bytes:
                await error_response(too_large())(scope, receive, send_with_id)
                return
            await self.app(scope, _bounded(receive, self.max_body_bytes), send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            if status < 500 and not complete:
                status = ABORTED_STATUS  # the client left before the end of the response
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


def _bounded(receive: Receive, limit: int) -> Receive:
    """Return ``receive`` that counts the body's bytes and stops past the limit.

    A chunked body has no length to check up front: it is counted as it arrives, and
    the route reading it gets a 413 instead of the piece past the limit. (FastAPI's own
    ``max_body_size`` answers a declared length with a plain-text 413, not OpenAI's
    shape.)
    """
    received = 0

    async def bounded_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise StarletteHTTPException(413)
        return message

    return bounded_receive


def _content_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


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
