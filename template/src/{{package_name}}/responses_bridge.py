"""The Responses API bridged onto the provider layer: Responses items <-> neutral values.

A Responses request becomes a ``CompletionRequest`` (instructions first, then the input
items as messages, function tools, tool choice and text format), and the neutral
completion or its chunks become a ``response`` object or the stream events OpenAI sends.
The service keeps no state: what needs stored responses or OpenAI's own tools is
refused with a 400 naming the field.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from .errors import APIError
from .ids import new_id
from .providers import (
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
    ToolCallDelta,
    ToolChoice,
)
from .schemas.responses import (
    FunctionCall,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    IncompleteDetails,
    InputImage,
    InputMessage,
    OutputItem,
    OutputMessage,
    OutputText,
    ResponseCreateRequest,
    ResponseError,
    ResponseObject,
    ResponseUsage,
    TextConfig,
    TextFormatJsonObject,
    TextFormatJsonSchema,
    TextFormatText,
    ToolChoiceFunction,
)

# Finish reasons that leave a response ``incomplete``, and the reason OpenAI gives.
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _invalid(message: str, param: str, code: str = "unsupported_parameter") -> APIError:
    return APIError(400, message, type="invalid_request_error", code=code, param=param)


def refuse_unsupported(body: ResponseCreateRequest) -> None:
    """Raise a 400 naming the first field the service cannot honour."""
    stateless = "this service stores no responses; send the whole conversation in input"
    if body.previous_response_id is not None:
        raise _invalid(
            f"previous_response_id is not supported: {stateless}", "previous_response_id"
        )
    if body.conversation is not None:
        raise _invalid(f"conversation is not supported: {stateless}", "conversation")
    if body.background:
        raise _invalid("background responses are not supported", "background")
    if body.include:
        raise _invalid("include is not supported", "include")
    if body.prompt is not None:
        raise _invalid("prompt templates are not supported; send instructions", "prompt")
    if body.reasoning is not None:
        raise _invalid("reasoning options are not supported", "reasoning")
    if body.truncation == "auto":
        raise _invalid("truncation 'auto' is not supported; the input is sent whole", "truncation")
    if body.top_logprobs:
        raise _invalid("top_logprobs is not supported", "top_logprobs")
    for index, tool in enumerate(body.tools):
        if not isinstance(tool, FunctionTool):
            raise _invalid(
                f"tool type '{tool.type}' is not supported; only function tools are",
                f"tools[{index}].type",
            )
    choice = body.tool_choice
    if isinstance(choice, ToolChoiceFunction) and choice.name not in {
        tool.name for tool in body.tools if isinstance(tool, FunctionTool)
    }:
        raise _invalid(
            f"tool_choice names '{choice.name}', which is not in tools",
            "tool_choice.name",
            code="invalid_value",
        )


def messages_of(body: ResponseCreateRequest) -> list[Message]:
    """Return the conversation: instructions as a system message, then the input items.

    Consecutive ``function_call`` items join the assistant message before them, as one
    assistant turn with tool calls; a ``function_call_output`` becomes a tool message.
    """
    messages: list[Message] = []
    if body.instructions:
        messages.append(Message(role="system", content=body.instructions))
    if isinstance(body.input, str):
        messages.append(Message(role="user", content=body.input))
        return messages
    for index, item in enumerate(body.input):
        if isinstance(item, InputMessage):
            role = "system" if item.role == "developer" else item.role
            messages.append(Message(role=role, content=_content(item, f"input[{index}]")))
        elif isinstance(item, FunctionCallItem):
            call = ToolCall(id=item.call_id, name=item.name, arguments=item.arguments)
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":
                last.tool_calls.append(call)
            else:
                messages.append(Message(role="assistant", content="", tool_calls=[call]))
        elif isinstance(item, FunctionCallOutputItem):
            messages.append(Message(role="tool", content=item.text, tool_call_id=item.call_id))
    return messages


def _content(item: InputMessage, param: str) -> str | list[ContentPart]:
    if isinstance(item.content, str):
        return item.content
    parts: list[ContentPart] = []
    for index, part in enumerate(item.content):
        if isinstance(part, InputImage):
            where = f"{param}.content[{index}]"
            if part.image_url is None:
                raise _invalid("images by file_id are not supported; send image_url", where)
            if not part.image_url.startswith(("data:", "https://")):
                raise _invalid(
                    "image_url must be a data: URL or an https: URL",
                    f"{where}.image_url",
                    code="invalid_value",
                )
            parts.append(ImagePart(url=part.image_url, detail=part.detail))
        else:
            parts.append(TextPart(text=part.text))
    return parts


def _response_format(text: TextConfig | None) -> ResponseFormat | None:
    if text is None or isinstance(text.format, TextFormatText):
        return None
    if isinstance(text.format, TextFormatJsonObject):
        return ResponseFormat(type="json_object")
    schema: TextFormatJsonSchema = text.format
    return ResponseFormat(
        type="json_schema",
        name=schema.name,
        schema=schema.schema_,
        strict=schema.strict,
        description=schema.description,
    )


def _tool_choice(body: ResponseCreateRequest) -> ToolChoice | None:
    choice = body.tool_choice
    if isinstance(choice, ToolChoiceFunction):
        return ToolChoice(mode="named", name=choice.name)
    # Without tools, "auto" asks for nothing: leave it unset, as a chat request would.
    return ToolChoice(mode=choice) if body.tools or choice != "auto" else None


def completion_request(
    body: ResponseCreateRequest, messages: list[Message], *, model: str, max_tokens: int
) -> CompletionRequest:
    """Return the provider-neutral request of a Responses request."""
    return CompletionRequest(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        tools=[
            Tool(
                name=tool.name,
                description=tool.description,
                parameters=tool.parameters or {"type": "object", "properties": {}},
                strict=tool.strict,
            )
            for tool in body.tools
            if isinstance(tool, FunctionTool)
        ],
        tool_choice=_tool_choice(body),
        # Only meaningful with tools; OpenAI's default (true) is not "asked for".
        parallel_tool_calls=None if body.parallel_tool_calls or not body.tools else False,
        response_format=_response_format(body.text),
        user=body.safety_identifier or body.user,
    )


def usage_of(usage: TokenUsage) -> ResponseUsage:
    """Return a provider's token usage in the Responses API's names."""
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


class ResponseBuilder:
    """The ``response`` object of one request, at each stage of its life."""

    def __init__(self, body: ResponseCreateRequest, *, model: str) -> None:
        self.id = f"resp_{new_id()}"
        self.created_at = int(time.time())
        self.body = body
        self.model = model

    def response(
        self,
        *,
        status: str,
        output: list[OutputItem],
        usage: TokenUsage | None = None,
        finish_reason: str | None = None,
        error: ResponseError | None = None,
    ) -> ResponseObject:
        """Return the response object with this status, output and usage."""
        body = self.body
        reason = _INCOMPLETE.get(finish_reason or "")
        if status == "completed" and reason is not None:
            status = "incomplete"
        return ResponseObject.model_validate(
            {
                "id": self.id,
                "created_at": self.created_at,
                "status": status,
                "error": error,
                "incomplete_details": IncompleteDetails(reason=reason)
                if status == "incomplete"
                else None,
                "instructions": body.instructions,
                "max_output_tokens": body.max_output_tokens,
                "model": self.model,
                "output": output,
                "parallel_tool_calls": body.parallel_tool_calls,
                "temperature": body.temperature,
                "top_p": body.top_p,
                "tool_choice": body.tool_choice,
                "tools": [tool for tool in body.tools if isinstance(tool, FunctionTool)],
                "text": body.text or TextConfig(),
                "metadata": body.metadata or {},
                "usage": usage_of(usage) if usage is not None else None,
                "user": body.user,
            }
        )

    def completed(self, completion: Completion) -> ResponseObject:
        """Return the response of a whole completion."""
        status = "incomplete" if completion.finish_reason in _INCOMPLETE else "completed"
        output: list[OutputItem] = []
        if completion.text or not completion.tool_calls:
            text = OutputText(text=completion.text or "")
            output.append(OutputMessage(id=f"msg_{new_id()}", status=status, content=[text]))
        output.extend(
            FunctionCall(
                id=f"fc_{new_id()}",
                call_id=call.id,
                name=call.name,
                arguments=call.arguments,
                status="completed",
            )
            for call in completion.tool_calls
        )
        return self.response(
            status="completed",
            output=output,
            usage=completion.usage,
            finish_reason=completion.finish_reason,
        )


def _dump(model: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return dumped


class ResponseEvents:
    """The stream events of one response, in OpenAI's order, numbered by ``sequence_number``.

    Text opens an assistant message item and its ``output_text`` part; each tool call
    is a ``function_call`` item. A message is closed when a tool call begins; tool
    calls are closed at the end (providers may interleave the arguments of parallel
    calls, and every call keeps its own ``output_index``).
    """

    def __init__(self, builder: ResponseBuilder) -> None:
        self.builder = builder
        self.output: list[OutputItem] = []
        self.streamed_chars = 0
        self._sequence = 0
        self._message: OutputMessage | None = None
        self._message_text: list[str] = []
        self._calls: dict[int, FunctionCall] = {}

    def _event(self, type: str, **fields: Any) -> dict[str, Any]:
        event = {"type": type, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _lifecycle(self, type: str, response: ResponseObject) -> dict[str, Any]:
        return self._event(type, response=_dump(response))

    def start(self) -> list[dict[str, Any]]:
        """Return ``response.created`` and ``response.in_progress``."""
        response = self.builder.response(status="in_progress", output=[])
        return [
            self._lifecycle("response.created", response),
            self._lifecycle("response.in_progress", response),
        ]

    def _open_message(self) -> list[dict[str, Any]]:
        message = OutputMessage(id=f"msg_{new_id()}", status="in_progress", content=[])
        self._message, self._message_text = message, []
        self.output.append(message)
        where = {"item_id": message.id, "output_index": len(self.output) - 1}
        return [
            self._event(
                "response.output_item.added",
                output_index=where["output_index"],
                item=_dump(message),
            ),
            self._event(
                "response.content_part.added",
                **where,
                content_index=0,
                part=_dump(OutputText(text="")),
            ),
        ]

    def _close_message(self, status: str = "completed") -> list[dict[str, Any]]:
        message = self._message
        if message is None:
            return []
        self._message = None
        index = self.output.index(message)
        text = "".join(self._message_text)
        part = OutputText(text=text)
        done = message.model_copy(update={"status": status, "content": [part]})
        self.output[index] = done
        where = {"item_id": message.id, "output_index": index}
        return [
            self._event(
                "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
            ),
            self._event("response.content_part.done", **where, content_index=0, part=_dump(part)),
            self._event("response.output_item.done", output_index=index, item=_dump(done)),
        ]

    def text(self, delta: str) -> list[dict[str, Any]]:
        """Return the events of a piece of text."""
        self.streamed_chars += len(delta)
        events = self._open_message() if self._message is None else []
        self._message_text.append(delta)
        message = self._message
        assert message is not None
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=message.id,
                output_index=self.output.index(message),
                content_index=0,
                delta=delta,
                logprobs=[],
            )
        )
        return events

    def tool_call(self, delta: ToolCallDelta) -> list[dict[str, Any]]:
        """Return the events of a piece of a tool call."""
        self.streamed_chars += len(delta.arguments)
        events: list[dict[str, Any]] = []
        call = self._calls.get(delta.index)
        if call is None:
            events.extend(self._close_message())
            call = FunctionCall(
                id=f"fc_{new_id()}",
                call_id=delta.id or f"call_{new_id()}",
                name=delta.name or "",
                arguments="",
                status="in_progress",
            )
            self._calls[delta.index] = call
            self.output.append(call)
            events.append(
                self._event(
                    "response.output_item.added",
                    output_index=len(self.output) - 1,
                    item=_dump(call),
                )
            )
        if delta.arguments:
            call.arguments += delta.arguments
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.id,
                    output_index=self.output.index(call),
                    delta=delta.arguments,
                )
            )
        return events

    def _close_calls(self, status: str = "completed") -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for call in self._calls.values():
            index = self.output.index(call)
            done = call.model_copy(update={"status": status})
            self.output[index] = done
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=call.id,
                    output_index=index,
                    arguments=call.arguments,
                )
            )
            events.append(
                self._event("response.output_item.done", output_index=index, item=_dump(done))
            )
        self._calls.clear()
        return events

    def finish(self, finish_reason: str, usage: TokenUsage) -> list[dict[str, Any]]:
        """Return the events that close the open items and complete the response."""
        status = "incomplete" if finish_reason in _INCOMPLETE else "completed"
        events = [] if self.output else self._open_message()  # an empty reply is a message too
        events += self._close_message(status) + self._close_calls()
        response = self.builder.response(
            status="completed", output=self.output, usage=usage, finish_reason=finish_reason
        )
        kind = "response.completed" if response.status == "completed" else "response.incomplete"
        events.append(self._lifecycle(kind, response))
        return events

    def error(self, code: str, message: str) -> dict[str, Any]:
        """Return an ``error`` event (the stream ends without its ``response``)."""
        return self._event("error", code=code, message=message, param=None)

    def fail(self, error: APIError) -> list[dict[str, Any]]:
        """Return ``response.failed``, the last event of a stream the provider broke.

        Its output holds what was streamed until then, the open items ``incomplete``.
        """
        output = list(self.output)
        if self._message is not None:
            text = OutputText(text="".join(self._message_text))
            update = {"status": "incomplete", "content": [text]}
            output[output.index(self._message)] = self._message.model_copy(update=update)
        for call in self._calls.values():
            output[output.index(call)] = call.model_copy(update={"status": "incomplete"})
        code = "rate_limit_exceeded" if error.status_code == 429 else "server_error"
        response = self.builder.response(
            status="failed", output=output, error=ResponseError(code=code, message=error.message)
        )
        return [self._lifecycle("response.failed", response)]
