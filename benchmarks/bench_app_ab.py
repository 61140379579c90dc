"""A/B two versions of the generated service's package in one process, without sockets.

For a change to the template's hot path: copy the package of a rendered project before
and after the change, and run this with that project's interpreter (it needs the
project's dependencies)::

    <project>/.venv/bin/python benchmarks/bench_app_ab.py BEFORE_DIR AFTER_DIR [--stream]

Both apps (fake provider, auth and budgets on, access log on, written to /dev/null) are
called in alternating batches with the same request, so noise from a shared machine
falls on both alike; the medians of the per-request process time and their ratio are
printed. The HTTP benchmark (bench_service.py) says what users see; this one says
which change paid, to within a few percent (an A/A run differs by about 1 %).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import shutil
import statistics
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
    args = parser.parse_args()
    os.environ |= {
        "LLM_PROVIDER": "fake", "API_KEYS": API_KEY, "FAKE_REPLY_TOKENS": "256",
        "DAILY_TOKEN_BUDGET": str(10**12), "DAILY_TOKEN_BUDGET_PER_KEY": str(10**12),
    }  # fmt: skip
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

        asyncio.run(run())
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    kind = "256-chunk stream" if args.stream else "non-streamed completion"
    print(f"{kind}, process time per request, median of {args.rounds} batches of {count}:")
    print(f"before {before:.0f} us, after {after:.0f} us, after/before {after / before:.3f}")


if __name__ == "__main__":
    main()
