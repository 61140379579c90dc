"""One provider call as every route makes it: timeout, budget settlement, failures, metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from ..budget import Admission
from ..errors import APIError, from_provider_error
from ..providers import (
    Chunk,
    Completion,
    CompletionRequest,
    ProviderError,
    ProviderTimeoutError,
    TokenUsage,
    UnsupportedError,
)
from ..telemetry import CompletionSpan, completion_span
from .deps import Services

logger = logging.getLogger(__name__)

END_OF_STREAM = Chunk(finish_reason="stop")


def provider_failure(services: Services, error: Exception) -> APIError:
    """Count and log a failed provider call; return the API error it becomes.

    Anything an adapter raises is a failed call: a transport error or a parser error
    that escaped it must not become a 500, an aborted stream or a leaked reservation.
    A request the provider cannot serve (``UnsupportedError``) is the caller's, not a
    provider failure, so it is not counted.
    """
    if isinstance(error, TimeoutError):
        error = ProviderTimeoutError()
    if isinstance(error, ProviderTimeoutError):
        kind = "timeout"
    elif isinstance(error, UnsupportedError):
        kind = "unsupported"
    elif isinstance(error, ProviderError):
        kind = "error"
    else:
        kind = "unexpected"  # a bug in the adapter: logged with its traceback
    if kind != "unsupported":
        provider = services.provider.name
        services.metrics.provider_errors.labels(provider=provider, kind=kind).inc()
    logger.warning(
        "provider call failed",
        extra={"fields": {"kind": kind, "error": f"{type(error).__name__}: {error}"}},
        exc_info=error if kind == "unexpected" else None,
    )
    if isinstance(error, ProviderError):
        return from_provider_error(error)
    return APIError(502, "the model provider failed", type="api_error", code="provider_error")


class CompletionCall:
    """A completion within its admission: what the chat and Responses routes share.

    The route subclasses it with its own response shape (JSON body, stream events).
    """

    def __init__(
        self,
        services: Services,
        request: CompletionRequest,
        admission: Admission,
        prompt_estimate: int,
    ) -> None:
        self.services = services
        self.request = request
        self.admission = admission
        self.prompt_estimate = prompt_estimate
        self.timeout = services.settings.provider_timeout_seconds

    async def failed(self, error: Exception) -> APIError:
        """Release the reservation (failed calls cost nothing) and map the failure."""
        await self.services.budget.release(self.admission)
        return provider_failure(self.services, error)

    async def charged(self, usage: TokenUsage, span: CompletionSpan, finish_reason: str) -> None:
        """Settle the budget with the real usage and record it."""
        await self.services.budget.settle(self.admission, usage.total_tokens)
        self.services.metrics.tokens.add(
            self.request.model, prompt=usage.prompt_tokens, completion=usage.completion_tokens
        )
        span.record(usage, finish_reason)

    async def charged_partly(self, streamed_chars: int) -> None:
        """Charge a stream the client left: the prompt and what was streamed until then."""
        partial = TokenUsage(self.prompt_estimate, (streamed_chars + 3) // 4)
        await self.services.budget.settle(self.admission, partial.total_tokens)

    async def completion(self) -> Completion:
        """Call the provider once, under the timeout, and settle the budget."""
        with completion_span(self.services.provider.name, self.request) as span:
            try:
                async with asyncio.timeout(self.timeout):
                    completion = await self.services.provider.complete(self.request)
            except Exception as error:
                raise await self.failed(error) from error
            await self.charged(completion.usage, span, completion.finish_reason)
        return completion

    async def first_chunk(self) -> tuple[Chunk, AsyncIterator[Chunk]]:
        """Open the stream and wait for its first chunk: a failure is still a plain error."""
        chunks = aiter(self.services.provider.stream(self.request))
        try:
            async with asyncio.timeout(self.timeout):
                first = await anext(chunks, END_OF_STREAM)
        except Exception as error:
            await close(chunks)
            raise await self.failed(error) from error
        return first, chunks


async def close(chunks: AsyncIterator[Chunk]) -> None:
    """Close a provider's stream (its adapter then closes the upstream's)."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
