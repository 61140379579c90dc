"""The provider-neutral values every adapter works on, and the interface it implements.

The API layer turns OpenAI's request shapes into these values and back (``translate.py``);
an adapter turns them into its provider's wire format and back. Nothing here knows
OpenAI's JSON, so adding a provider means writing one adapter module.

The values are slotted dataclasses, not frozen ones: a frozen dataclass sets each field
through ``object.__setattr__``, and a stream makes one ``Chunk`` per token. Treat them
as values all the same; nothing in the service changes one after making it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


class ProviderError(Exception):
    """A provider call failed; ``errors.from_provider_error`` turns it into the API's error.

    Adapters map their SDK's errors onto these fields: ``status`` is the HTTP status the
    client gets (an upstream 4xx keeps its status, 429 stays 429, 5xx and transport
    failures are 502), ``message`` is the provider's own message when it has one (never
    a key or a header), ``code`` and ``param`` as OpenAI names them, and ``retry_after``
    the upstream's ``Retry-After`` in seconds. ``retryable`` says whether calling again
    (after ``retry_after``) may succeed: 429, 5xx, timeouts and transport errors.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        type: str = "api_error",
        code: str | None = "provider_error",
        param: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.retryable = (status == 429 or status >= 500) if retryable is None else retryable


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time (HTTP 504)."""

    def __init__(self, message: str = "the model provider timed out") -> None:
        super().__init__(message, status=504, code="timeout", retryable=True)


class UnsupportedError(ProviderError):
    """The request asks for something this provider cannot do (HTTP 400, before any call).

    ``param`` names the request field, as OpenAI's API does in its 400s.
    """

    def __init__(self, message: str, *, param: str | None, status: int = 400) -> None:
        super().__init__(
            message,
            status=status,
            type="invalid_request_error",
            code="unsupported_parameter" if status == 400 else "not_supported",
            param=param,
            retryable=False,
        )


@dataclass(slots=True)
class TextPart:
    """Text in a message's content."""

    text: str


@dataclass(slots=True)
class ImagePart:
    """An image in a message's content: a ``data:`` URL or an ``https:`` URL."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None


ContentPart = TextPart | ImagePart


@dataclass(slots=True)
class ToolCall:
    """A call of a tool the model asks for; ``arguments`` is JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Message:
    """A message as providers see it.

    ``content`` is a string or a list of parts (text and images). An assistant message
    may carry ``tool_calls``; a ``tool`` message answers the call named by
    ``tool_call_id``. OpenAI's ``developer`` role arrives here as ``system``.
    """

    role: Role
    content: str | list[ContentPart] = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        """Return the text of the content (image parts left out)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


@dataclass(slots=True)
class Tool:
    """A function the model may call; ``parameters`` is its JSON schema."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    strict: bool | None = None


@dataclass(slots=True)
class ToolChoice:
    """Whether and which tool the model must call: ``auto``, ``none``, ``required``, or ``name``."""

    mode: Literal["auto", "none", "required", "named"] = "auto"
    name: str | None = None


@dataclass(slots=True)
class ResponseFormat:
    """The shape the reply must have: plain text, any JSON object, or JSON of a schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(slots=True)
class CompletionRequest:
    """What the API asks of a provider.

    Fields left at their defaults were not asked for. An adapter that cannot honour a
    field that was asked for raises ``UnsupportedError`` naming it; it never drops one.
    """

    model: str
    messages: list[Message]
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    user: str | None = None


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
    """A whole completion: text, tool calls, or both."""

    text: str | None
    finish_reason: str
    usage: TokenUsage
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call, as OpenAI streams them.

    The first piece of call ``index`` carries its ``id`` and ``name``; later pieces
    carry more of its ``arguments`` text.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class Chunk:
    """A piece of a streamed completion; the last one carries the finish reason and usage."""

    text: str = ""
    tool_calls: list[ToolCallDelta] | None = None
    finish_reason: str | None = None
    usage: TokenUsage | None = None


@dataclass(slots=True)
class EmbeddingRequest:
    """Texts to embed with one model."""

    model: str
    inputs: list[str]
    dimensions: int | None = None
    user: str | None = None


@dataclass(slots=True)
class Embeddings:
    """One vector per input, in order, and the tokens the inputs counted for."""

    vectors: list[list[float]]
    prompt_tokens: int


class Provider(Protocol):
    """An LLM backend."""

    name: str

    async def complete(self, request: CompletionRequest) -> Completion:
        """Return the whole completion."""
        ...

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield the completion piece by piece.

        Read the upstream stream to its end (so its connection goes back to the pool),
        or close it when the consumer closes this generator.
        """
        ...

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """Return embeddings; raise ``UnsupportedError(status=404)`` if the provider has none."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def estimate_tokens(text: str) -> int:
    """Estimate tokens of a text (about four characters a token) for budget reservations."""
    return max(1, (len(text) + 3) // 4)


async def close_stream(chunks: AsyncIterator[Chunk]) -> None:
    """Close a provider's stream early (its adapter then closes the upstream's)."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
