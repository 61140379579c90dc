"""The models this service offers."""

from __future__ import annotations

from fastapi import APIRouter

from ...schemas import Model, ModelList
from ..deps import CallerDep

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models")
async def list_models(caller: CallerDep) -> ModelList:
    """List the default model of the configured provider."""
    services = caller.services
    model = Model(id=services.settings.default_model, owned_by=services.provider.name)
    return ModelList(data=[model])
