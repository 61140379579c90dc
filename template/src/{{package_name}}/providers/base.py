"""The small interface every provider adapter implements.

The values it passes are slotted dataclasses, not frozen ones: a frozen dataclass sets
each field through ``object.__setattr__``, and a stream makes one ``Chunk`` per token,
which cost about a sixth of a 256-chunk stream's time in the service. Treat them as
values all the same; nothing in the service changes one after making it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


class ProviderError(Exception):
    """The provider failed or answered with something unusable (HTTP 502)."""


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time (HTTP 504)."""


@dataclass(slots=True)
class Message:
    """A message as providers see it."""

    role: str
    content: str


@dataclass(slots=True)
class CompletionRequest:
    """What the API asks of a provider."""

    model: str
    messages: list[Message]
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TokenUsage:
    """Tokens a call used."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        """Return prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Completion:
    """A whole completion."""

    text: str
    finish_reason: str
    usage: TokenUsage


@dataclass(slots=True)
class Chunk:
    """A piece of a streamed completion; the last one carries the finish reason and usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None


class Provider(Protocol):
    """An LLM backend."""

    name: str

    async def complete(self, request: CompletionRequest) -> Completion:
        """Return the whole completion."""
        ...

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield the completion piece by piece."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def estimate_tokens(text: str) -> int:
    """Estimate tokens of a text (about four characters a token) for budget reservations."""
    return max(1, (len(text) + 3) // 4)
