"""Bodies every endpoint shares: errors, token usage, models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Base of request bodies: strict like OpenAI's API.

    Strict: ``"stream": "yes"`` or ``"max_tokens": "5"`` is a 400, not a coercion.
    Unknown fields are ignored here, in the parts of a body (a message sent back may
    carry fields of the reply); a request model itself forbids them.
    """

    model_config = ConfigDict(extra="ignore", strict=True)


class Usage(BaseModel):
    """Token usage of a completion."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Model(BaseModel):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str


class ModelList(BaseModel):
    """Body of ``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[Model]


class ErrorDetail(BaseModel):
    """OpenAI-style error detail; ``param`` names the request field at fault."""

    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorBody(BaseModel):
    """OpenAI-style error body."""

    error: ErrorDetail
