"""Request and response bodies of ``POST /v1/embeddings``, as OpenAI's API has them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# OpenAI's limits: at most 2048 inputs a request, 8192 tokens an input, 300,000 in all.
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000


class EmbeddingCreateRequest(BaseModel):
    """Body of ``POST /v1/embeddings``.

    ``input`` is a text or a list of texts; token arrays (lists of integers) are
    accepted by the schema so that refusing them names the field, and refused by the
    route: providers other than OpenAI take text only.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    input: str | list[str] | list[int] | list[list[int]]
    model: str = Field(min_length=1, max_length=256)
    dimensions: Annotated[int, Field(ge=1, le=16_384)] | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = Field(default=None, max_length=256)


class Embedding(BaseModel):
    """One vector: a list of floats, or its little-endian float32 bytes in base64."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    """Tokens the inputs counted for (embeddings have no completion tokens)."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    """Body of a ``POST /v1/embeddings`` response."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
