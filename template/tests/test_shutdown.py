"""SIGTERM against the real server process: readiness, open streams, refusal, exit code."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx2
import pytest

from .conftest import AUTH, CHAT, chat_body
from .live import LiveService

pytestmark = pytest.mark.anyio

STREAMS = 10


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _open_streams(
    client: httpx2.AsyncClient, count: int
) -> tuple[list[asyncio.Task[list[str]]], asyncio.Event]:
    """Start ``count`` streams; the event is set once each has received its first event."""
    opened = 0
    all_open = asyncio.Event()

    async def stream(index: int) -> list[str]:
        nonlocal opened
        events: list[str] = []
        body = chat_body(f"stream {index}", stream=True)
        try:
            async with client.stream("POST", CHAT, json=body, headers=AUTH) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        events.append(line.removeprefix("data: "))
                        if len(events) == 1:
                            opened += 1
                            if opened == count:
                                all_open.set()
        except httpx2.TransportError:
            events.append("<connection lost>")
        return events

    return [asyncio.create_task(stream(index)) for index in range(count)], all_open


async def _wait_exit(service: LiveService, within: float) -> int:
    assert service.process is not None
    return await asyncio.to_thread(service.process.wait, within)


async def test_sigterm_drains_then_refuses_then_exits_0(tmp_path: Path) -> None:
    delay, grace = 1.0, 5
    env = {
        "SHUTDOWN_DELAY_SECONDS": str(delay),
        "SHUTDOWN_TIMEOUT_SECONDS": str(grace),
        "FAKE_REPLY_TOKENS": "40",
        "FAKE_CHUNK_DELAY_SECONDS": "0.05",  # 2 s streams: they outlive the delay
    }
    with LiveService(tmp_path, **env) as service:
        async with (
            asyncio.timeout(30),
            service.client(connections=STREAMS) as client,
            service.client(keep_alive=False) as fresh,
        ):
            streams, all_open = await _open_streams(client, STREAMS)
            await all_open.wait()
            service.terminate()
            sent = time.monotonic()

            readiness = await fresh.get("/readyz")
            assert readiness.status_code == 503
            assert time.monotonic() - sent < 0.5, "readiness turns 503 at once"
            during_delay = await fresh.post(CHAT, json=chat_body(), headers=AUTH)
            assert during_delay.status_code == 200, "traffic is still served during the delay"

            await asyncio.sleep(delay + 0.3 - (time.monotonic() - sent))
            with pytest.raises(httpx2.ConnectError):
                await fresh.get("/readyz")

            results = await asyncio.gather(*streams)
            code = await _wait_exit(service, grace + 5)
            elapsed = time.monotonic() - sent

    assert code == 0
    assert elapsed < delay + grace, "the process exits within the configured bound"
    assert all(events[-1] == "[DONE]" for events in results), "open streams finished"


async def test_idle_service_exits_0_at_once_and_refuses_connections(tmp_path: Path) -> None:
    with LiveService(tmp_path) as service:
        async with asyncio.timeout(30), service.client(keep_alive=False) as fresh:
            service.terminate()
            sent = time.monotonic()
            code = await _wait_exit(service, 5)
            with pytest.raises(httpx2.ConnectError):
                await fresh.get("/readyz")
    assert code == 0
    assert time.monotonic() - sent < 2


async def test_streams_longer_than_the_grace_end_with_an_error_event_and_no_traceback(
    tmp_path: Path,
) -> None:
    """Cut streams end with the shutdown error event, one WARNING each, nothing worse."""
    grace = 1
    env = {
        "SHUTDOWN_TIMEOUT_SECONDS": str(grace),
        "FAKE_REPLY_TOKENS": "200",
        "FAKE_CHUNK_DELAY_SECONDS": "0.05",  # 10 s streams
    }
    with LiveService(tmp_path, **env) as service:
        async with asyncio.timeout(30), service.client(connections=STREAMS) as client:
            streams, all_open = await _open_streams(client, STREAMS)
            await all_open.wait()
            service.terminate()
            sent = time.monotonic()
            code = await _wait_exit(service, grace + 5)
            elapsed = time.monotonic() - sent
            results = await asyncio.gather(*streams)
        log = service.log()

    assert code == 0
    assert elapsed < grace + 1.5
    for events in results:
        assert events[-1] != "[DONE]", "clients can tell it was cut"
        assert json.loads(events[-1])["error"]["code"] == "shutdown", events[-1]
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    cuts = [r for r in records if r["message"] == "stream cut at the shutdown deadline"]
    assert len(cuts) == STREAMS
    assert all(r["level"] == "warning" and "request_id" in r for r in cuts)
    assert len({r["request_id"] for r in cuts}) == STREAMS, "one line per cut stream"
    assert not [r for r in records if r["level"] in ("error", "critical")], log
    assert "Traceback" not in log
    assert "timeout graceful shutdown exceeded" not in log, "nothing was left to cancel"
