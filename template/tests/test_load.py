"""Hundreds of concurrent streams against the real server process, on loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx2
import pytest

from .conftest import AUTH, CHAT, chat_body, metric
from .live import LiveService

pytestmark = pytest.mark.anyio

CLIENTS = 200
TOKENS = 60
CHUNK_DELAY = "0.05"
"""60 chunks 50 ms apart: each stream lasts 3 s, so all 200 are open at once."""
IN_FLIGHT = "http_requests_in_flight"
DURATION = 'http_request_duration_seconds_count{method="POST",route="/v1/chat/completions"}'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _in_flight_after_all_finished(client: httpx2.AsyncClient) -> float:
    """The gauge drops just after the last byte is sent; give it a moment."""
    for _ in range(40):
        value = metric((await client.get("/metrics")).text, IN_FLIGHT)
        if value == 0:
            break
        await asyncio.sleep(0.05)
    return value


async def test_concurrent_streams_all_complete(tmp_path: Path) -> None:
    env = {"FAKE_REPLY_TOKENS": str(TOKENS), "FAKE_CHUNK_DELAY_SECONDS": CHUNK_DELAY}
    with LiveService(tmp_path, **env) as service:
        opened = 0
        all_open = asyncio.Event()

        async def stream(client: httpx2.AsyncClient, index: int) -> list[str]:
            nonlocal opened
            events: list[str] = []
            body = chat_body(f"client {index}", stream=True, max_tokens=TOKENS)
            async with client.stream("POST", CHAT, json=body, headers=AUTH) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    events.append(line.removeprefix("data: "))
                    if len(events) == 1:
                        opened += 1
                        if opened == CLIENTS:
                            all_open.set()
            return events

        async with (
            asyncio.timeout(60),
            service.client(connections=CLIENTS) as client,
            service.client() as observer,
        ):
            streams = asyncio.gather(*(stream(client, index) for index in range(CLIENTS)))
            await all_open.wait()
            in_flight_with_all_open = metric((await observer.get("/metrics")).text, IN_FLIGHT)
            results = await streams
            in_flight_at_end = await _in_flight_after_all_finished(observer)
            metrics = (await observer.get("/metrics")).text

    assert in_flight_with_all_open == CLIENTS
    for events in results:
        assert events[-1] == "[DONE]"
        chunks = [json.loads(event) for event in events[:-1]]
        assert sum(1 for c in chunks if c["choices"][0]["delta"].get("content")) == TOKENS
    assert in_flight_at_end == 0
    assert metric(metrics, DURATION) == CLIENTS
    route = 'method="POST",route="/v1/chat/completions"'
    assert metric(metrics, "http_requests_total{" + route + ',status="200"}') == CLIENTS


async def test_faults_and_disconnects_under_load_leak_nothing(tmp_path: Path) -> None:
    """A quarter of the calls lose their upstream mid-stream, a tenth of the clients leave."""
    env = {
        "FAKE_REPLY_TOKENS": "20",
        "FAKE_CHUNK_DELAY_SECONDS": "0.01",
        "FAKE_FAULT": "reset",
        "FAKE_FAULT_EVERY": "4",
        "FAKE_FAULT_AFTER_CHUNKS": "10",
    }
    clients = 100
    with LiveService(tmp_path, **env) as service:

        async def stream(client: httpx2.AsyncClient, index: int) -> str:
            body = chat_body(f"client {index}", stream=True)
            async with client.stream("POST", CHAT, json=body, headers=AUTH) as response:
                assert response.status_code == 200
                last, received = "", 0
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        last, received = line.removeprefix("data: "), received + 1
                        if index % 10 == 9 and received == 3:
                            return "left"
            return "done" if last == "[DONE]" else json.loads(last)["error"]["code"]

        async with (
            asyncio.timeout(60),
            service.client(connections=clients) as client,
            service.client() as observer,
        ):
            outcomes = await asyncio.gather(*(stream(client, index) for index in range(clients)))
            in_flight_at_end = await _in_flight_after_all_finished(observer)
            metrics = (await observer.get("/metrics")).text
            ready = (await observer.get("/readyz")).status_code
        log = service.log()

    left, failed = outcomes.count("left"), outcomes.count("provider_error")
    assert left == clients // 10
    assert failed > 0
    assert outcomes.count("done") + failed + left == clients
    errors = 'llm_provider_errors_total{kind="unexpected",provider="fake"}'
    assert failed <= metric(metrics, errors) <= failed + left
    assert in_flight_at_end == 0
    assert ready == 200
    assert "Exception in ASGI application" not in log
