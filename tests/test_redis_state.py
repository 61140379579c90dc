"""Two processes of the generated service share budgets and rate limits in a real Redis.

The redis combination is rendered and installed, a ``redis-server`` starts on a free
loopback port and two processes of the service (fake provider, a small chunk delay, so
requests overlap) take concurrent load from several keys. No mock stands in for Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import Renderer
from tests.helpers import ServiceProcess, free_port, require_tool, run

pytestmark = pytest.mark.slow

UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
KEYS = ["key-a", "key-b", "key-c", "key-d"]
CHAT = "/v1/chat/completions"


class RedisServer:
    """``redis-server`` on a free loopback port, no persistence (a test's own)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                require_tool("redis-server"),
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.cli = [require_tool("redis-cli"), "-p", str(self.port)]
        deadline = time.monotonic() + 10
        while self.command("PING") != "PONG":
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)

    def command(self, *args: str) -> str:
        result = subprocess.run([*self.cli, *args], capture_output=True, text=True, check=False)
        return result.stdout.strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _replica(project: Path, env: dict[str, str], log: Path) -> ServiceProcess:
    """One process of the service (``python -m <package>``, uvicorn) on its own port."""
    settings = {
        "API_KEYS": " ".join(KEYS),
        "LOG_LEVEL": "WARNING",
        "STATE_BACKEND": "redis",
        "FAKE_CHUNK_DELAY_SECONDS": "0.005",
        "FAKE_REPLY_TOKENS": "20",
        "SERVED_MODELS": "fake-model",
        # Two cores run both replicas, Redis and the load: a slow answer is not an
        # outage here (the outage test stops Redis for real).
        "REDIS_TIMEOUT_SECONDS": "5",
        **env,
    }
    return ServiceProcess(project, log, what="a replica of the service", settings=settings)


@pytest.fixture(scope="module")
def project(rendered: Renderer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The redis combination, locked and installed as a user would."""
    uv = require_tool("uv")
    dst = tmp_path_factory.mktemp("redis-state") / "service"
    shutil.copytree(rendered({"state_backend": "redis"}), dst)
    if not (dst / "uv.lock").exists():
        run([uv, "lock"], cwd=dst, env=UV_ENV)
    run([uv, "sync", "--locked"], cwd=dst, env=UV_ENV)
    return dst


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def _replicas(project: Path, env: dict[str, str], log: Path) -> list[ServiceProcess]:
    return [_replica(project, env, log) for _ in range(2)]


async def _load(replicas: list[ServiceProcess], per_key: int) -> list[tuple[str, int, int, str]]:
    """Send ``per_key`` requests from each key at once, alternating replicas and streaming.

    Returns (key, status, tokens charged, error code) per request.
    """
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def call(index: int, key: str) -> tuple[str, int, int, str]:
            stream = index % 2 == 0
            body: dict[str, Any] = {
                "model": "fake-model",
                "messages": [{"role": "user", "content": f"request {index} from {key} a b c"}],
                "max_tokens": 40,
            }
            if stream:
                body |= {"stream": True, "stream_options": {"include_usage": True}}
            replica = replicas[index % len(replicas)]
            response = await client.post(
                replica.base_url + CHAT, json=body, headers={"Authorization": f"Bearer {key}"}
            )
            if response.status_code != 200:
                return key, response.status_code, 0, response.json()["error"]["code"]
            if not stream:
                return key, 200, int(response.json()["usage"]["total_tokens"]), ""
            events = [
                line.removeprefix("data: ")
                for line in response.text.splitlines()
                if line.startswith("data: ")
            ]
            assert events[-1] == "[DONE]"
            return key, 200, int(json.loads(events[-2])["usage"]["total_tokens"]), ""

        return await asyncio.gather(*(call(index, key) for index in range(per_key) for key in KEYS))


def _settled(redis: RedisServer, prefix: str) -> int:
    day = int(time.time() // 86_400)
    return int(redis.command("HGET", f"{{{prefix}}}:day:{day}", "s") or 0)


def test_replicas_share_the_daily_budget_and_a_restart_keeps_it(
    project: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Strict budgets: settled spend over both replicas, and after restarting both,
    never passes the shared budget; Redis holds exactly what the responses reported."""
    if dt.datetime.now(dt.UTC).time() > dt.time(23, 58):
        time.sleep(180)  # the day must not turn over between the two rounds
    budget, prefix = 3000, "budget-test"
    env = {
        "REDIS_URL": redis_server.url,
        "REDIS_KEY_PREFIX": prefix,
        "DAILY_TOKEN_BUDGET": str(budget),
        "DAILY_TOKEN_BUDGET_PER_KEY": "1200",
        "STRICT_BUDGETS": "true",
    }
    log = tmp_path / "service.log"
    replicas = _replicas(project, env, log)
    try:
        first = asyncio.run(_load(replicas, per_key=60))
    finally:
        for replica in replicas:
            replica.stop()
    spent_first = sum(tokens for _, _, tokens, _ in first)
    codes = Counter(code for _, status, _, code in first if status != 200)
    assert set(codes) == {"token_budget_exceeded"}, codes
    assert 0 < spent_first <= budget
    for key in KEYS:
        assert sum(tokens for k, _, tokens, _ in first if k == key) <= 1200
    assert _settled(redis_server, prefix) == spent_first, "Redis holds what was charged"

    replicas = _replicas(project, env, log)  # a rollout: both processes are new
    try:
        second = asyncio.run(_load(replicas, per_key=60))
    finally:
        for replica in replicas:
            replica.stop()
    spent_second = sum(tokens for _, _, tokens, _ in second)
    assert spent_first + spent_second <= budget, "the restart forgot the day's spend"
    assert _settled(redis_server, prefix) == spent_first + spent_second
    assert "Traceback" not in log.read_text(errors="replace")


def test_rate_limits_hold_across_replicas(
    project: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    """20 requests per minute per key, 40 sent by each key to two replicas at once."""
    rpm = 20
    env = {"REDIS_URL": redis_server.url, "REQUESTS_PER_MINUTE": str(rpm)}
    replicas = _replicas(project, env, tmp_path / "service.log")
    try:
        begin = time.monotonic()
        results = asyncio.run(_load(replicas, per_key=40))
        elapsed = time.monotonic() - begin
    finally:
        for replica in replicas:
            replica.stop()
    refill = int(elapsed * rpm / 60) + 1  # the bucket refills while the load runs
    for key in KEYS:
        admitted = sum(1 for k, status, _, _ in results if k == key and status == 200)
        assert rpm <= admitted <= rpm + refill, (key, admitted)
    codes = Counter(code for _, status, _, code in results if status != 200)
    assert set(codes) == {"rate_limit_exceeded"}, codes


def test_redis_outage_answers_503_and_recovers(
    project: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Fail closed by default: Redis stops, requests get 503; it starts again, they pass."""
    replica = _replica(project, {"REDIS_URL": redis_server.url}, tmp_path / "service.log")
    try:
        url = replica.base_url + CHAT
        body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
        auth = {"Authorization": f"Bearer {KEYS[0]}"}
        assert httpx.post(url, json=body, headers=auth, timeout=10).status_code == 200
        redis_server.stop()
        down = httpx.post(url, json=body, headers=auth, timeout=10)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "limits_unavailable"
    finally:
        replica.stop()
