"""A deterministic provider that needs no network, for local runs, tests and load tests.

It can also misbehave on purpose (``FAKE_FAULT``), the way real providers do: answer
slowly, hang, fail, drop the connection mid-stream or send malformed data. The service's
fault tests, load tests and benchmarks run it in-process or in a real server process.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from .base import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    ProviderError,
    TokenUsage,
    UnsupportedError,
)

_PREFIX = "This is a deterministic reply from the fake provider to:"

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
    """Answer with a fixed sentence that echoes the last user message, one word a token."""

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

    def _reply(self, request: CompletionRequest) -> tuple[_Reply, int]:
        last_user = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        prompt_tokens = sum(len(m.text.split()) for m in request.messages)
        return _reply(last_user, self._reply_tokens, request.max_tokens), prompt_tokens

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
        reply, prompt_tokens = self._reply(request)
        usage = TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=len(reply.words))
        return Completion(text=reply.text, finish_reason=reply.finish_reason, usage=usage)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield the reply a word at a time."""
        faults = self._fault_for_this_call()
        reply, prompt_tokens = self._reply(request)
        words = reply.words
        for index, word in enumerate(words):
            if faults is not None and index == faults.after_chunks:
                await _misbehave(faults)
            if self._chunk_delay:
                await asyncio.sleep(self._chunk_delay)
            yield Chunk(text=word if index == 0 else f" {word}")
        usage = TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=len(words))
        yield Chunk(finish_reason=reply.finish_reason, usage=usage)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """Not yet: embeddings come with the API surface work."""
        raise UnsupportedError("the fake provider has no embeddings", param="model", status=404)

    async def aclose(self) -> None:
        """Nothing to release."""


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
