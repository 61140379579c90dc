"""Probes, draining, metrics and request ids."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from .conftest import AUTH, CHAT, chat_body, services_of


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readiness_is_503_while_draining(app: FastAPI, client: TestClient) -> None:
    services_of(app).lifecycle.start_draining()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert client.get("/healthz").status_code == 200


def _sample(metrics: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name} not in metrics"
    return float(match.group(1))


def test_metrics_count_requests_tokens_and_in_flight(client: TestClient) -> None:
    body = client.post(CHAT, json=chat_body("count these words"), headers=AUTH).json()
    client.post(CHAT, json=chat_body(stream=True), headers=AUTH)
    metrics = client.get("/metrics").text
    route = 'route="/v1/chat/completions"'
    assert _sample(metrics, f'http_requests_total{{method="POST",{route},status="200"}}') == 2
    assert f'http_request_duration_seconds_count{{method="POST",{route}}} 2.0' in metrics
    prompt = _sample(metrics, 'llm_tokens_total{model="fake-model",type="prompt"}')
    assert prompt >= body["usage"]["prompt_tokens"]
    assert _sample(metrics, "http_requests_in_flight") == 0


def test_unmatched_routes_do_not_explode_label_cardinality(client: TestClient) -> None:
    client.get("/no/such/path/123", headers=AUTH)
    client.get("/no/such/path/456", headers=AUTH)
    metrics = client.get("/metrics").text
    assert 'route="unmatched",status="404"} 2.0' in metrics


def test_request_id_is_returned_and_reused(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
