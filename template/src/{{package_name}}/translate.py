"""OpenAI's shapes <-> the provider-neutral values of ``providers/base.py``, in one place.

Routes call these functions and adapters never see OpenAI's JSON, so a new provider is
one adapter module. The message and tool conversions are public: the Responses API
bridge builds the same neutral values from its own input items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .providers.base import (
    Chunk,
    Completion,
    CompletionRequest,
    ContentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    TokenUsage,
    Tool,
    ToolCall,
    ToolChoice,
    UnsupportedError,
    estimate_tokens,
)
from .schemas import chat as api
from .schemas.common import Usage

# A prompt estimate for one image: OpenAI counts 85 tokens per image plus 170 per
# 512-pixel tile at high detail, 1105 for a 2048x768 picture.
IMAGE_TOKENS = 1105
# OpenAI's request fields the neutral request has no place for: a 400 when set.
_NOT_SERVED = (
    "top_logprobs",
    "logit_bias",
    "audio",
    "prediction",
    "web_search_options",
    "reasoning_effort",
    "functions",
    "function_call",
)
# Tokens a message costs beyond its content (role and separators), as OpenAI counts them.
MESSAGE_OVERHEAD_TOKENS = 4


def to_content(
    content: str | Sequence[api.TextContentPart | api.ImageContentPart],
) -> str | list[ContentPart]:
    """Return a message's content as a string or neutral parts."""
    if isinstance(content, str):
        return content
    parts: list[ContentPart] = []
    for part in content:
        if isinstance(part, api.TextContentPart):
            parts.append(TextPart(part.text))
        else:
            parts.append(ImagePart(part.image_url.url, part.image_url.detail))
    return parts


def to_tool_call(call: api.ToolCall) -> ToolCall:
    """Return a neutral tool call."""
    return ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)


def to_message(message: api.ChatMessage) -> Message:
    """Return the neutral message of an OpenAI chat message (``developer`` is ``system``)."""
    if isinstance(message, api.SystemMessage):
        return Message("system", to_content(message.content), name=message.name)
    if isinstance(message, api.UserMessage):
        return Message("user", to_content(message.content), name=message.name)
    if isinstance(message, api.AssistantMessage):
        return Message(
            "assistant",
            to_content(message.content) if message.content is not None else "",
            tool_calls=[to_tool_call(call) for call in message.tool_calls or ()],
            name=message.name,
        )
    return Message("tool", to_content(message.content), tool_call_id=message.tool_call_id)


def to_messages(messages: Iterable[api.ChatMessage]) -> list[Message]:
    """Return neutral messages, in order."""
    return [to_message(message) for message in messages]


def to_tool(tool: api.ChatTool) -> Tool:
    """Return a neutral tool."""
    function = tool.function
    return Tool(
        name=function.name,
        description=function.description,
        parameters=function.parameters or {"type": "object", "properties": {}},
        strict=function.strict,
    )


def to_tool_choice(choice: str | api.NamedToolChoice | None) -> ToolChoice | None:
    """Return the neutral tool choice (None: not asked for)."""
    if choice is None:
        return None
    if isinstance(choice, api.NamedToolChoice):
        return ToolChoice("named", choice.function.name)
    if choice == "none":
        return ToolChoice("none")
    return ToolChoice("required") if choice == "required" else ToolChoice("auto")


def to_response_format(
    response_format: api.TextFormat | api.JSONObjectFormat | api.JSONSchemaFormat | None,
) -> ResponseFormat | None:
    """Return the neutral response format (None: plain text, not asked for)."""
    if response_format is None or isinstance(response_format, api.TextFormat):
        return None
    if isinstance(response_format, api.JSONObjectFormat):
        return ResponseFormat("json_object")
    spec = response_format.json_schema
    return ResponseFormat(
        "json_schema",
        name=spec.name,
        schema=spec.json_schema or {"type": "object"},
        strict=spec.strict,
        description=spec.description,
    )


def to_completion_request(
    body: api.ChatCompletionRequest, *, model: str, max_tokens: int
) -> CompletionRequest:
    """Return what the provider is asked, or raise ``UnsupportedError`` naming the field.

    The service returns one choice and no log probabilities: asking for more is a 400.
    """
    if body.n is not None and body.n > 1:
        raise UnsupportedError("n > 1 is not supported: ask for one choice", param="n")
    if body.logprobs:
        raise UnsupportedError("logprobs are not supported", param="logprobs")
    for name in _NOT_SERVED:
        value = getattr(body, name)
        # No log probabilities, an empty bias or function list ask for nothing; any
        # other value asks for something (``web_search_options: {}`` turns search on).
        if value is None or (name in ("top_logprobs", "logit_bias", "functions") and not value):
            continue
        hint = "; use tools and tool_choice" if name.startswith("function") else ""
        raise UnsupportedError(f"{name} is not supported by this service{hint}", param=name)
    if body.modalities is not None and set(body.modalities) != {"text"}:
        raise UnsupportedError("only text output is supported", param="modalities")
    tools = [to_tool(tool) for tool in body.tools or ()]
    tool_choice = to_tool_choice(body.tool_choice)
    if tool_choice is not None and tool_choice.mode in ("required", "named") and not tools:
        raise UnsupportedError("tool_choice requires tools", param="tool_choice")
    names = {tool.name for tool in tools}
    if tool_choice is not None and tool_choice.mode == "named" and tool_choice.name not in names:
        raise UnsupportedError(
            f"tool_choice names {tool_choice.name!r}, which is not in tools", param="tool_choice"
        )
    stop = body.stop
    return CompletionRequest(
        model=model,
        messages=to_messages(body.messages),
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=[stop] if isinstance(stop, str) else list(stop or ()),
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=body.parallel_tool_calls,
        response_format=to_response_format(body.response_format),
        seed=body.seed,
        presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        user=body.user or body.safety_identifier,
    )


def prompt_tokens(request: CompletionRequest, *, upper_bound: bool = False) -> int:
    """Estimate the prompt's tokens: messages, images, tool calls, tools and schema.

    With ``upper_bound``, each text counts its UTF-8 bytes instead (no byte-level BPE
    tokenizer makes more tokens than bytes): what ``STRICT_BUDGETS`` reserves.
    """
    count = _utf8_bytes if upper_bound else estimate_tokens
    total = MESSAGE_OVERHEAD_TOKENS
    for message in request.messages:
        total += MESSAGE_OVERHEAD_TOKENS
        if isinstance(message.content, str):
            total += count(message.content)
        else:
            texts = [part.text for part in message.content if isinstance(part, TextPart)]
            images = len(message.content) - len(texts)
            total += sum(map(count, texts)) + images * IMAGE_TOKENS
        for call in message.tool_calls:
            total += count(call.name) + count(call.arguments)
    for tool in request.tools:
        total += count(f"{tool.name}{tool.description or ''}{tool.parameters}")
    if request.response_format is not None and request.response_format.schema is not None:
        total += count(str(request.response_format.schema))
    return total


def _utf8_bytes(text: str) -> int:
    return len(text.encode())


# --- back to OpenAI's shapes --------------------------------------------------------


def to_usage(usage: TokenUsage) -> Usage:
    """Return OpenAI's usage object."""
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def to_api_tool_call(call: ToolCall) -> api.ToolCall:
    """Return OpenAI's shape of a tool call."""
    return api.ToolCall(
        id=call.id, function=api.FunctionCall(name=call.name, arguments=call.arguments)
    )


def to_chat_completion(
    completion: Completion, *, id: str, created: int, model: str
) -> api.ChatCompletion:
    """Return OpenAI's ``chat.completion`` of a neutral completion."""
    message = api.ChatCompletionMessage(
        content=completion.text,
        tool_calls=[to_api_tool_call(call) for call in completion.tool_calls] or None,
    )
    choice = api.Choice(message=message, finish_reason=completion.finish_reason)
    return api.ChatCompletion(
        id=id, created=created, model=model, choices=[choice], usage=to_usage(completion.usage)
    )


def to_delta(chunk: Chunk) -> dict[str, Any]:
    """Return OpenAI's ``delta`` of a neutral chunk (``schemas.Delta`` without nulls).

    A dictionary, not the model: one per streamed token (see ``api/routes/chat.py``).
    As OpenAI streams a tool call, its first piece has the ``id``, ``type`` and
    ``name``, later pieces more ``arguments``.
    """
    delta: dict[str, Any] = {}
    if chunk.text:
        delta["content"] = chunk.text
    if chunk.tool_calls:
        pieces = []
        for piece in chunk.tool_calls:
            function: dict[str, str] = {"arguments": piece.arguments}
            call: dict[str, Any] = {"index": piece.index, "function": function}
            if piece.id is not None:
                call["id"], call["type"] = piece.id, "function"
            if piece.name is not None:
                function["name"] = piece.name
            pieces.append(call)
        delta["tool_calls"] = pieces
    return delta
