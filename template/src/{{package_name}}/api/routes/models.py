"""The models this service offers."""

from __future__ import annotations

from fastapi import APIRouter

from ...schemas import Model, ModelList
from ..deps import CallerDep


def add_routes(router: APIRouter) -> None:
    """Add ``GET /v1/models`` to the app's router."""
    router.add_api_route("/v1/models", list_models, methods=["GET"], tags=["models"])


async def list_models(caller: CallerDep) -> ModelList:
    """List the default model of the configured provider."""
    services = caller.services
    model = Model(id=services.settings.default_model, owned_by=services.provider.name)
    return ModelList(data=[model])
