"""The models this service serves."""

from __future__ import annotations

from fastapi import APIRouter

from ...errors import APIError
from ...schemas import ErrorBody, Model, ModelList
from ..deps import Services, ServicesDep

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", response_model=ModelList)
async def list_models(services: ServicesDep) -> ModelList:
    """List the served models: chat (``DEFAULT_MODEL``, ``SERVED_MODELS``), then embeddings."""
    owner = services.provider.name
    return ModelList(data=[Model(id=model, owned_by=owner) for model in _served(services)])


# ``:path``: model ids may hold slashes (``meta-llama/Llama-3.1-8B-Instruct``).
@router.get("/models/{model_id:path}", response_model=Model, responses={404: {"model": ErrorBody}})
async def retrieve_model(model_id: str, services: ServicesDep) -> Model:
    """Return one model the service serves; 404 ``model_not_found`` for any other."""
    if model_id not in _served(services):
        raise APIError(
            404,
            f"The model {model_id!r} does not exist or is not served here",
            type="invalid_request_error",
            code="model_not_found",
            param="model",
        )
    return Model(id=model_id, owned_by=services.provider.name)


def _served(services: Services) -> tuple[str, ...]:
    settings = services.settings
    return tuple(dict.fromkeys([*settings.models, *settings.served_embedding_models]))
