"""Liveness, readiness and metrics; open to every caller, answered locally."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ...errors import APIError
from ..deps import ServicesDep

# The public router: no key needed (see api/security.py).
router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: 503 while draining, so load balancers stop sending traffic."""
    if services.lifecycle.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
async def metrics(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Prometheus metrics in the text exposition format; behind a token when one is set."""
    if request.scope.get("raw_path", b"/metrics") != b"/metrics":
        # Only the plain path: an encoded one (/%6Detrics) would slip past the load
        # balancer's rule that keeps /metrics off the public listener.
        raise APIError(404, "not found", type="not_found_error")
    token = services.settings.metrics_token
    if token is not None:
        expected = f"Bearer {token.get_secret_value()}".encode()
        if not hmac.compare_digest((authorization or "").encode(), expected):
            raise APIError(
                401,
                "missing or invalid metrics token",
                type="authentication_error",
                code="invalid_metrics_token",
                headers={"WWW-Authenticate": "Bearer"},
            )
    # Renders (reading the budget from the limit store first) or reuses a recent text.
    text = await services.metrics.exposition.render()
    return Response(text, media_type=CONTENT_TYPE_LATEST)
