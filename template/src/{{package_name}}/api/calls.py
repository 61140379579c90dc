"""One provider call as every route makes it: timeout, budget settlement, failures, metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from fastapi.sse import EventSourceResponse
from starlette.types import Receive, Scope, Send

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
    close_stream,
)
from ..telemetry import CompletionSpan, completion_span
from .deps import Services

logger = logging.getLogger(__name__)

END_OF_STREAM = Chunk(finish_reason="stop")


def provider_call(services: Services) -> None:
    """Count a provider call a route starts (``llm_provider_calls_total``)."""
    services.metrics.provider_calls.add(services.provider.name)


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
    Whatever happens, the admission is settled once: with the usage when the call ends,
    released when it failed or was cancelled before the provider answered, and charged
    for the prompt and what was streamed once the provider had started answering.
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
        self.streamed_chars = 0  # what the client was sent of the reply, counted by the route
        self._stream: AsyncIterator[Chunk] | None = None  # once the provider answered
        self._settled = False

    async def failed(self, error: Exception) -> APIError:
        """Settle a failed call and map the failure."""
        await self.finish()
        return provider_failure(self.services, error)

    async def charged(self, usage: TokenUsage, span: CompletionSpan, finish_reason: str) -> None:
        """Settle the budget with the real usage and record it."""
        self._settled = True
        await self.services.budget.settle(self.admission, usage.total_tokens)
        self.services.metrics.tokens.add(
            self.request.model, prompt=usage.prompt_tokens, completion=usage.completion_tokens
        )
        span.record(usage, finish_reason)

    async def finish(self) -> None:
        """Close the stream and settle what no usage settled; a second call does nothing.

        A stream that failed, was cut or that the client left is charged for its prompt
        and what was streamed; a call the provider never answered costs nothing.
        """
        stream, self._stream = self._stream, None
        if stream is not None:
            await close_stream(stream)
        if self._settled:
            return
        self._settled = True
        if stream is None:
            await self.services.budget.release(self.admission)
        else:
            partial = self.prompt_estimate + (self.streamed_chars + 3) // 4
            await self.services.budget.settle(self.admission, partial)

    async def completion(self) -> Completion:
        """Call the provider once, under the timeout, and settle the budget."""
        with completion_span(self.services.provider.name, self.request) as span:
            provider_call(self.services)
            try:
                async with asyncio.timeout(self.timeout):
                    completion = await self.services.provider.complete(self.request)
            except Exception as error:
                raise await self.failed(error) from error
            except asyncio.CancelledError:  # the server's deadline: nothing to answer
                await self.finish()
                raise
            await self.charged(completion.usage, span, completion.finish_reason)
        return completion

    async def first_chunk(self) -> tuple[Chunk, AsyncIterator[Chunk]]:
        """Open the stream and wait for its first chunk: a failure is still a plain error."""
        provider_call(self.services)
        chunks = aiter(self.services.provider.stream(self.request))
        try:
            async with asyncio.timeout(self.timeout):
                first = await anext(chunks, END_OF_STREAM)
        except BaseException as error:
            await close_stream(chunks)
            if isinstance(error, Exception):
                raise await self.failed(error) from error
            await self.finish()
            raise
        self._stream = chunks
        return first, chunks

    def events_response(
        self, events: AsyncIterator[bytes], headers: dict[str, str]
    ) -> EventSourceResponse:
        """Return the stream's response, which settles the call however it ends."""
        return _CallEvents(self, events, headers)


class _CallEvents(EventSourceResponse):
    """Server-sent events that settle their call when the response ends.

    A client gone before the first event cancels the response before its body starts,
    so the body's own ``finally`` never runs: this one does.
    """

    def __init__(
        self, call: CompletionCall, events: AsyncIterator[bytes], headers: dict[str, str]
    ) -> None:
        super().__init__(events, headers=headers)
        self.call = call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.call.finish()
