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
from ...errors import APIError
from ...ids import new_id
from ...providers import Chunk, CompletionRequest, TokenUsage
from ...schemas import ChatCompletion, ChatCompletionRequest, ErrorBody
from ...telemetry import completion_span
from ...translate import prompt_tokens, to_chat_completion, to_completion_request, to_delta
from ..calls import END_OF_STREAM, CompletionCall
from ..deps import KeyDep, Services, ServicesDep, check_prompt_size, served_model

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["chat"])

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


class _Call(CompletionCall):
    """One chat completion: JSON, or ``ChatCompletionChunk`` events."""

    def __init__(
        self,
        services: Services,
        request: CompletionRequest,
        admission: Admission,
        prompt_estimate: int,
    ) -> None:
        super().__init__(services, request, admission, prompt_estimate)
        self.id = f"chatcmpl-{new_id()}"
        self.created = int(time.time())

    async def complete(self) -> ChatCompletion:
        """Call the provider once and return the whole completion."""
        completion = await self.completion()
        return to_chat_completion(
            completion, id=self.id, created=self.created, model=self.request.model
        )

    async def stream(self, *, include_usage: bool) -> EventSourceResponse:
        """Start the stream; a failure before the first chunk is still a plain HTTP error."""
        first, chunks = await self.first_chunk()
        events = self.services.lifecycle.guard_stream(
            self._events(first, chunks, include_usage=include_usage), _cut_event
        )
        return self.events_response(events, {**_STREAM_HEADERS, **self.admission.headers})

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
                            self.streamed_chars += len(chunk.text) + sum(
                                len(piece.arguments) for piece in chunk.tool_calls or ()
                            )
                            yield self._event([{"index": 0, "delta": to_delta(chunk)}])
                        if chunk.finish_reason is not None:
                            break
                        provider_deadline.reschedule(loop.time() + self.timeout)
                        chunk = await anext(chunks, END_OF_STREAM)
                        provider_deadline.reschedule(None)
                finish_reason = chunk.finish_reason
                usage = chunk.usage or TokenUsage(
                    prompt_tokens=self.prompt_estimate,
                    completion_tokens=(self.streamed_chars + 3) // 4,
                )
                yield self._event([{"index": 0, "delta": {}, "finish_reason": finish_reason}])
                await self.charged(usage, span, finish_reason)
                if include_usage:
                    yield self._event([], usage=usage)
                yield _DONE
            except Exception as error:
                failure = await self.failed(error)
                yield format_sse_event(data_str=failure.body().model_dump_json())
            finally:
                await self.finish()


def _cut_event() -> bytes:
    """Return the terminal event of a stream cut at the shutdown deadline."""
    error = APIError(
        503, "the service is shutting down; retry the request", type="api_error", code="shutdown"
    )
    return format_sse_event(data_str=error.body().model_dump_json())
