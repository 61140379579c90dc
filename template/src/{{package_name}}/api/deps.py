"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..budget import TokenBudget
from ..config import Settings
from ..errors import APIError
from ..lifecycle import Lifecycle
from ..metrics import Metrics
from ..providers import Provider


@dataclass
class Services:
    """What the routers need, built once per app."""

    settings: Settings
    provider: Provider
    budget: TokenBudget
    metrics: Metrics
    lifecycle: Lifecycle
    key_digests: tuple[bytes, ...]


def get_services(request: Request) -> Services:
    """Return the app's services."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="One of the keys in API_KEYS.")


def digest(key: str) -> bytes:
    """Return the SHA-256 digest of a key (keys are compared and identified by digest)."""
    return hashlib.sha256(key.encode()).digest()


def require_api_key(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Check the bearer key in constant time; return a non-secret id of the key."""
    if not services.settings.auth_enabled:
        key_id = "anonymous"
    else:
        presented = digest(credentials.credentials) if credentials else b""
        matched = False
        for candidate in services.key_digests:
            matched |= hmac.compare_digest(candidate, presented)
        if not matched:
            raise APIError(
                401,
                "missing or invalid API key",
                type="authentication_error",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key_id = presented.hex()[:12]
    request.state.key_id = key_id
    return key_id


ApiKeyDep = Annotated[str, Depends(require_api_key)]
