"""The models this service offers."""

from __future__ import annotations

from fastapi import APIRouter

from ...schemas import Model, ModelList
from ..deps import ServicesDep

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", response_model=ModelList)
async def list_models(services: ServicesDep) -> ModelList:
    """List the models the service serves (``DEFAULT_MODEL`` and ``SERVED_MODELS``)."""
    owner = services.provider.name
    return ModelList(data=[Model(id=model, owned_by=owner) for model in services.settings.models])
