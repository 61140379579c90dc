"""``POST /v1/chat/completions``: the request, the completion and the stream's chunks.

Fields follow OpenAI's API reference; what the service cannot honour is refused with a
400 naming the field (``translate.py``), never dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .common import RequestModel, Usage

# --- request ------------------------------------------------------------------------


class TextContentPart(RequestModel):
    """Text in a message's content."""

    type: Literal["text"]
    text: str


class ImageURL(RequestModel):
    """Where an image is: a ``data:`` URL or an ``https:`` URL."""

    url: Annotated[str, Field(pattern=r"^(data:image/|https://)")]
    detail: Literal["auto", "low", "high"] | None = None


class ImageContentPart(RequestModel):
    """An image in a user message's content."""

    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextContentPart | ImageContentPart, Field(discriminator="type")]


class FunctionCall(BaseModel):
    """The function a tool call names, and its arguments as JSON text."""

    model_config = ConfigDict(extra="ignore", strict=True)

    name: str
    arguments: str


class ToolCall(BaseModel):
    """A call of a tool, in an assistant message (request) or a completion (response)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(RequestModel):
    """Instructions; ``developer`` is OpenAI's newer name for ``system``."""

    role: Literal["system", "developer"]
    content: str | list[TextContentPart]
    name: str | None = None


class UserMessage(RequestModel):
    """What the user says: text, or parts of text and images."""

    role: Literal["user"]
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(RequestModel):
    """An earlier reply: text, tool calls, or both (content may be null with tool calls)."""

    role: Literal["assistant"]
    content: str | list[TextContentPart] | None = None
    tool_calls: list[ToolCall] | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _content_or_tool_calls(self) -> AssistantMessage:
        if self.content is None and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        return self


class ToolMessage(RequestModel):
    """The result of the tool call named by ``tool_call_id``."""

    role: Literal["tool"]
    content: str | list[TextContentPart]
    tool_call_id: str


ChatMessage = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionDefinition(RequestModel):
    """A function the model may call; ``parameters`` is its JSON schema."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ChatTool(RequestModel):
    """A tool offered to the model (functions are the only kind)."""

    type: Literal["function"]
    function: FunctionDefinition


class ToolChoiceFunction(RequestModel):
    """The function a named tool choice forces."""

    name: str


class NamedToolChoice(RequestModel):
    """Force a call of one function."""

    type: Literal["function"]
    function: ToolChoiceFunction


class JSONSchemaSpec(RequestModel):
    """A named JSON schema the reply must follow (``strict``: exactly)."""

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)

    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    # ``schema`` would shadow a BaseModel attribute; the JSON name stays ``schema``.
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextFormat(RequestModel):
    """Plain text (the default)."""

    type: Literal["text"]


class JSONObjectFormat(RequestModel):
    """Any JSON object."""

    type: Literal["json_object"]


class JSONSchemaFormat(RequestModel):
    """JSON that follows a schema."""

    type: Literal["json_schema"]
    json_schema: JSONSchemaSpec


ResponseFormat = Annotated[
    TextFormat | JSONObjectFormat | JSONSchemaFormat, Field(discriminator="type")
]


class StreamOptions(RequestModel):
    """Options of a streamed response."""

    include_usage: bool = False


class ChatCompletionRequest(RequestModel):
    """Body of ``POST /v1/chat/completions``.

    A field OpenAI's API does not know is a 400 naming it, as OpenAI answers; inside
    messages unknown fields are ignored (clients send back what a reply carried).
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str | None = Field(default=None, max_length=256)
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=1024)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    tools: Annotated[list[ChatTool], Field(max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    user: str | None = Field(default=None, max_length=256)
    safety_identifier: str | None = Field(default=None, max_length=256)  # OpenAI's new ``user``
    # Accepted and ignored: nothing is stored, and tiers and caches are the provider's.
    store: bool | None = None
    metadata: dict[str, str] | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    # Accepted so that a request asking for them gets a 400 naming them (translate.py):
    # OpenAI's fields the service does not serve are refused, never dropped.
    n: int | None = Field(default=None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    logit_bias: dict[str, Any] | None = None
    modalities: list[str] | None = None
    audio: Any = None
    prediction: Any = None
    web_search_options: Any = None
    reasoning_effort: str | None = None
    functions: list[Any] | None = None
    function_call: Any = None


# --- response -----------------------------------------------------------------------


class ChatCompletionMessage(BaseModel):
    """The message a completion returns: text, tool calls, or both."""

    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCall] | None = None


class Choice(BaseModel):
    """One choice of a completion (this service returns one)."""

    index: int = 0
    message: ChatCompletionMessage
    finish_reason: str


class ChatCompletion(BaseModel):
    """Body of a non-streamed completion."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class FunctionCallDelta(BaseModel):
    """A piece of a streamed function call: its name first, then its arguments."""

    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(BaseModel):
    """A piece of a streamed tool call; the first piece of call ``index`` has its ``id``."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionCallDelta


class Delta(BaseModel):
    """Incremental content of a streamed chunk."""

    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(BaseModel):
    """One choice of a streamed chunk."""

    index: int = 0
    delta: Delta
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed completion (sent without its null fields)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
