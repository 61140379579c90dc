"""What the routes share: the app's services, and the caller's key id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ..auth import ApiKeys
from ..budget import Budgets
from ..config import Settings
from ..errors import APIError
from ..lifecycle import Lifecycle
from ..metrics import Metrics
from ..providers import Provider
from .security import authenticated_key


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


async def get_settings(request: Request) -> Settings:
    """Return the app's settings."""
    return services_of(request).settings


KeyDep = Annotated[str, Depends(authenticated_key)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def served_model(requested: str | None, settings: Settings) -> str:
    """Return the model to call: the requested one if served, else per ``UNKNOWN_MODEL``.

    Only served models reach the provider and the metrics' labels, so callers cannot
    pick any (expensive) model, nor grow the metrics without bound.
    """
    if requested is None or requested in settings.models:
        return requested or settings.default_model
    if settings.unknown_model == "default":
        return settings.default_model
    raise APIError(
        400,
        f"The model {requested!r} does not exist or is not served here; "
        f"served: {', '.join(settings.models)}",
        type="invalid_request_error",
        code="model_not_found",
        param="model",
    )


def served_embedding_model(requested: str, settings: Settings) -> str:
    """Return the embedding model to call, as ``served_model`` does for chat models."""
    served = settings.served_embedding_models
    if requested in served:
        return requested
    if settings.unknown_model == "default" and served:
        return served[0]
    raise APIError(
        400,
        f"The model {requested!r} does not exist or is not served here for embeddings; "
        f"served: {', '.join(served) or 'none'}",
        type="invalid_request_error",
        code="model_not_found",
        param="model",
    )


def check_prompt_size(prompt_tokens: int, settings: Settings, *, param: str = "messages") -> None:
    """Refuse a prompt longer than ``MAX_PROMPT_TOKENS`` (400 ``context_length_exceeded``)."""
    if prompt_tokens > settings.max_prompt_tokens:
        raise APIError(
            400,
            f"The prompt is about {prompt_tokens} tokens; this service takes at most "
            f"{settings.max_prompt_tokens}.",
            type="invalid_request_error",
            code="context_length_exceeded",
            param=param,
        )
