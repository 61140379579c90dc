"""``POST /v1/chat/completions``: JSON or server-sent events, within budgets and timeouts."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from pydantic_core import to_json

from ...budget import Admission, prompt_upper_bound
from ...errors import APIError, from_provider_error
from ...ids import new_id
from ...providers import (
    Chunk,
    CompletionRequest,
    Message,
    ProviderError,
    ProviderTimeoutError,
    TokenUsage,
    estimate_tokens,
)
from ...schemas import ChatCompletion, ChatCompletionRequest, ErrorBody
from ...telemetry import CompletionSpan, completion_span
from ..deps import Services, key_id_of, services_of

logger = logging.getLogger(__name__)

_MARKER = "content-goes-here"
_END_OF_STREAM = Chunk(finish_reason="stop")
# The content of each stream event: for a lone string the json module's C encoder takes
# about half the time of pydantic-core's to_json, which encodes the rest.
_json_string = json.JSONEncoder(ensure_ascii=False).encode
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 429, 502, 504)
}


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a JSON schema with its ``$defs`` references replaced by the definitions."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_REQUEST_SCHEMA = _inline_refs(ChatCompletionRequest.model_json_schema())
_REQUEST_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}}
}


async def _parse_body(request: Request) -> ChatCompletionRequest:
    """Validate the JSON body straight from its bytes.

    pydantic-core parses and validates in one pass; FastAPI would decode the JSON with
    the ``json`` module first and then validate the Python objects, which costs more
    per request and much more for long prompts. Errors keep FastAPI's shape (``body``
    first in ``loc``), so the 400 they become reads the same.
    """
    try:
        return ChatCompletionRequest.model_validate_json(await request.body())
    except ValidationError as error:
        errors = [
            {**detail, "loc": ("body", *detail["loc"])}
            for detail in error.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


def add_routes(router: APIRouter) -> None:
    """Add ``POST /v1/chat/completions`` to the app's router."""
    router.add_api_route(
        "/v1/chat/completions",
        create_chat_completion,
        methods=["POST"],
        response_model=ChatCompletion,
        responses=_ERRORS,
        openapi_extra=_REQUEST_BODY,  # the body is parsed by _parse_body, documented here
        tags=["chat"],
    )


async def create_chat_completion(http_request: Request) -> Response:
    """Create a chat completion, streamed as server-sent events when ``stream`` is true."""
    body = await _parse_body(http_request)
    services, key_id = services_of(http_request), key_id_of(http_request)
    messages = [
        Message(role="system" if m.role == "developer" else m.role, content=m.text)
        for m in body.messages
    ]
    prompt_estimate = sum(estimate_tokens(m.text) + 4 for m in messages)
    requested = (
        body.max_completion_tokens or body.max_tokens or services.settings.default_max_tokens
    )
    admission = await services.budget.admit(
        key_id,
        prompt_tokens=prompt_estimate,
        max_completion_tokens=requested,
        prompt_upper_bound=prompt_upper_bound(m.text for m in messages),
    )
    request = CompletionRequest(
        model=body.model or services.settings.default_model,
        messages=messages,
        max_tokens=admission.max_completion_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=body.stop_sequences,
    )
    call = _Call(services, request, admission, prompt_estimate)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return await call.stream(include_usage=include_usage)
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
        self._content_frame: tuple[str, str] | None = None

    async def _failed(self, error: Exception) -> APIError:
        """Release the reservation, count the failure, map it to 504 or 502.

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

    async def complete(self) -> Response:
        """Call the provider once and return the whole completion.

        The bodies this class sends are built as dictionaries and encoded by
        pydantic-core: the response models (``ChatCompletion``, ``ChatCompletionChunk``)
        document them, and the project's tests check every body against them, but
        building and validating the models again for data the service made itself cost
        about a twelfth of a short request.
        """
        with completion_span(self.services.provider.name, self.request) as span:
            try:
                async with asyncio.timeout(self.timeout):
                    completion = await self.services.provider.complete(self.request)
            except Exception as error:
                raise await self._failed(error) from error
            await self._charged(completion.usage, span, completion.finish_reason)
        body = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.request.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": completion.text},
                    "finish_reason": completion.finish_reason,
                }
            ],
            "usage": _usage(completion.usage),
        }
        return Response(
            to_json(body), media_type="application/json", headers=self.admission.headers
        )

    async def stream(self, *, include_usage: bool) -> StreamingResponse:
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
        headers = {**SSE_HEADERS, **self.admission.headers}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    def _event(self, choices: list[dict[str, Any]], usage: TokenUsage | None = None) -> str:
        """Return one server-sent event: a ``ChatCompletionChunk`` without its null fields."""
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.request.model,
            "choices": choices,
        }
        if usage is not None:
            chunk["usage"] = _usage(usage)
        return f"data: {to_json(chunk).decode()}\n\n"

    def _content_event(self, text: str) -> str:
        """Return the event of one piece of content.

        The JSON around the content is the same for every event of a stream, so it is
        serialized once and the content spliced in: a stream has hundreds of these.
        """
        if self._content_frame is None:
            marker = f'"{_MARKER}"'
            event = self._event([{"index": 0, "delta": {"content": _MARKER}}])
            before, _, after = event.rpartition(marker)
            self._content_frame = (before, after)
        before, after = self._content_frame
        return f"{before}{_json_string(text)}{after}"

    async def _events(
        self, first: Chunk, chunks: AsyncIterator[Chunk], *, include_usage: bool
    ) -> AsyncIterator[str]:
        """Yield server-sent events; a failure mid-stream ends it with an error event."""
        streamed_chars = 0
        settled = False
        with completion_span(self.services.provider.name, self.request) as span:
            try:
                yield self._event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
                chunk = first
                loop = asyncio.get_running_loop()
                # One timeout for the stream, armed only while the provider is awaited
                # (never while the client reads an event): a new one per chunk cost more
                # than the rest of the chunk's work.
                async with asyncio.timeout(None) as provider_deadline:
                    while True:
                        if chunk.text:
                            streamed_chars += len(chunk.text)
                            yield self._content_event(chunk.text)
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
                yield "data: [DONE]\n\n"
            except Exception as error:
                settled = True
                failure = await self._failed(error)
                yield f"data: {failure.body().model_dump_json()}\n\n"
            finally:
                await _close(chunks)
                if not settled:
                    # The client went away: charge what the provider produced until then.
                    partial = TokenUsage(self.prompt_estimate, (streamed_chars + 3) // 4)
                    await self.services.budget.settle(self.admission, partial.total_tokens)


def _cut_event() -> str:
    """Return the terminal event of a stream cut at the shutdown deadline."""
    error = APIError(
        503, "the service is shutting down; retry the request", type="api_error", code="shutdown"
    )
    return f"data: {error.body().model_dump_json()}\n\n"


def _usage(usage: TokenUsage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


async def _close(chunks: AsyncIterator[Chunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
