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
from fastapi.sse import format_sse_event
from pydantic_core import to_json

from ...budget import Admission
from ...providers import Chunk, CompletionRequest, TokenUsage
from ...responses_bridge import (
    ResponseBuilder,
    ResponseEvents,
    completion_request,
    messages_of,
    refuse_unsupported,
)
from ...schemas import ErrorBody
from ...schemas.responses import ResponseCreateRequest, ResponseObject
from ...telemetry import completion_span
from ...translate import prompt_tokens
from ..calls import END_OF_STREAM, CompletionCall
from ..deps import KeyDep, Services, ServicesDep, check_prompt_size, served_model

logger = logging.getLogger(__name__)

router = APIRouter(tags=["responses"])

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


class _Call(CompletionCall):
    """One Responses call: a ``response`` object, or its stream events."""

    def __init__(
        self,
        services: Services,
        request: CompletionRequest,
        admission: Admission,
        prompt_estimate: int,
        builder: ResponseBuilder,
    ) -> None:
        super().__init__(services, request, admission, prompt_estimate)
        self.builder = builder

    async def complete(self) -> Response:
        """Call the provider once and return the whole response."""
        response = self.builder.completed(await self.completion())
        return JSONResponse(
            response.model_dump(mode="json", by_alias=True), headers=self.admission.headers
        )

    async def stream(self) -> Response:
        """Start the stream; a failure before the first chunk is still a plain HTTP error."""
        first, chunks = await self.first_chunk()
        events = ResponseEvents(self.builder)

        def cut() -> bytes:
            # The terminal event of a stream still open at the shutdown deadline.
            return _encode(events.error("shutdown", "the service is shutting down; retry"))

        stream = self.services.lifecycle.guard_stream(self._events(events, first, chunks), cut)
        return self.events_response(stream, {**_SSE_HEADERS, **self.admission.headers})

    async def _events(
        self, events: ResponseEvents, first: Chunk, chunks: AsyncIterator[Chunk]
    ) -> AsyncIterator[bytes]:
        """Yield the response's events; a failure mid-stream ends it with ``response.failed``."""
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
                        self.streamed_chars = events.streamed_chars
                        for event in batch:
                            yield _encode(event)
                        if chunk.finish_reason is not None:
                            break
                        provider_deadline.reschedule(loop.time() + self.timeout)
                        chunk = await anext(chunks, END_OF_STREAM)
                        provider_deadline.reschedule(None)
                finish_reason = chunk.finish_reason or "stop"
                usage = chunk.usage or TokenUsage(
                    self.prompt_estimate, (events.streamed_chars + 3) // 4
                )
                await self.charged(usage, span, finish_reason)
                for event in events.finish(finish_reason, usage):
                    yield _encode(event)
            except Exception as error:
                for event in events.fail(await self.failed(error)):
                    yield _encode(event)
            finally:
                await self.finish()


def _encode(event: dict[str, Any]) -> bytes:
    """Return one server-sent event as OpenAI sends them: ``event:`` then ``data:``."""
    return format_sse_event(data_str=to_json(event).decode(), event=event["type"])
