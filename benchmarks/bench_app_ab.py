"""A/B two versions of the generated service's package in one process, without sockets.

For a change to the template's hot path: copy the package of a rendered project before
and after the change, and run this with that project's interpreter (it needs the
project's dependencies)::

    <project>/.venv/bin/python benchmarks/bench_app_ab.py BEFORE_DIR AFTER_DIR [--stream]
        [--upstream]

Both apps (fake provider, auth and budgets on, access log on, written to /dev/null) are
called in alternating batches with the same request, so noise from a shared machine
falls on both alike; the medians of the per-request process time and their ratio are
printed. With ``--upstream`` both apps use the openai adapter (the project must be
rendered with it) in front of a mock OpenAI upstream in a child process (raw asyncio,
keep-alive, a fixed completion or a 256-chunk stream): the path production runs; the
process time counted is the app's and the SDK's, not the upstream's. The HTTP
benchmark (bench_service.py) says what users see; this one says which change paid, to
within a few percent (an A/A run differs by about 1 %).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

API_KEY = "bench-key"
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]
_LOGGING_DEFAULTS = {
    name: getattr(logging, name)
    for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")
}


# A mock OpenAI upstream: one completion, or a 256-chunk stream, on every keep-alive
# connection; run with ``python -c`` in a child process, so its CPU is not counted.
_UPSTREAM = r"""
import asyncio, json, sys
ID = {"id": "chatcmpl-up", "created": 0, "model": "fake-model"}
COMPLETION = json.dumps({**ID, "object": "chat.completion", "choices": [{"index": 0,
    "message": {"role": "assistant", "content": "word " * 256}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 256, "total_tokens": 257}}).encode()
def event(payload): return b"data: " + json.dumps(payload).encode() + b"\n\n"
CHUNK = {**ID, "object": "chat.completion.chunk"}
STREAM = b"".join([event({**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant",
    "content": ""}}]})] + [event({**CHUNK, "choices": [{"index": 0, "delta": {"content":
    "word "}}]})] * 256 + [event({**CHUNK, "choices": [{"index": 0, "delta": {},
    "finish_reason": "stop"}]}), event({**CHUNK, "choices": [], "usage": {"prompt_tokens": 1,
    "completion_tokens": 256, "total_tokens": 257}}), b"data: [DONE]\n\n"])
async def serve(reader, writer):
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        if b'"stream":true' in body.replace(b" ", b""):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"content-length: " + str(len(STREAM)).encode() + b"\r\n\r\n" + STREAM)
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: " + str(len(COMPLETION)).encode() + b"\r\n\r\n"
                         + COMPLETION)
        await writer.drain()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""


def _start_upstream() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-c", _UPSTREAM, str(port)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}/v1"


def _request(stream: bool) -> tuple[dict[str, Any], bytes]:
    payload: dict[str, Any] = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hi"}],
    }
    if stream:
        payload |= {"stream": True, "max_tokens": 256}
    body = json.dumps(payload).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {API_KEY}".encode()),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    return scope, body


async def _one(app: ASGIApp, scope: dict[str, Any], body: bytes) -> None:
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app({**scope, "state": {}}, receive, send)
    if statuses != [200]:
        raise SystemExit(f"the app answered {statuses}")


async def _batch(app: ASGIApp, scope: dict[str, Any], body: bytes, count: int) -> float:
    start = time.process_time()
    for _ in range(count):
        await _one(app, scope, body)
    return (time.process_time() - start) / count * 1e6


def main() -> None:
    """Load both packages, alternate batches, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the package directory before the change")
    parser.add_argument("after", type=Path, help="the package directory after the change")
    parser.add_argument("--stream", action="store_true", help="a 256-chunk stream per call")
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--upstream", action="store_true", help="openai adapter, mock upstream")
    args = parser.parse_args()
    os.environ |= {
        "LLM_PROVIDER": "fake", "API_KEYS": API_KEY, "FAKE_REPLY_TOKENS": "256",
        "DAILY_TOKEN_BUDGET": str(10**12), "DAILY_TOKEN_BUDGET_PER_KEY": str(10**12),
        "SERVED_MODELS": "fake-model",
    }  # fmt: skip
    upstream = None
    if args.upstream:
        upstream, base_url = _start_upstream()
        os.environ |= {"LLM_PROVIDER": "openai", "OPENAI_BASE_URL": base_url}
        os.environ.setdefault("OPENAI_API_KEY", "bench-upstream-key")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        apps = {}
        for name, source in (("before", args.before), ("after", args.after)):
            shutil.copytree(source, Path(tmp) / f"ab_{name}")
        sys.path.insert(0, tmp)
        for name in ("before", "after"):
            main_module = importlib.import_module(f"ab_{name}.main")
            apps[name] = (main_module.create_app(), importlib.import_module(f"ab_{name}.logs"))

        def activate(name: str) -> ASGIApp:
            # Logging is global: give each app its own configuration before its batch.
            for option, value in _LOGGING_DEFAULTS.items():
                setattr(logging, option, value)
            app, logs = apps[name]
            logs.configure_logging("INFO")
            for handler in logging.getLogger().handlers:
                handler.setStream(devnull)  # type: ignore[attr-defined]
            return app  # type: ignore[no-any-return]

        scope, body = _request(args.stream)
        count = 100 if args.stream else 500
        times: dict[str, list[float]] = {"before": [], "after": []}

        async def run() -> None:
            for name in times:  # warm-up
                await _batch(activate(name), scope, body, count)
            for round_ in range(args.rounds):
                order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
                for name in order:
                    times[name].append(await _batch(activate(name), scope, body, count))

        try:
            asyncio.run(run())
        finally:
            if upstream is not None:
                upstream.terminate()
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    kind = "256-chunk stream" if args.stream else "non-streamed completion"
    kind += ", openai adapter and mock upstream" if args.upstream else ", fake provider"
    print(f"{kind}, process time per request, median of {args.rounds} batches of {count}:")
    print(f"before {before:.0f} us, after {after:.0f} us, after/before {after / before:.3f}")


if __name__ == "__main__":
    main()
