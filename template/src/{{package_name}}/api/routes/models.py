"""The models this service offers."""

from __future__ import annotations

from fastapi import APIRouter

from ...schemas import Model, ModelList
from ..deps import ApiKeyDep, ServicesDep

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models")
async def list_models(_: ApiKeyDep, services: ServicesDep) -> ModelList:
    """List the default model of the configured provider."""
    settings = services.settings
    return ModelList(data=[Model(id=settings.default_model, owned_by=services.provider.name)])
