"""``POST /v1/chat/completions``: JSON or server-sent events, within budgets and timeouts."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic_core import to_json

from ...budget import Admission
from ...errors import APIError, from_provider_error
from ...ids import new_id
from ...providers import Chunk, CompletionRequest, ProviderError, ProviderTimeoutError, TokenUsage
from ...schemas import ChatCompletion, ChatCompletionRequest, ErrorBody
from ...telemetry import CompletionSpan, completion_span
from ...translate import prompt_tokens, to_chat_completion, to_completion_request, to_delta
from ..deps import KeyDep, Services, ServicesDep, check_prompt_size, served_model

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["chat"])

_END_OF_STREAM = Chunk(finish_reason="stop")
_DONE = format_sse_event(data_str="[DONE]")
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 413, 429, 502, 504)
}
_STREAMED = {
    "description": "With `stream: true`: `ChatCompletionChunk` events, then `[DONE]`.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**_ERRORS, 200: _STREAMED},
)
async def create_chat_completion(
    body: ChatCompletionRequest, services: ServicesDep, key_id: KeyDep, response: Response
) -> ChatCompletion | EventSourceResponse:
    """Create a chat completion, streamed as server-sent events when ``stream`` is true."""
    settings = services.settings
    requested = body.max_completion_tokens or body.max_tokens or settings.default_max_tokens
    request = to_completion_request(
        body, model=served_model(body.model, settings), max_tokens=requested
    )
    prompt_estimate = prompt_tokens(request)
    check_prompt_size(prompt_estimate, settings)
    admission = await services.budget.admit(
        key_id,
        prompt_tokens=prompt_estimate,
        max_completion_tokens=requested,
        prompt_upper_bound=prompt_tokens(request, upper_bound=True)
        if settings.strict_budgets
        else None,
    )
    request = dataclasses.replace(request, max_tokens=admission.max_completion_tokens)
    call = _Call(services, request, admission, prompt_estimate)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return await call.stream(include_usage=include_usage)
    response.headers.update(admission.headers)
    return await call.complete()


class _Call:
    """One completion call: provider, timeout, budget settlement, metrics and tracing."""

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
        self.id = f"chatcmpl-{new_id()}"
        self.created = int(time.time())

    async def _failed(self, error: Exception) -> APIError:
        """Release the reservation, count the failure, map it to the API's error.

        Anything an adapter raises is a failed call: a transport error or a parser error
        that escaped it must not become a 500, an aborted stream or a leaked reservation.
        """
        await self.services.budget.release(self.admission)
        timeout = isinstance(error, (TimeoutError, ProviderTimeoutError))
        if timeout:
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
        if timeout and not isinstance(error, ProviderTimeoutError):
            error = ProviderTimeoutError()
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

    async def complete(self) -> ChatCompletion:
        """Call the provider once and return the whole completion."""
        with completion_span(self.services.provider.name, self.request) as span:
            try:
                async with asyncio.timeout(self.timeout):
                    completion = await self.services.provider.complete(self.request)
            except Exception as error:
                raise await self._failed(error) from error
            await self._charged(completion.usage, span, completion.finish_reason)
        return to_chat_completion(
            completion, id=self.id, created=self.created, model=self.request.model
        )

    async def stream(self, *, include_usage: bool) -> EventSourceResponse:
        """Start the stream; a failure before the first chunk is still a plain HTTP error."""
        chunks = aiter(self.services.provider.stream(self.request))
        try:
            async with asyncio.timeout(self.timeout):
                first = await anext(chunks, _END_OF_STREAM)
        except Exception as error:
            await _close(chunks)
            raise await self._failed(error) from error
        events = self.services.lifecycle.guard_stream(
            self._events(first, chunks, include_usage=include_usage), _cut_event
        )
        return EventSourceResponse(events, headers={**_STREAM_HEADERS, **self.admission.headers})

    def _event(self, choices: list[dict[str, Any]], usage: TokenUsage | None = None) -> bytes:
        """Return one server-sent event: a ``ChatCompletionChunk`` without its null fields.

        Built as a dictionary and encoded by pydantic-core rather than as the model: a
        stream has hundreds of these, and building the models cost 10 % more CPU per
        streamed request on the proxy path (docs/performance.md). The tests check every
        kind of event against ``ChatCompletionChunk``.
        """
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.request.model,
            "choices": choices,
        }
        if usage is not None:
            chunk["usage"] = {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            }
        # What format_sse_event writes for data without line breaks (JSON has none).
        return b"data: " + to_json(chunk) + b"\n\n"

    async def _events(
        self, first: Chunk, chunks: AsyncIterator[Chunk], *, include_usage: bool
    ) -> AsyncIterator[bytes]:
        """Yield server-sent events; a failure mid-stream ends it with an error event."""
        streamed_chars = 0
        settled = False
        with completion_span(self.services.provider.name, self.request) as span:
            try:
                yield self._event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
                chunk = first
                loop = asyncio.get_running_loop()
                # One timeout for the stream, armed only while the provider is awaited
                # (never while the client reads an event).
                async with asyncio.timeout(None) as provider_deadline:
                    while True:
                        if chunk.text or chunk.tool_calls:
                            streamed_chars += len(chunk.text) + sum(
                                len(piece.arguments) for piece in chunk.tool_calls or ()
                            )
                            yield self._event([{"index": 0, "delta": to_delta(chunk)}])
                        if chunk.finish_reason is not None:
                            break
                        provider_deadline.reschedule(loop.time() + self.timeout)
                        chunk = await anext(chunks, _END_OF_STREAM)
                        provider_deadline.reschedule(None)
                finish_reason = chunk.finish_reason
                usage = chunk.usage or TokenUsage(
                    prompt_tokens=self.prompt_estimate,
                    completion_tokens=(streamed_chars + 3) // 4,
                )
                yield self._event([{"index": 0, "delta": {}, "finish_reason": finish_reason}])
                await self._charged(usage, span, finish_reason)
                settled = True
                if include_usage:
                    yield self._event([], usage=usage)
                yield _DONE
            except Exception as error:
                settled = True
                failure = await self._failed(error)
                yield format_sse_event(data_str=failure.body().model_dump_json())
            finally:
                await _close(chunks)
                if not settled:
                    # The client went away: charge what the provider produced until then.
                    partial = TokenUsage(self.prompt_estimate, (streamed_chars + 3) // 4)
                    await self.services.budget.settle(self.admission, partial.total_tokens)


def _cut_event() -> bytes:
    """Return the terminal event of a stream cut at the shutdown deadline."""
    error = APIError(
        503, "the service is shutting down; retry the request", type="api_error", code="shutdown"
    )
    return format_sse_event(data_str=error.body().model_dump_json())


async def _close(chunks: AsyncIterator[Chunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
