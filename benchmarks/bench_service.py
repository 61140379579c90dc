"""Measure the generated service (fake provider) against a bare FastAPI app, on loopback.

Renders the default project (or takes ``--project``), installs its runtime dependencies
only (``uv sync --no-dev``, as the container image does) and serves both apps with the
same Python, the same uvicorn settings and the same JSON body. The two apps are measured
in alternating rounds, so a shared machine slows both alike and the ratios hold:

- non-streamed completions: requests/s at ``--concurrency`` keep-alive connections, the
  server's CPU time per request meanwhile (what the app costs, whatever the client
  does), and p50/p99 latency one request at a time;
- a 256-chunk stream: time to the first event and to ``[DONE]``;
- process start to the first 200 from ``/readyz``;
- resident memory idle (after start) and after the load; runtime virtualenv size.

The load generator is a small asyncio HTTP/1.1 client in this file (stdlib only)::

    uv run python benchmarks/bench_service.py [--rounds 3] [--seconds 4] [--project DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import signal
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

REPO_ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).parent / "uv"
API_KEY = "bench-key"
STREAM_CHUNKS = 256
CHAT = "/v1/chat/completions"

BARE_APP = '''
"""A bare FastAPI app: the same routes and bodies as the service, no work behind them."""
import json, os, sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

BODY = json.loads(open(sys.argv[1]).read())
EVENTS = json.loads(open(sys.argv[2]).read())
app = FastAPI()


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/v1/chat/completions")
async def chat(body: dict[str, Any]) -> Any:
    if body.get("stream"):
        async def events():
            for event in EVENTS:
                yield event
        return StreamingResponse(events(), media_type="text/event-stream")
    return BODY


uvicorn.run(  # the settings of the service's __main__.py
    app, host="127.0.0.1", port=int(os.environ["PORT"]), proxy_headers=True,
    timeout_graceful_shutdown=20, access_log=False, log_config=None, server_header=False,
)
'''


def _uv_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYENV_VERSION", "VIRTUAL_ENV")}
    return {**env, "UV_PYTHON_DOWNLOADS": "never", **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _request(body: dict[str, object]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


COMPLETION = _request({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]})
STREAM = _request(
    {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": STREAM_CHUNKS,
    }
)
READYZ = b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class Connection:
    """One keep-alive HTTP/1.1 connection that reads plain and chunked responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to the loopback port."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, raw: bytes) -> tuple[int, bytes, float]:
        """Send a request; return status, body and seconds until the first body bytes."""
        start = time.perf_counter()
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        headers = head.lower()
        if b"transfer-encoding: chunked" not in headers:
            length = int(headers.split(b"content-length:")[1].split(b"\r\n")[0])
            body = await self.reader.readexactly(length)
            return status, body, time.perf_counter() - start
        parts: list[bytes] = []
        first = 0.0
        while True:
            size = int((await self.reader.readline()).strip(), 16)
            if size == 0:
                await self.reader.readline()
                return status, b"".join(parts), first
            parts.append((await self.reader.readexactly(size + 2))[:-2])
            first = first or time.perf_counter() - start

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


@dataclass
class Results:
    """Measurements of one app over all rounds."""

    rps: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    first_event_ms: list[float] = field(default_factory=list)
    stream_ms: list[float] = field(default_factory=list)
    start_s: list[float] = field(default_factory=list)
    rss_idle_mb: list[float] = field(default_factory=list)
    rss_loaded_mb: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    errors: int = 0


@dataclass
class App:
    """How to start one of the two apps."""

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    results: Results = field(default_factory=Results)
    ready: bytes = READYZ
    """The request that answers 200 once the app serves."""


@contextmanager
def _serving(app: App, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, float]]:
    """Start the app; yield it, its port and the seconds until ``/readyz`` answered 200."""
    port = _free_port()
    with log.open("ab") as out:
        start = time.perf_counter()
        command = [part.replace("{port}", str(port)) for part in app.command]
        process = subprocess.Popen(
            command, cwd=app.cwd, env={**app.env, "PORT": str(port)}, stdout=out, stderr=out
        )
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{app.name} exited early; see {log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(app.ready)
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                time.sleep(0.005)
        yield process, port, time.perf_counter() - start
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


async def _latencies(port: int, raw: bytes, count: int, results: Results) -> list[float]:
    connection = await Connection.open(port)
    times: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        status, _, _ = await connection.send(raw)
        times.append(time.perf_counter() - start)
        results.errors += status != 200
    connection.close()
    return times


async def _throughput(port: int, concurrency: int, seconds: float, results: Results) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        connection = await Connection.open(port)
        while time.perf_counter() < deadline:
            status, _, _ = await connection.send(COMPLETION)
            results.errors += status != 200
            done += 1
        connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


async def _streams(port: int, count: int, results: Results) -> None:
    connection = await Connection.open(port)
    for _ in range(count):
        start = time.perf_counter()
        status, body, first = await connection.send(STREAM)
        results.stream_ms.append((time.perf_counter() - start) * 1000)
        results.first_event_ms.append(first * 1000)
        complete = body.endswith(b"data: [DONE]\n\n") and body.count(b"data: ") >= STREAM_CHUNKS
        results.errors += status != 200 or not complete
    connection.close()


async def _measure(pid: int, port: int, args: argparse.Namespace, results: Results) -> None:
    await _latencies(port, COMPLETION, 200, results)  # warm-up
    cpu, start = _cpu_seconds(pid), time.perf_counter()
    rps = await _throughput(port, args.concurrency, args.seconds, results)
    requests = rps * (time.perf_counter() - start)
    results.rps.append(rps)
    results.cpu_us.append((_cpu_seconds(pid) - cpu) / requests * 1e6)
    latencies = await _latencies(port, COMPLETION, args.requests, results)
    results.latency_ms.extend(t * 1000 for t in latencies)
    await _streams(port, args.streams, results)


def _prepare(project: Path, work: Path) -> tuple[Path, float]:
    """Install the runtime dependencies; return the interpreter and the venv size in MB."""
    if not (project / "uv.lock").exists():
        subprocess.run([UV, "lock", "-q"], cwd=project, env=_uv_env(), check=True)
    venv = work / "runtime-venv"
    subprocess.run(  # as the image installs it: a wheel, bytecode compiled ahead of time
        [UV, "sync", "-q", "--locked", "--no-dev", "--no-editable", "--compile-bytecode"],
        cwd=project,
        env=_uv_env(UV_PROJECT_ENVIRONMENT=str(venv)),
        check=True,
    )
    return venv / "bin" / "python", _dir_size(venv) / 1e6


def _render(work: Path) -> Path:
    from copier import run_copy

    project = work / "service"
    run_copy(str(REPO_ROOT), project, vcs_ref="HEAD", defaults=True, unsafe=True, quiet=True)
    return project


def _bodies(service: App, work: Path, log: Path) -> tuple[Path, Path]:
    """Record the service's JSON body and its stream's events for the bare app to replay."""

    async def fetch(port: int) -> tuple[bytes, bytes]:
        connection = await Connection.open(port)
        _, body, _ = await connection.send(COMPLETION)
        _, stream, _ = await connection.send(STREAM)
        connection.close()
        return body, stream

    with _serving(service, log) as (_, port, _):
        body, stream = asyncio.run(fetch(port))
    events = [f"{event}\n\n" for event in stream.decode().split("\n\n") if event]
    body_path, events_path = work / "body.json", work / "events.json"
    body_path.write_bytes(body)
    events_path.write_text(json.dumps(events))
    return body_path, events_path


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _table(service: Results, bare: Results) -> list[tuple[str, float, float]]:
    median = statistics.median
    rows = [
        ("requests/s, non-streamed", median(service.rps), median(bare.rps)),
        ("server CPU per request (us), non-streamed", median(service.cpu_us),
         median(bare.cpu_us)),
        ("p50 latency (ms)", _p(service.latency_ms, 0.5), _p(bare.latency_ms, 0.5)),
        ("p99 latency (ms)", _p(service.latency_ms, 0.99), _p(bare.latency_ms, 0.99)),
        ("256-chunk stream: first event (ms)", median(service.first_event_ms),
         median(bare.first_event_ms)),
        ("256-chunk stream: total (ms)", median(service.stream_ms), median(bare.stream_ms)),
        ("start to first 200 /readyz (s)", median(service.start_s), median(bare.start_s)),
        ("RSS idle (MB)", median(service.rss_idle_mb), median(bare.rss_idle_mb)),
        ("RSS after load (MB)", median(service.rss_loaded_mb), median(bare.rss_loaded_mb)),
    ]  # fmt: skip
    return rows


def add_phase_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of the measured phases, which bench_gateway.py shares."""
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="throughput phase length")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=500, help="sequential requests")
    parser.add_argument("--streams", type=int, default=50)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_phase_arguments(parser)
    parser.add_argument("--project", type=Path, help="an already rendered project")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        work = Path(tmp)
        project = args.project.resolve() if args.project else _render(work)
        python, venv_mb = _prepare(project, work)
        package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
        (work / "bare_app.py").write_text(BARE_APP)
        env = {k: v for k, v in os.environ.items() if k != "PYENV_VERSION"}
        service = App(
            "service",
            [str(python), "-m", package],
            {
                **env,
                "LLM_PROVIDER": "fake",
                "API_KEYS": API_KEY,
                "FAKE_REPLY_TOKENS": str(STREAM_CHUNKS),
                "DAILY_TOKEN_BUDGET": str(10**12),
                "DAILY_TOKEN_BUDGET_PER_KEY": str(10**12),
                "SERVED_MODELS": "fake-model",
            },
            work,
        )
        log = work / "server.log"
        body, events = _bodies(service, work, log)
        bare = App("bare", [str(python), str(work / "bare_app.py"), str(body), str(events)],
                   env, work)  # fmt: skip
        for round_ in range(args.rounds):
            for app in (service, bare) if round_ % 2 == 0 else (bare, service):
                with _serving(app, log) as (process, port, started):
                    app.results.start_s.append(started)
                    time.sleep(0.5)
                    app.results.rss_idle_mb.append(_rss_mb(process.pid))
                    asyncio.run(_measure(process.pid, port, args, app.results))
                    app.results.rss_loaded_mb.append(_rss_mb(process.pid))
        if args.project is None:
            shutil.rmtree(project, ignore_errors=True)

    rows = _table(service.results, bare.results)
    today = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
    print(
        f"{today}, {os.cpu_count()} cores, Python {sys.version.split()[0]} (load generator), "
        f"{args.rounds} rounds, concurrency {args.concurrency}"
    )
    print("| measurement | generated service | bare FastAPI | service / bare |")
    print("| --- | ---: | ---: | ---: |")
    for name, mine, theirs in rows:
        print(f"| {name} | {mine:.2f} | {theirs:.2f} | {mine / theirs:.2f} |")
    print(f"| runtime venv, `uv sync --no-dev` (MB) | {venv_mb:.1f} | (same venv) | |")
    throughput = rows[0][1] / rows[0][2]
    added_p50 = rows[2][1] - rows[2][2]
    pairs = zip(service.results.rps, bare.results.rps, strict=True)
    per_round = ", ".join(f"{mine:.0f}/{theirs:.0f}" for mine, theirs in pairs)
    print(f"\nrequests/s per round (service/bare): {per_round}")
    print(f"throughput ratio {throughput:.2f} (target >= 0.7); added p50 {added_p50:.2f} ms "
          f"(target <= 2)")  # fmt: skip
    print(f"errors: service {service.results.errors}, bare {bare.results.errors}")


if __name__ == "__main__":
    main()
