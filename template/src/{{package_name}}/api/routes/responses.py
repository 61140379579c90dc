"""``POST /v1/responses``: OpenAI's Responses API on the same providers, budgets and timeouts.

``responses_bridge`` turns the request into a neutral ``CompletionRequest`` and the
result into a ``response`` object or its stream events; this module calls the
provider within the budgets, as the chat route does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic_core import to_json

from ...budget import Admission
from ...errors import APIError, from_provider_error
from ...providers import Chunk, CompletionRequest, ProviderError, ProviderTimeoutError, TokenUsage
from ...responses_bridge import (
    ResponseBuilder,
    ResponseEvents,
    completion_request,
    messages_of,
    refuse_unsupported,
)
from ...schemas import ErrorBody
from ...schemas.responses import ResponseCreateRequest, ResponseObject
from ...telemetry import CompletionSpan, completion_span
from ...translate import prompt_tokens
from ..deps import KeyDep, Services, ServicesDep, check_prompt_size, served_model

logger = logging.getLogger(__name__)

router = APIRouter(tags=["responses"])

_END_OF_STREAM = Chunk(finish_reason="stop")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 429, 502, 504)
}


@router.post(
    "/v1/responses",
    response_model=ResponseObject,
    responses={
        **_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or events with stream"},
    },
)
async def create_response(
    body: ResponseCreateRequest, services: ServicesDep, key_id: KeyDep
) -> Response:
    """Create a model response, streamed as server-sent events when ``stream`` is true."""
    refuse_unsupported(body)
    messages = messages_of(body)
    model = served_model(body.model, services.settings)
    requested = body.max_output_tokens or services.settings.default_max_tokens
    draft = completion_request(body, messages, model=model, max_tokens=requested)
    estimate = prompt_tokens(draft)
    check_prompt_size(estimate, services.settings, param="input")
    admission = await services.budget.admit(
        key_id,
        prompt_tokens=estimate,
        max_completion_tokens=requested,
        prompt_upper_bound=prompt_tokens(draft, upper_bound=True)
        if services.settings.strict_budgets
        else None,
    )
    # The completion is capped to what the budgets have left.
    request = dataclasses.replace(draft, max_tokens=admission.max_completion_tokens)
    call = _Call(services, request, admission, estimate, ResponseBuilder(body, model=model))
    if body.stream:
        return await call.stream()
    return await call.complete()


class _Call:
    """One provider call for a response: timeout, budget settlement, metrics."""

    def __init__(
        self,
        services: Services,
        request: CompletionRequest,
        admission: Admission,
        prompt_estimate: int,
        builder: ResponseBuilder,
    ) -> None:
        self.services = services
        self.request = request
        self.admission = admission
        self.prompt_estimate = prompt_estimate
        self.builder = builder
        self.timeout = services.settings.provider_timeout_seconds

    async def _failed(self, error: Exception) -> APIError:
        """Release the reservation, count the failure, and return the API error it becomes."""
        await self.services.budget.release(self.admission)
        if isinstance(error, TimeoutError):
            error = ProviderTimeoutError()
        if isinstance(error, ProviderTimeoutError):
            kind = "timeout"
        elif isinstance(error, ProviderError):
            kind = "error"
        else:
            kind = "unexpected"  # a bug in the adapter: logged with its traceback
        provider = self.services.provider.name
        self.services.metrics.provider_errors.labels(provider=provider, kind=kind).inc()
        logger.warning(
            "provider call failed",
            extra={"fields": {"kind": kind, "error": f"{type(error).__name__}: {error}"}},
            exc_info=error if kind == "unexpected" else None,
        )
        if isinstance(error, ProviderError):
            return from_provider_error(error)
        return APIError(502, "the model provider failed", type="api_error", code="provider_error")

    async def _charged(self, usage: TokenUsage, span: CompletionSpan, finish_reason: str) -> None:
        """Settle the budget with the real usage and record it."""
        await self.services.budget.settle(self.admission, usage.total_tokens)
        self.services.metrics.tokens.add(
            self.request.model, prompt=usage.prompt_tokens, completion=usage.completion_tokens
        )
        span.record(usage, finish_reason)

    async def complete(self) -> Response:
        """Call the provider once and return the whole response."""
        with completion_span(self.services.provider.name, self.request) as span:
            try:
                async with asyncio.timeout(self.timeout):
                    completion = await self.services.provider.complete(self.request)
            except Exception as error:
                raise await self._failed(error) from error
            await self._charged(completion.usage, span, completion.finish_reason)
        response = self.builder.completed(completion)
        return JSONResponse(
            response.model_dump(mode="json", by_alias=True), headers=self.admission.headers
        )

    async def stream(self) -> Response:
        """Start the stream; a failure before the first chunk is still a plain HTTP error."""
        chunks = aiter(self.services.provider.stream(self.request))
        try:
            async with asyncio.timeout(self.timeout):
                first = await anext(chunks, _END_OF_STREAM)
        except Exception as error:
            await _close(chunks)
            raise await self._failed(error) from error
        events = ResponseEvents(self.builder)

        def cut() -> bytes:
            # The terminal event of a stream still open at the shutdown deadline.
            return _encode(events.error("shutdown", "the service is shutting down; retry"))

        stream = self.services.lifecycle.guard_stream(self._events(events, first, chunks), cut)
        return EventSourceResponse(stream, headers={**_SSE_HEADERS, **self.admission.headers})

    async def _events(
        self, events: ResponseEvents, first: Chunk, chunks: AsyncIterator[Chunk]
    ) -> AsyncIterator[bytes]:
        """Yield the response's events; a failure mid-stream ends it with ``response.failed``."""
        settled = False
        with completion_span(self.services.provider.name, self.request) as span:
            try:
                for event in events.start():
                    yield _encode(event)
                chunk = first
                loop = asyncio.get_running_loop()
                # One timeout for the stream, armed only while the provider is awaited
                # (never while the client reads an event), as in the chat route.
                async with asyncio.timeout(None) as provider_deadline:
                    while True:
                        batch = events.text(chunk.text) if chunk.text else []
                        for delta in chunk.tool_calls or ():
                            batch += events.tool_call(delta)
                        for event in batch:
                            yield _encode(event)
                        if chunk.finish_reason is not None:
                            break
                        provider_deadline.reschedule(loop.time() + self.timeout)
                        chunk = await anext(chunks, _END_OF_STREAM)
                        provider_deadline.reschedule(None)
                finish_reason = chunk.finish_reason or "stop"
                usage = chunk.usage or TokenUsage(
                    self.prompt_estimate, (events.streamed_chars + 3) // 4
                )
                await self._charged(usage, span, finish_reason)
                settled = True
                for event in events.finish(finish_reason, usage):
                    yield _encode(event)
            except Exception as error:
                settled = True
                for event in events.fail(await self._failed(error)):
                    yield _encode(event)
            finally:
                await _close(chunks)
                if not settled:
                    # The client went away: charge what the provider produced until then.
                    partial = TokenUsage(self.prompt_estimate, (events.streamed_chars + 3) // 4)
                    await self.services.budget.settle(self.admission, partial.total_tokens)


def _encode(event: dict[str, Any]) -> bytes:
    """Return one server-sent event as OpenAI sends them: ``event:`` then ``data:``."""
    return format_sse_event(data_str=to_json(event).decode(), event=event["type"])


async def _close(chunks: AsyncIterator[Chunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
