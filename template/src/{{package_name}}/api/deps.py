"""What the routes share: the app's services, and the caller's key id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ..auth import ApiKeys
from ..budget import Budgets
from ..config import Settings
from ..lifecycle import Lifecycle
from ..metrics import Metrics
from ..providers import Provider


@dataclass
class Services:
    """What the routers need, built once per app."""

    settings: Settings
    provider: Provider
    budget: Budgets
    metrics: Metrics
    lifecycle: Lifecycle
    api_keys: ApiKeys


def services_of(request: Request) -> Services:
    """Return the app's services."""
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """Return the app's services (``async``: FastAPI runs sync dependencies in a thread)."""
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


def key_id_of(request: Request) -> str:
    """Return the id of the caller's API key (``anonymous`` with auth off).

    For routes under ``/v1/``: the middleware checked the key before routing (see
    ``auth.py``) and left its id in the request's state.
    """
    key_id: str = request.state.key_id
    return key_id


async def get_key_id(request: Request) -> str:
    """Return the id of the caller's API key (the authenticated caller)."""
    return key_id_of(request)


async def get_settings(request: Request) -> Settings:
    """Return the app's settings."""
    return services_of(request).settings


KeyDep = Annotated[str, Depends(get_key_id)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
