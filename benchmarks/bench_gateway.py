"""Measure the path production runs: the service (openai adapter) and LiteLLM in front of one mock.

A mock OpenAI upstream (raw asyncio, answering at once, pinned to its own core with
``taskset`` where there is one) stands in for the provider. In front of it, in
interleaved rounds so a shared machine slows all alike:

- **service**: the default project rendered with ``llm_provider=openai``, installed as the
  image installs it, ``OPENAI_BASE_URL`` pointing at the mock (``--state-backend memory``
  and/or ``redis``: a ``redis-server`` on a free loopback port, if the project has that
  setting);
- **litellm**: LiteLLM proxy (``litellm[proxy]`` from PyPI, installed by this script into a
  throwaway virtualenv with uv), one model entry pointing at the same mock, no database;
- **direct**: the load generator calling the mock itself (the floor).

Measured as ``bench_service.py`` measures (its HTTP/1.1 client and phases): requests/s at
``--concurrency`` connections, the server process's CPU time per request (from /proc),
p50/p99 one request at a time, a 256-chunk stream's first chunk and total, RSS, start-up
time, and the upstream connections the server opened (the mock counts its accepts)::

    uv run python benchmarks/bench_gateway.py [--rounds 3] [--seconds 4] \\
        [--state-backend memory redis] [--project DIR] [--litellm-venv DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bench_service
from bench_service import (
    API_KEY,
    STREAM_CHUNKS,
    UV,
    App,
    Connection,
    Results,
    _free_port,
    _measure,
    _p,
    _prepare,
    _rss_mb,
    _serving,
    _uv_env,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL = "fake-model"
# LiteLLM refuses to start without a strong master key; both gateways check this one.
GATEWAY_KEY = "sk-bench-" + "0123456789abcdef" * 2
# bench_service's phases send its module-level requests: the same bodies, this key.
for _name in ("COMPLETION", "STREAM"):
    _raw: bytes = getattr(bench_service, _name)
    setattr(
        bench_service,
        _name,
        _raw.replace(f"Bearer {API_KEY}".encode(), b"Bearer " + GATEWAY_KEY.encode()),
    )

MOCK_UPSTREAM = r'''
"""A mock OpenAI chat completions upstream: answers at once, counts accepted connections."""
import asyncio, json, os, sys

CHUNKS = int(sys.argv[2])
accepts = 0
COMPLETION = json.dumps({
    "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": "fake-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
}).encode()


def _event(payload):
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _chunk(delta, finish=None):
    return {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
            "model": "fake-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


STREAM = b"".join(
    [_event(_chunk({"role": "assistant", "content": ""}))]
    + [_event(_chunk({"content": f"w{i} "})) for i in range(CHUNKS)]
    + [_event(_chunk({}, "stop"))]
)
USAGE = _event({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
                "model": "fake-model", "choices": [],
                "usage": {"prompt_tokens": 9, "completion_tokens": CHUNKS,
                          "total_tokens": 9 + CHUNKS}})
DONE = b"data: [DONE]\n\n"


def _response(status, body, content_type=b"application/json"):
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type
            + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _chunked(body):
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n")
    return head + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


async def serve(reader, writer):
    global accepts
    accepts += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            if headers.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while (size := int((await reader.readline()).strip(), 16)):
                    parts.append((await reader.readexactly(size + 2))[:-2])
                await reader.readline()
                body = b"".join(parts)
            else:
                body = await reader.readexactly(int(headers.get("content-length", 0)))
            path = lines[0].split(" ")[1]
            if path == "/stats":
                writer.write(_response(b"200 OK", json.dumps({"accepts": accepts}).encode()))
            elif path.endswith("/chat/completions"):
                request = json.loads(body)
                if request.get("stream"):
                    usage = (request.get("stream_options") or {}).get("include_usage")
                    writer.write(_chunked(STREAM + (USAGE if usage else b"") + DONE))
                else:
                    writer.write(_response(b"200 OK", COMPLETION))
            elif path in ("/readyz", "/health/liveliness"):
                writer.write(_response(b"200 OK", b"{}"))
            else:
                writer.write(_response(b"404 Not Found", b"{}"))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    async with server:
        await server.serve_forever()

asyncio.run(main())
'''

LITELLM_CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {base_url}
      api_key: unused
litellm_settings:
  telemetry: false
  drop_params: true
"""


@dataclass
class Gateway:
    """One system under test, its measurements and the upstream connections it opened."""

    app: App
    connections: list[int] = field(default_factory=list)
    stream_connections: list[int] = field(default_factory=list)


def _taskset(cpu: int | None) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu)] if taskset and cpu is not None else []


@contextmanager
def _mock_upstream(work: Path, python: str) -> Iterator[tuple[int, int]]:
    """Run the mock on the last core (the servers and the client share the others)."""
    script = work / "mock_upstream.py"
    script.write_text(MOCK_UPSTREAM)
    port = _free_port()
    cores = os.cpu_count() or 1
    command = [*_taskset(cores - 1 if cores > 1 else None), python, str(script), str(port)]
    process = subprocess.Popen([*command, str(STREAM_CHUNKS)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                _accepts(port)
                break
            except OSError:
                time.sleep(0.02)
        yield port, process.pid  # taskset execs the interpreter: the same pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def _accepts(port: int) -> int:
    """Return the connections the mock has accepted (the /stats request's own included)."""

    async def ask() -> int:
        connection = await Connection.open(port)
        _, body, _ = await connection.send(b"GET /stats HTTP/1.1\r\nHost: mock\r\n\r\n")
        connection.close()
        accepts: int = json.loads(body)["accepts"]
        return accepts

    return asyncio.run(ask())


@contextmanager
def _redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, no persistence."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("--state-backend redis needs redis-server on PATH")
    port = _free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _redis_commands(url: str) -> int:
    """Return INFO's total_commands_processed, asked over RESP on a plain socket."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n")
        reader = conn.makefile("rb")
        header = reader.readline()  # $<length> of the bulk string
        reply = reader.read(int(header[1:]))
    for line in reply.decode().splitlines():
        if line.startswith("total_commands_processed:"):
            return int(line.split(":", 1)[1])
    raise SystemExit(f"no command count in redis-server's INFO: {reply[:200]!r}")


def _render(work: Path, *, redis: bool) -> Path:
    from copier import run_copy

    project = work / "service"
    data = {"llm_provider": "openai"}
    if redis and "\nstate_backend:" in (REPO_ROOT / "copier.yml").read_text(encoding="utf-8"):
        data["state_backend"] = "redis"  # the Redis store is rendered only when asked for
    run_copy(
        str(REPO_ROOT), project, data=data, vcs_ref="HEAD", defaults=True, unsafe=True, quiet=True
    )
    return project


def _litellm(work: Path, venv: Path | None) -> Path:
    """Install ``litellm[proxy]`` into a throwaway virtualenv; return its ``litellm`` command."""
    if venv is None:
        venv = work / "litellm-venv"
        python = str(venv / "bin" / "python")
        uv_env = _uv_env()
        subprocess.run([UV, "venv", "-q", "-p", sys.executable, str(venv)], env=uv_env, check=True)
        install: list[str | Path] = [UV, "pip", "install", "-q", "--python", python]
        install.append("litellm[proxy]")
        subprocess.run(install, env=uv_env, check=True)
    return venv / "bin" / "litellm"


def _has_setting(project: Path, name: str) -> bool:
    config = next((project / "src").glob("*/config.py"))
    return f"{name}:" in config.read_text(encoding="utf-8")


def _round(gateway: Gateway, mock_port: int, args: argparse.Namespace, log: Path) -> None:
    """Start the gateway, measure it, and count the upstream connections of its phases."""
    app = gateway.app
    with _serving(app, log) as (process, port, started):
        app.results.start_s.append(started)
        time.sleep(0.5)
        app.results.rss_idle_mb.append(_rss_mb(process.pid))
        before = _accepts(mock_port)
        asyncio.run(_measure(process.pid, port, args, app.results))
        gateway.connections.append(_accepts(mock_port) - before - 1)
        before = _accepts(mock_port)
        asyncio.run(_sequential_streams(port, 20))
        gateway.stream_connections.append(_accepts(mock_port) - before - 1)
        app.results.rss_loaded_mb.append(_rss_mb(process.pid))


async def _sequential_streams(port: int, count: int) -> None:
    """Streams one after another on one client connection (the issue's reuse check)."""
    connection = await Connection.open(port)
    for _ in range(count):
        await connection.send(bench_service.STREAM)
    connection.close()


def _direct(mock: tuple[int, int], args: argparse.Namespace) -> Results:
    """The client calling the mock itself, in the same phases (CPU: the mock's own)."""
    port, pid = mock
    results = Results()
    asyncio.run(_measure(pid, port, args, results))
    return results


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_service.add_phase_arguments(parser)
    parser.add_argument(
        "--state-backend", nargs="+", default=["memory"], choices=["memory", "redis"]
    )
    parser.add_argument("--project", type=Path, help="an already rendered openai project")
    parser.add_argument("--litellm-venv", type=Path, help="a virtualenv with litellm[proxy]")
    parser.add_argument("--no-litellm", action="store_true", help="measure the service only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        work = Path(tmp)
        with_redis = "redis" in args.state_backend
        project = args.project.resolve() if args.project else _render(work, redis=with_redis)
        python, _ = _prepare(project, work)
        package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
        backends = list(args.state_backend)
        if "redis" in backends and not _has_setting(project, "state_backend"):
            print("the project has no STATE_BACKEND setting yet: measuring memory only")
            backends = [b for b in backends if b != "redis"]
        log = work / "server.log"
        env = {k: v for k, v in os.environ.items() if k not in ("PYENV_VERSION", "VIRTUAL_ENV")}
        gateways: dict[str, Gateway] = {}
        for backend in backends:
            service_env = {
                **env,
                "LLM_PROVIDER": "openai",
                "OPENAI_API_KEY": "unused",
                "DEFAULT_MODEL": MODEL,
                "API_KEYS": GATEWAY_KEY,
                "LOG_LEVEL": "WARNING",
                "DAILY_TOKEN_BUDGET": str(10**12),
                "DAILY_TOKEN_BUDGET_PER_KEY": str(10**12),
                "STATE_BACKEND": backend,
            }
            command = [str(python), "-m", package]
            gateways[f"service ({backend})"] = Gateway(
                App(f"service-{backend}", command, service_env, work)
            )
        if not args.no_litellm:
            litellm_app = App(
                "litellm",
                [str(_litellm(work, args.litellm_venv)), "--config", str(work / "litellm.yaml"),
                 "--host", "127.0.0.1", "--num_workers", "1", "--port", "{port}"],
                {**env, "LITELLM_LOG": "ERROR", "LITELLM_MASTER_KEY": GATEWAY_KEY},
                work,
                ready=b"GET /health/liveliness HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            )  # fmt: skip
            gateways["litellm"] = Gateway(litellm_app)

        direct = Results()
        with _mock_upstream(work, sys.executable) as mock, _redis_or_none(backends) as redis:
            base_url = f"http://127.0.0.1:{mock[0]}/v1"
            for name, gateway in gateways.items():
                gateway.app.env["OPENAI_BASE_URL"] = base_url
                if name == "service (redis)" and redis is not None:
                    gateway.app.env["REDIS_URL"] = redis
            litellm_config = LITELLM_CONFIG.format(model=MODEL, base_url=base_url)
            (work / "litellm.yaml").write_text(litellm_config)
            order = list(gateways.values())
            for round_ in range(args.rounds):
                for gateway in order if round_ % 2 == 0 else order[::-1]:
                    _round(gateway, mock[0], args, log)
                round_direct = _direct(mock, args)
                for name in ("rps", "latency_ms", "first_event_ms", "stream_ms", "cpu_us"):
                    getattr(direct, name).extend(getattr(round_direct, name))
                direct.errors += round_direct.errors
            if redis is not None:
                # Proof the redis column measured Redis: the service's reservations reached it.
                commands = _redis_commands(redis)
                print(f"redis-server processed {commands} commands")
                if commands < args.rounds:
                    raise SystemExit("the service (redis) did not use Redis")
        if args.project is None:
            shutil.rmtree(project, ignore_errors=True)
    _report(gateways, direct, args)


@contextmanager
def _redis_or_none(backends: list[str]) -> Iterator[str | None]:
    if "redis" not in backends:
        yield None
        return
    with _redis_server() as url:
        yield url


def _report(gateways: dict[str, Gateway], direct: Results, args: argparse.Namespace) -> None:
    median = statistics.median
    today = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
    print(
        f"{today}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.rounds} rounds,"
        f" concurrency {args.concurrency}, mock upstream pinned with taskset: "
        f"{bool(shutil.which('taskset'))}"
    )
    names = [*gateways, "direct to the mock"]
    print("| measurement | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    everyone = [g.app.results for g in gateways.values()]

    def row(name: str, pick: object, with_direct: bool = True) -> None:
        assert callable(pick)
        cells = [f"{pick(results):.2f}" for results in everyone]
        cells.append(f"{pick(direct):.2f}" if with_direct else "")
        print(f"| {name} | " + " | ".join(cells) + " |")

    row("requests/s, non-streamed", lambda r: median(r.rps))
    row("server CPU per request (us)", lambda r: median(r.cpu_us))
    row("p50 latency (ms)", lambda r: _p(r.latency_ms, 0.5))
    row("p99 latency (ms)", lambda r: _p(r.latency_ms, 0.99))
    row(f"{STREAM_CHUNKS}-chunk stream: first chunk (ms)", lambda r: median(r.first_event_ms))
    row(f"{STREAM_CHUNKS}-chunk stream: total (ms)", lambda r: median(r.stream_ms))
    row("start to first 200 (s)", lambda r: median(r.start_s), with_direct=False)
    row("RSS idle (MB)", lambda r: median(r.rss_idle_mb), with_direct=False)
    row("RSS after load (MB)", lambda r: median(r.rss_loaded_mb), with_direct=False)
    connections = [f"{max(g.connections)}" for g in gateways.values()]
    print("| upstream connections opened, whole load (max of rounds) | "
          + " | ".join(connections) + " | |")  # fmt: skip
    streams = [f"{max(g.stream_connections)}" for g in gateways.values()]
    print("| upstream connections opened, 20 sequential streams | "
          + " | ".join(streams) + " | |")  # fmt: skip
    errors = ", ".join(f"{name} {g.app.results.errors}" for name, g in gateways.items())
    print(f"\nerrors: {errors}, direct {direct.errors}")
    service = next((g for name, g in gateways.items() if name == "service (memory)"), None)
    if service is not None and "litellm" in gateways:
        ratio = median(service.app.results.rps) / median(gateways["litellm"].app.results.rps)
        print(f"service (memory) / LiteLLM throughput: {ratio:.2f} (target >= 4)")
    if "service (redis)" in gateways and service is not None:
        redis_cpu = median(gateways["service (redis)"].app.results.cpu_us)
        ratio = redis_cpu / median(service.app.results.cpu_us)
        print(f"redis / memory CPU per request: {ratio:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
