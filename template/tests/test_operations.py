"""Probes, draining, metrics and request ids."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import AUTH, CHAT, chat_body, services_of
from .test_chat import sse_events


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
    stream = chat_body(stream=True, stream_options={"include_usage": True})
    events = sse_events(client.post(CHAT, json=stream, headers=AUTH).text)
    streamed = json.loads(events[-2])["usage"]
    metrics = client.get("/metrics").text
    route = 'route="/v1/chat/completions"'
    assert _sample(metrics, f'http_requests_total{{method="POST",{route},status="200"}}') == 2
    assert f'http_request_duration_seconds_count{{method="POST",{route}}} 2.0' in metrics
    for kind in ("prompt", "completion"):
        used = body["usage"][f"{kind}_tokens"] + streamed[f"{kind}_tokens"]
        assert _sample(metrics, f'llm_tokens_total{{model="fake-model",type="{kind}"}}') == used
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


def test_durations_land_in_the_buckets_prometheus_expects(app: FastAPI) -> None:
    """Bounds are inclusive (``le``), buckets cumulative, +Inf counts everything."""
    metrics = services_of(app).metrics
    for seconds in (0.005, 0.2, 0.2, 200.0):
        metrics.http.observe("POST", CHAT, 200, seconds)
    metrics.http.observe("GET", "/v1/models", 401, 0.001)
    text = generate_latest(metrics.registry).decode()
    samples = {
        (sample.name, sample.labels.get("le"), sample.labels["route"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "route" in sample.labels
    }
    bucket = "http_request_duration_seconds_bucket"
    assert samples[(bucket, "0.005", CHAT)] == 1
    assert samples[(bucket, "0.1", CHAT)] == 1
    assert samples[(bucket, "0.25", CHAT)] == 3
    assert samples[(bucket, "120.0", CHAT)] == 3
    assert samples[(bucket, "+Inf", CHAT)] == 4
    assert samples[("http_request_duration_seconds_count", None, CHAT)] == 4
    assert samples[("http_request_duration_seconds_sum", None, CHAT)] == pytest.approx(200.405)
    assert samples[(bucket, "0.005", "/v1/models")] == 1
    assert samples[("http_requests_total", None, CHAT)] == 4
    assert samples[("http_requests_total", None, "/v1/models")] == 1
