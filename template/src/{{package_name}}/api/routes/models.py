"""The models this service offers."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...schemas import Model, ModelList
from ..deps import services_of


def add_routes(router: APIRouter) -> None:
    """Add ``GET /v1/models`` to the app's router."""
    router.add_api_route("/v1/models", list_models, methods=["GET"], tags=["models"])


async def list_models(request: Request) -> ModelList:
    """List the default model of the configured provider."""
    services = services_of(request)
    model = Model(id=services.settings.default_model, owned_by=services.provider.name)
    return ModelList(data=[model])
