"""A deterministic provider that needs no network, for local runs, tests and load tests.

It answers by fixed rules, so a team can test its agent loop offline:

- **Text.** The reply is "This is a deterministic reply from the fake provider to:"
  followed by the last user message, one word a token (``FAKE_REPLY_TOKENS`` repeats
  it to a fixed length); ``max_tokens`` cuts it with ``finish_reason: "length"``.
- **Tools.** When the request offers tools and ``tool_choice`` is not ``none``, the
  fake calls: the named tool (``tool_choice`` names one); every offered tool whose
  name appears in the last user message (``auto`` and ``required``; only the first
  of them when ``parallel_tool_calls`` is false); the first tool when ``required``
  and no name appears. ``auto`` with no name in the message answers with text.
  Arguments are JSON with the tool schema's required properties filled with
  placeholders (``"string"``, ``0``, ``0.0``, ``false``, the first ``enum`` value);
  call ids are derived from the tool name and the message, so they repeat exactly.
  ``finish_reason`` is ``"tool_calls"``.
- **Tool results.** When the last messages are ``tool`` messages, the reply is text:
  "The tool returned: " and their contents, joined by "; ".
- **JSON.** ``json_schema`` returns the schema's required properties filled with
  placeholders, as above; ``json_object`` returns ``{"reply": <the text reply>}``.
- **Embeddings.** Vectors of 1536 floats (``dimensions`` when asked) of unit length,
  derived from a hash of each text: the same text always gets the same vector.

Streams send text a word at a time and tool-call arguments and JSON in pieces, as
OpenAI streams them, and yield to the event loop between chunks even without a delay.

It can also misbehave on purpose (``FAKE_FAULT``), the way real providers do: answer
slowly, hang, fail, drop the connection mid-stream or send malformed data. The service's
fault tests, load tests and benchmarks run it in-process or in a real server process.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import json
import math
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from ._util import placeholder
from .base import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    Message,
    ProviderError,
    TokenUsage,
    ToolCall,
    ToolCallDelta,
    estimate_tokens,
)

_PREFIX = "This is a deterministic reply from the fake provider to:"
_EMBEDDING_DIMENSIONS = 1536
_PIECE = 16  # characters of streamed tool arguments and JSON per chunk

FaultKind = Literal["none", "slow", "timeout", "error", "reset", "malformed"]


@dataclass(frozen=True)
class Faults:
    """How the fake provider misbehaves.

    ``slow`` waits ``latency_seconds`` before answering; ``timeout`` never answers;
    ``error`` raises a ``ProviderError`` as an adapter does for a 5xx; ``reset`` raises
    ``ConnectionResetError`` and ``malformed`` a JSON decoding error, as a transport or
    a parser would from inside an adapter. Streams misbehave after ``after_chunks``
    chunks (0: before the first one). Only every ``every``-th call misbehaves.
    """

    kind: FaultKind = "none"
    latency_seconds: float = 0.0
    after_chunks: int = 0
    every: int = 1


class FakeProvider:
    """Answer by the fixed rules of this module's docstring."""

    name = "fake"

    def __init__(
        self,
        *,
        chunk_delay_seconds: float = 0.0,
        reply_tokens: int = 0,
        faults: Faults | None = None,
    ) -> None:
        self._chunk_delay = chunk_delay_seconds
        self._reply_tokens = reply_tokens
        self._faults = faults if faults is not None and faults.kind != "none" else None
        self._calls = itertools.count(1)

    def _answer(self, request: CompletionRequest) -> _Answer:
        last_user = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        prompt_tokens = sum(len(m.text.split()) for m in request.messages)
        if results := _trailing_tool_results(request.messages):
            text = "The tool returned: " + "; ".join(results)
            return _Answer(text, "stop", prompt_tokens, len(text.split()))
        if calls := _tool_calls(request, last_user):
            tokens = sum(estimate_tokens(call.arguments) for call in calls)
            return _Answer(None, "tool_calls", prompt_tokens, tokens, calls)
        reply = _reply(last_user, self._reply_tokens, request.max_tokens)
        response_format = request.response_format
        if response_format is None or response_format.type == "text":
            return _Answer(reply.text, reply.finish_reason, prompt_tokens, len(reply.words))
        if response_format.type == "json_schema":
            text = json.dumps(placeholder(response_format.schema or {}))
        else:
            text = json.dumps({"reply": reply.text})
        return _Answer(text, "stop", prompt_tokens, estimate_tokens(text))

    def _fault_for_this_call(self) -> Faults | None:
        faults = self._faults
        if faults is None or next(self._calls) % faults.every:
            return None
        return faults

    async def complete(self, request: CompletionRequest) -> Completion:
        """Return the whole reply."""
        faults = self._fault_for_this_call()
        if faults is not None:
            await _misbehave(faults)
        answer = self._answer(request)
        return Completion(
            text=answer.text,
            finish_reason=answer.finish_reason,
            usage=answer.usage,
            tool_calls=answer.tool_calls,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield the reply in pieces, giving the event loop a turn before each one."""
        faults = self._fault_for_this_call()
        answer = self._answer(request)
        for index, chunk in enumerate(_pieces(answer, request)):
            if faults is not None and index == faults.after_chunks:
                await _misbehave(faults)
            # sleep(0) still yields: a client that does not read must not stall the loop.
            await asyncio.sleep(self._chunk_delay)
            yield chunk
        yield Chunk(finish_reason=answer.finish_reason, usage=answer.usage)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """Return a unit vector per text, derived from a hash of the text."""
        faults = self._fault_for_this_call()
        if faults is not None:
            await _misbehave(faults)
        dimensions = request.dimensions or _EMBEDDING_DIMENSIONS
        return Embeddings(
            vectors=[_vector(text, dimensions) for text in request.inputs],
            prompt_tokens=sum(max(1, len(text.split())) for text in request.inputs),
        )

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class _Answer:
    text: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(self.prompt_tokens, self.completion_tokens)


def _trailing_tool_results(messages: list[Message]) -> list[str]:
    results: list[str] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.insert(0, message.text)
    return results


def _tool_calls(request: CompletionRequest, last_user: str) -> list[ToolCall]:
    """Return the calls the rules ask for (none when the request offers no tool)."""
    choice = request.tool_choice
    mode = choice.mode if choice is not None else "auto"
    if not request.tools or mode == "none":
        return []
    if mode == "named":
        chosen = [tool for tool in request.tools if choice is not None and tool.name == choice.name]
    else:
        chosen = [tool for tool in request.tools if tool.name in last_user]
        if not chosen and mode == "required":
            chosen = request.tools[:1]
        if request.parallel_tool_calls is False:
            chosen = chosen[:1]
    return [
        ToolCall(
            id="call_" + hashlib.sha256(f"{tool.name}\n{last_user}".encode()).hexdigest()[:24],
            name=tool.name,
            arguments=json.dumps(placeholder(tool.parameters)),
        )
        for tool in chosen
    ]


def _pieces(answer: _Answer, request: CompletionRequest) -> list[Chunk]:
    """Return the chunks of a streamed answer, before the final one."""
    chunks: list[Chunk] = []
    for index, call in enumerate(answer.tool_calls):
        chunks.append(Chunk(tool_calls=[ToolCallDelta(index=index, id=call.id, name=call.name)]))
        chunks.extend(
            Chunk(tool_calls=[ToolCallDelta(index=index, arguments=call.arguments[i : i + _PIECE])])
            for i in range(0, len(call.arguments), _PIECE)
        )
    text = answer.text or ""
    json_reply = request.response_format is not None and request.response_format.type != "text"
    if json_reply:
        chunks.extend(Chunk(text=text[i : i + _PIECE]) for i in range(0, len(text), _PIECE))
    elif text:
        words = text.split(" ")
        chunks.extend(Chunk(text=word if i == 0 else f" {word}") for i, word in enumerate(words))
    return chunks


def _vector(text: str, dimensions: int) -> list[float]:
    """Return a unit vector derived from a hash of the text."""
    digest = hashlib.shake_256(text.encode()).digest(4 * dimensions)
    values = [v / 2**31 - 1.0 for v in struct.unpack(f"<{dimensions}I", digest)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


@dataclass(frozen=True)
class _Reply:
    words: tuple[str, ...]
    text: str
    finish_reason: str


@functools.lru_cache(maxsize=256)
def _reply(last_user: str, length: int, max_tokens: int) -> _Reply:
    """Return the reply to a prompt (cached: load tests send the same prompts again)."""
    words = [*_PREFIX.split(), *last_user.split()]
    if length:
        words = list(itertools.islice(itertools.cycle(words), length))
    finish_reason = "stop"
    if len(words) > max_tokens:
        words, finish_reason = words[:max_tokens], "length"
    return _Reply(tuple(words), " ".join(words), finish_reason)


async def _misbehave(faults: Faults) -> None:
    """Wait, hang or raise as the fault says; ``slow`` returns after its latency."""
    if faults.kind == "slow":
        await asyncio.sleep(faults.latency_seconds)
    elif faults.kind == "timeout":
        await asyncio.Event().wait()
    elif faults.kind == "error":
        raise ProviderError("fake provider: upstream answered 503 Service Unavailable")
    elif faults.kind == "reset":
        raise ConnectionResetError(104, "Connection reset by peer")
    elif faults.kind == "malformed":
        json.loads('{"choices": [{"delta": {"content": "tru')
