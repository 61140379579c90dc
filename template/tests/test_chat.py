"""Chat completions: JSON and streamed, OpenAI's shapes, validation errors."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from .conftest import AUTH, CHAT, chat_body, services_of


def sse_events(text: str) -> list[str]:
    """Return the data fields of a server-sent event stream."""
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]


def test_completion_has_openai_shape(client: TestClient) -> None:
    response = client.post(CHAT, json=chat_body("what is up"), headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "fake-model"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert message["content"].endswith("what is up")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] == 3


def test_completion_is_deterministic(client: TestClient) -> None:
    first = client.post(CHAT, json=chat_body(), headers=AUTH).json()
    second = client.post(CHAT, json=chat_body(), headers=AUTH).json()
    assert first["choices"] == second["choices"]
    assert first["id"] != second["id"]


def test_default_model_is_used_when_none_is_given(app: FastAPI, client: TestClient) -> None:
    body = chat_body()
    del body["model"]
    response = client.post(CHAT, json=body, headers=AUTH)
    assert response.json()["model"] == services_of(app).settings.default_model


def test_max_tokens_truncates_with_length_reason(client: TestClient) -> None:
    response = client.post(CHAT, json=chat_body(max_tokens=3), headers=AUTH)
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3


def test_stream_sends_chunks_then_done(client: TestClient) -> None:
    response = client.post(CHAT, json=chat_body("stream me", stream=True), headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks: list[dict[str, Any]] = [json.loads(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    full = client.post(CHAT, json=chat_body("stream me"), headers=AUTH).json()
    assert content == full["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_reports_usage_when_asked(client: TestClient) -> None:
    body = chat_body("count me", stream=True, stream_options={"include_usage": True})
    events = sse_events(client.post(CHAT, json=body, headers=AUTH).text)
    usage_chunk = json.loads(events[-2])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 2


def test_invalid_body_is_a_400_in_openai_shape(client: TestClient) -> None:
    response = client.post(CHAT, json={"model": "m", "messages": []}, headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "messages" in error["message"]


def test_out_of_range_temperature_is_rejected(client: TestClient) -> None:
    response = client.post(CHAT, json=chat_body(temperature=7), headers=AUTH)
    assert response.status_code == 400
    assert "temperature" in response.json()["error"]["message"]


def test_malformed_json_is_rejected(client: TestClient) -> None:
    response = client.post(
        CHAT, content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_models_lists_the_default_model(app: FastAPI, client: TestClient) -> None:
    response = client.get("/v1/models", headers=AUTH)
    assert response.status_code == 200
    ids = [model["id"] for model in response.json()["data"]]
    assert ids == [services_of(app).settings.default_model]


def test_unknown_route_is_a_404_in_openai_shape(client: TestClient) -> None:
    response = client.get("/v1/nothing-here", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_openapi_documents_the_request_body_and_every_reference_resolves(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"][CHAT]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert operation["requestBody"]["required"] is True
    assert {"model", "messages", "stream", "max_tokens"} <= set(schema["properties"])
    assert schema["required"] == ["messages"]
    assert operation["security"] == [{"HTTPBearer": []}]
    for reference in re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(document)):
        node = document
        for part in reference.split("/"):
            node = node[part]
