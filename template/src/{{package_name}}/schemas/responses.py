"""Request and response bodies of ``POST /v1/responses``, as OpenAI's Responses API has them.

Only what the service can bridge onto a chat-style provider call is modelled: text and
image input, function tools and their outputs, JSON output. Fields of OpenAI's API that
need state or OpenAI's own tools are declared so that a request using them gets a 400
naming the field (see ``responses_bridge.refuse_unsupported``); unknown fields are
refused by the schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

_STRICT = ConfigDict(extra="forbid", strict=True)


class InputText(BaseModel):
    """Text in an input message."""

    model_config = _STRICT

    type: Literal["input_text"]
    text: str


class InputImage(BaseModel):
    """An image in an input message: a ``data:`` or ``https:`` URL (``file_id`` is refused)."""

    model_config = _STRICT

    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high"] = "auto"


class OutputTextPart(BaseModel):
    """Text of an assistant message sent back as input (a previous response's output)."""

    model_config = ConfigDict(extra="ignore", strict=True)  # annotations, logprobs

    type: Literal["output_text"]
    text: str


InputContent = Annotated[InputText | InputImage | OutputTextPart, Field(discriminator="type")]


class InputMessage(BaseModel):
    """A message of the conversation; ``type`` may be left out, as clients do."""

    model_config = ConfigDict(extra="ignore", strict=True)  # id, status, phase

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputContent]


class FunctionCallItem(BaseModel):
    """A function call the model made, sent back with the next turn."""

    model_config = ConfigDict(extra="ignore", strict=True)  # id, status

    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str
    arguments: str


class FunctionCallOutputItem(BaseModel):
    """The result of a function call, for the next turn."""

    model_config = ConfigDict(extra="ignore", strict=True)  # id, status

    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[InputText]

    @property
    def text(self) -> str:
        """Return the output as text."""
        if isinstance(self.output, str):
            return self.output
        return "".join(part.text for part in self.output)


def _item_type(item: Any) -> str | None:
    """Return the item's ``type``; a message may leave it out."""
    if isinstance(item, dict):
        kind = item.get("type", "message")
        return kind if isinstance(kind, str) else None
    return getattr(item, "type", None)


InputItem = Annotated[
    Annotated[InputMessage, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")],
    Discriminator(_item_type),
]


class FunctionTool(BaseModel):
    """A function the model may call (the Responses API's flat shape)."""

    model_config = _STRICT

    type: Literal["function"]
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class HostedTool(BaseModel):
    """One of OpenAI's own tools (web search, file search...): refused by the bridge."""

    model_config = ConfigDict(extra="allow")

    type: str


def _tool_type(tool: Any) -> str:
    kind = tool.get("type") if isinstance(tool, dict) else getattr(tool, "type", None)
    return "function" if kind == "function" else "hosted"


ToolItem = Annotated[
    Annotated[FunctionTool, Tag("function")] | Annotated[HostedTool, Tag("hosted")],
    Discriminator(_tool_type),
]


class ToolChoiceFunction(BaseModel):
    """Force a call of the named function."""

    model_config = _STRICT

    type: Literal["function"]
    name: str


ToolChoiceOption = Literal["none", "auto", "required"] | ToolChoiceFunction


class TextFormatText(BaseModel):
    """Plain text output."""

    model_config = _STRICT

    type: Literal["text"]


class TextFormatJsonObject(BaseModel):
    """Any JSON object as output."""

    model_config = _STRICT

    type: Literal["json_object"]


class TextFormatJsonSchema(BaseModel):
    """JSON output of a schema (Structured Outputs)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    type: Literal["json_schema"]
    name: str = Field(min_length=1, max_length=64)
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


TextFormat = Annotated[
    TextFormatText | TextFormatJsonObject | TextFormatJsonSchema, Field(discriminator="type")
]


class TextConfig(BaseModel):
    """Options of the text output."""

    model_config = _STRICT

    format: TextFormat = Field(default_factory=lambda: TextFormatText(type="text"))


class ResponseCreateRequest(BaseModel):
    """Body of ``POST /v1/responses``; unknown fields are refused with a 400."""

    model_config = _STRICT

    model: str | None = Field(default=None, max_length=256)
    input: str | Annotated[list[InputItem], Field(min_length=1, max_length=1024)]
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    tools: list[ToolItem] = Field(default_factory=list, max_length=128)
    tool_choice: ToolChoiceOption = "auto"
    parallel_tool_calls: bool = True
    text: TextConfig | None = None
    stream: bool = False
    store: bool = True
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    user: str | None = Field(default=None, max_length=256)
    safety_identifier: str | None = Field(default=None, max_length=256)
    # Declared to be refused with a message naming them (responses_bridge).
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    background: bool | None = None
    include: list[str] | None = None
    prompt: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    max_tool_calls: int | None = None
    top_logprobs: int | None = None


class OutputText(BaseModel):
    """Text the model wrote."""

    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list)
    logprobs: list[Any] = Field(default_factory=list)


class OutputMessage(BaseModel):
    """An assistant message of the output."""

    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed", "incomplete"]
    content: list[OutputText]


class FunctionCall(BaseModel):
    """A function call of the output; ``call_id`` is what ``function_call_output`` answers."""

    id: str
    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str
    status: Literal["in_progress", "completed", "incomplete"]


OutputItem = Annotated[OutputMessage | FunctionCall, Field(discriminator="type")]


class InputTokensDetails(BaseModel):
    """Cached input tokens (the service reports none)."""

    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    """Reasoning tokens (the service reports none)."""

    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    """Tokens a response used."""

    input_tokens: int
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens: int
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)
    total_tokens: int


class IncompleteDetails(BaseModel):
    """Why a response stopped early."""

    reason: Literal["max_output_tokens", "content_filter"]


class ResponseError(BaseModel):
    """Why a streamed response failed."""

    code: str
    message: str


class ResponseObject(BaseModel):
    """A response, as ``POST /v1/responses`` returns it and as its stream events carry it.

    ``store`` is always false: the service keeps no responses, so ``previous_response_id``
    and ``GET /v1/responses/{id}`` are not offered.
    """

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Literal["completed", "failed", "in_progress", "incomplete"]
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputItem]
    parallel_tool_calls: bool
    temperature: float | None = None
    top_p: float | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceFunction
    tools: list[FunctionTool]
    text: TextConfig
    store: Literal[False] = False
    metadata: dict[str, str] = Field(default_factory=dict)
    usage: ResponseUsage | None = None
    user: str | None = None
