"""The models this service offers."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...errors import APIError
from ...schemas import ErrorBody, Model, ModelList
from ..deps import services_of


def add_routes(router: APIRouter) -> None:
    """Add ``GET /v1/models`` and ``GET /v1/models/{model_id}`` to the app's router."""
    router.add_api_route("/v1/models", list_models, methods=["GET"], tags=["models"])
    router.add_api_route(
        # ``:path``: model ids may hold slashes (``meta-llama/Llama-3.1-8B-Instruct``).
        "/v1/models/{model_id:path}",
        retrieve_model,
        methods=["GET"],
        tags=["models"],
        responses={404: {"model": ErrorBody}},
    )


def _served_models(request: Request) -> list[Model]:
    services = services_of(request)
    return [Model(id=services.settings.default_model, owned_by=services.provider.name)]


async def list_models(request: Request) -> ModelList:
    """List the default model of the configured provider."""
    return ModelList(data=_served_models(request))


async def retrieve_model(model_id: str, request: Request) -> Model:
    """Return one model the service serves; 404 ``model_not_found`` for any other."""
    for model in _served_models(request):
        if model.id == model_id:
            return model
    raise APIError(
        404,
        f"The model '{model_id}' does not exist or is not served here",
        type="invalid_request_error",
        code="model_not_found",
        param="model",
    )
