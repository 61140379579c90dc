"""A deterministic provider that needs no network, for local runs and tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from .base import Chunk, Completion, CompletionRequest, TokenUsage

_PREFIX = "This is a deterministic reply from the fake provider to:"


class FakeProvider:
    """Answer with a fixed sentence that echoes the last user message, one word a token."""

    name = "fake"

    def __init__(self, *, chunk_delay_seconds: float = 0.0) -> None:
        self._chunk_delay = chunk_delay_seconds

    @staticmethod
    def _words(request: CompletionRequest) -> tuple[list[str], str, int]:
        last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        words = [*_PREFIX.split(), *last_user.split()]
        finish_reason = "stop"
        if len(words) > request.max_tokens:
            words, finish_reason = words[: request.max_tokens], "length"
        prompt_tokens = sum(len(m.content.split()) for m in request.messages)
        return words, finish_reason, prompt_tokens

    async def complete(self, request: CompletionRequest) -> Completion:
        """Return the whole reply."""
        words, finish_reason, prompt_tokens = self._words(request)
        usage = TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=len(words))
        return Completion(text=" ".join(words), finish_reason=finish_reason, usage=usage)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield the reply a word at a time."""
        words, finish_reason, prompt_tokens = self._words(request)
        for index, word in enumerate(words):
            if self._chunk_delay:
                await asyncio.sleep(self._chunk_delay)
            yield Chunk(text=word if index == 0 else f" {word}")
        usage = TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=len(words))
        yield Chunk(finish_reason=finish_reason, usage=usage)

    async def aclose(self) -> None:
        """Nothing to release."""
