"""Provider failures map to 502/504 or a terminal SSE error event, and cost no budget."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .conftest import AUTH, CHAT, BrokenProvider, chat_body, services_of
from .test_chat import sse_events


def _break(app: FastAPI, provider: BrokenProvider) -> None:
    services_of(app).provider = provider


@pytest.mark.parametrize(("mode", "status"), [("error", 502), ("hang", 504)])
def test_failed_call_maps_to_gateway_status(
    app: FastAPI, client: TestClient, mode: str, status: int
) -> None:
    services = services_of(app)
    services.settings.provider_timeout_seconds = 0.2
    _break(app, BrokenProvider(mode))
    before = asyncio.run(services.budget.remaining("anything"))[0]
    response = client.post(CHAT, json=chat_body(), headers=AUTH)
    assert response.status_code == status
    assert response.json()["error"]["type"] == "api_error"
    assert asyncio.run(services.budget.remaining("anything"))[0] == before


def test_failure_before_first_chunk_is_a_plain_http_error(app: FastAPI, client: TestClient) -> None:
    _break(app, BrokenProvider("error", chunks_before_failure=0))
    response = client.post(CHAT, json=chat_body(stream=True), headers=AUTH)
    assert response.status_code == 502


@pytest.mark.parametrize(("mode", "code"), [("error", "provider_error"), ("hang", "timeout")])
def test_failure_mid_stream_ends_with_an_error_event(
    app: FastAPI, client: TestClient, mode: str, code: str
) -> None:
    services = services_of(app)
    services.settings.provider_timeout_seconds = 0.2
    _break(app, BrokenProvider(mode))
    before = asyncio.run(services.budget.remaining("anything"))[0]
    response = client.post(CHAT, json=chat_body(stream=True), headers=AUTH)
    events = sse_events(response.text)
    assert "[DONE]" not in events
    assert json.loads(events[-1])["error"]["code"] == code
    # The provider had answered: the prompt and the two streamed parts are charged.
    charged = before - asyncio.run(services.budget.remaining("anything"))[0]
    assert 0 < charged < 30


def test_failures_are_counted(app: FastAPI, client: TestClient) -> None:
    _break(app, BrokenProvider("error"))
    client.post(CHAT, json=chat_body(), headers=AUTH)
    metrics = client.get("/metrics").text
    assert 'llm_provider_errors_total{kind="error",provider="broken"} 1.0' in metrics
