"""``POST /v1/embeddings``: vectors from the provider, charged to the token budgets."""

from __future__ import annotations

import asyncio
import base64
import logging
import struct
from typing import Any

from fastapi import APIRouter, Response

from ...errors import APIError
from ...providers import EmbeddingRequest, ProviderError, estimate_tokens
from ...schemas import ErrorBody
from ...schemas.embeddings import (
    MAX_INPUT_TOKENS,
    MAX_INPUTS,
    MAX_REQUEST_TOKENS,
    Embedding,
    EmbeddingCreateRequest,
    EmbeddingList,
    EmbeddingUsage,
)
from ..calls import provider_call, provider_failure
from ..deps import KeyDep, ServicesDep, served_embedding_model

logger = logging.getLogger(__name__)

router = APIRouter(tags=["embeddings"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 404, 429, 502, 504)
}


def _invalid(message: str, param: str) -> APIError:
    return APIError(400, message, type="invalid_request_error", code="invalid_value", param=param)


def texts_of(body: EmbeddingCreateRequest) -> tuple[list[str], int]:
    """Return the texts to embed and their token estimate, or refuse the input (400)."""
    inputs = [body.input] if isinstance(body.input, str) else body.input
    if not inputs:
        raise _invalid("input must not be empty", "input")
    if len(inputs) > MAX_INPUTS:
        raise _invalid(f"input has more than {MAX_INPUTS} items", "input")
    texts: list[str] = []
    tokens = 0
    for index, text in enumerate(inputs):
        param = "input" if isinstance(body.input, str) else f"input[{index}]"
        if not isinstance(text, str):
            # Token ids are tokenizer-specific: only OpenAI's models could read them.
            raise _invalid("token arrays are not supported; send the input as text", "input")
        if not text:
            raise _invalid("input must not be an empty string", param)
        text_tokens = estimate_tokens(text)
        if text_tokens > MAX_INPUT_TOKENS:
            raise _invalid(f"input is longer than {MAX_INPUT_TOKENS} tokens", param)
        tokens += text_tokens
        texts.append(text)
    if tokens > MAX_REQUEST_TOKENS:
        raise _invalid(f"the inputs are longer than {MAX_REQUEST_TOKENS} tokens in all", "input")
    return texts, tokens


def encode_base64(vector: list[float]) -> str:
    """Return a vector as OpenAI sends it with ``encoding_format=base64``.

    Little-endian float32 values, base64-encoded: the ``openai`` client decodes them
    with ``numpy.frombuffer(..., dtype="float32")`` (or ``array.array("f")``).
    """
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


@router.post("/v1/embeddings", response_model=EmbeddingList, responses=_ERRORS)
async def create_embeddings(
    body: EmbeddingCreateRequest, services: ServicesDep, key_id: KeyDep, response: Response
) -> EmbeddingList:
    """Create embeddings of one text or a list of texts."""
    model = served_embedding_model(body.model, services.settings)
    texts, prompt_estimate = texts_of(body)
    admission = await services.budget.admit(
        key_id,
        prompt_tokens=prompt_estimate,
        max_completion_tokens=0,
        # UTF-8 bytes bound the tokens of any byte-level BPE tokenizer (STRICT_BUDGETS).
        prompt_upper_bound=sum(len(text.encode()) for text in texts)
        if services.settings.strict_budgets
        else None,
    )
    request = EmbeddingRequest(
        model=model, inputs=texts, dimensions=body.dimensions, user=body.user
    )
    provider_call(services)
    try:
        async with asyncio.timeout(services.settings.provider_timeout_seconds):
            result = await services.provider.embed(request)
        if len(result.vectors) != len(texts):
            raise ProviderError(
                f"the provider returned {len(result.vectors)} vectors for {len(texts)} inputs"
            )
    except Exception as error:
        await services.budget.release(admission)
        raise provider_failure(services, error) from error
    except asyncio.CancelledError:  # the server's deadline: nothing to answer
        await services.budget.release(admission)
        raise
    await services.budget.settle(admission, result.prompt_tokens)
    services.metrics.tokens.add(model, prompt=result.prompt_tokens, completion=0)
    response.headers.update(admission.headers)
    encode = encode_base64 if body.encoding_format == "base64" else list
    return EmbeddingList(
        data=[
            Embedding(index=index, embedding=encode(vector))
            for index, vector in enumerate(result.vectors)
        ],
        model=model,
        usage=EmbeddingUsage(prompt_tokens=result.prompt_tokens, total_tokens=result.prompt_tokens),
    )
