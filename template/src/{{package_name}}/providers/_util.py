"""Helpers more than one adapter needs: data URLs, upstream errors, JSON placeholders."""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from .base import Message, ProviderError, ResponseFormat, Tool, UnsupportedError

logger = logging.getLogger(__name__)

# The tool that carries structured output for providers without a JSON mode
# (Anthropic and Bedrock both document a forced tool for it).
RESPONSE_TOOL = "json_response"

_ERROR_TYPES = {
    404: "not_found_error",
    429: "rate_limit_error",
}


def decode_data_url(url: str, *, param: str) -> tuple[str, bytes]:
    """Return the media type and bytes of a base64 ``data:`` URL."""
    header, comma, data = url.partition(",")
    media_type = header.removeprefix("data:").removesuffix(";base64")
    if not comma or not header.endswith(";base64") or not media_type.startswith("image/"):
        raise UnsupportedError("images must be base64 data: URLs of an image type", param=param)
    try:
        return media_type, base64.b64decode(data, validate=True)
    except binascii.Error as error:
        raise UnsupportedError("the image's data: URL is not valid base64", param=param) from error


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Return an upstream ``Retry-After`` (seconds or an HTTP date) in seconds."""
    if milliseconds := headers.get("retry-after-ms"):
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def upstream_error(
    provider: str,
    status: int,
    message: str,
    *,
    code: str | None = None,
    type: str | None = None,
    param: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """Return the error an upstream HTTP error becomes.

    A 4xx keeps its status and the provider's own message and code (the request is at
    fault, so the client must not retry it as if the gateway had failed); a 5xx becomes
    a retryable 502 that names the provider.
    A 401 or 403 refuses the service's own credentials, not the caller's: the client
    gets a 502 that says so without the provider's message (it may name the account, a
    role or part of the key), which goes to the log instead.
    """
    if status in (401, 403):
        logger.warning(
            "provider refused the service's credentials",
            extra={"fields": {"provider": provider, "status": status, "error": message}},
        )
        return ProviderError(
            f"{provider} refused the service's credentials",
            status=502,
            code="provider_auth_failed",
            retryable=False,
        )
    if 400 <= status < 500:
        return ProviderError(
            message,
            status=status,
            type=type or _ERROR_TYPES.get(status, "invalid_request_error"),
            code=code or ("rate_limit_exceeded" if status == 429 else None),
            param=param,
            retry_after=retry_after,
        )
    return ProviderError(
        f"{provider} answered {status}: {message}",
        status=502,
        code=code or "provider_error",
        retry_after=retry_after,
    )


def refuse_names(messages: list[Message], provider: str) -> None:
    """Refuse participant names, which the provider's messages have no field for.

    A ``tool`` message's name only repeats the called function's, which its
    ``tool_call_id`` already identifies.
    """
    for index, message in enumerate(messages):
        if message.name is not None and message.role != "tool":
            raise UnsupportedError(
                f"{provider} messages have no participant names", param=f"messages.{index}.name"
            )


def parse_arguments(arguments: str, *, param: str) -> Any:
    """Return the JSON value of a tool call's ``arguments``."""
    try:
        return json.loads(arguments or "{}")
    except json.JSONDecodeError as error:
        raise UnsupportedError("tool call arguments are not valid JSON", param=param) from error


def response_tool(response_format: ResponseFormat) -> Tool:
    """Return the forced tool that asks for the response format's JSON."""
    schema = response_format.schema or {"type": "object"}
    if response_format.type == "json_object":
        description = "Respond with a JSON object."
    else:
        description = response_format.description or "Respond with JSON of this schema."
    return Tool(
        name=RESPONSE_TOOL,
        description=description,
        parameters=schema,
        strict=response_format.strict,
    )


def placeholder(schema: Mapping[str, Any]) -> Any:
    """Return a value of a JSON schema: its required properties filled with placeholders."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return placeholder(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: placeholder(properties.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        items = schema.get("items", {})
        return [placeholder(items) for _ in range(schema.get("minItems", 0))]
    return {"string": "string", "integer": 0, "number": 0.0, "boolean": False}.get(kind)
