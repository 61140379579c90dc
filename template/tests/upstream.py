"""A loopback HTTP/1.1 server standing in for a model provider in contract tests.

It records every request exactly as the adapter sent it, answers with the replies a
test queues (recorded provider responses), streams them in chunks as providers do, and
counts the TCP connections it accepted, so a test sees whether connections are reused.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any


@dataclass
class Recorded:
    """A request as the upstream received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body as JSON."""
        return json.loads(self.body)


@dataclass
class Reply:
    """A response to send after ``delay``: a whole body, or ``chunks`` (chunked encoding).

    ``chunk_delay`` is the pause before each chunk after the first.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    chunks: list[bytes] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0

    @classmethod
    def json(cls, value: Any, status: int = 200, **headers: str) -> Reply:
        """Return a JSON reply."""
        extra = {key.replace("_", "-"): value for key, value in headers.items()}
        body = json.dumps(value).encode()
        return cls(status, body, {"content-type": "application/json", **extra})


class Upstream:
    """The server; ``async with Upstream() as upstream`` starts it on a free loopback port.

    It answers with ``responder(request)`` when set, else the next of ``replies``, else
    ``always``.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.always: Reply | None = None
        self.responder: Callable[[Recorded], Reply] | None = None
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """Return the base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def last(self) -> Recorded:
        """Return the last request received."""
        return self.requests[-1]

    async def __aenter__(self) -> Upstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while request := await _read_request(reader):
                self.requests.append(request)
                reply: Reply | None
                if self.responder is not None:
                    reply = self.responder(request)
                else:
                    reply = self.replies.popleft() if self.replies else self.always
                if reply is None:
                    reply = Reply.json({"message": "no reply queued"}, status=599)
                await _write_reply(writer, reply)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Recorded | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while size := int((await reader.readline()).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
    else:
        body = await reader.readexactly(int(headers.get("content-length", 0)))
    return Recorded(method, path, headers, body)


async def _write_reply(writer: asyncio.StreamWriter, reply: Reply) -> None:
    await asyncio.sleep(reply.delay)
    head = [f"HTTP/1.1 {reply.status} Status"]
    head += [f"{name}: {value}" for name, value in reply.headers.items()]
    if reply.chunks is None:
        head.append(f"content-length: {len(reply.body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
    else:
        head.append("transfer-encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for index, chunk in enumerate(reply.chunks):
            if index:
                await asyncio.sleep(reply.chunk_delay)
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
    await writer.drain()


def sse(*events: dict[str, Any], done: bool = False, named: bool = False) -> Reply:
    """Return a server-sent event stream of JSON events, one chunk each."""
    chunks = [
        (f"event: {event['type']}\n" if named else "").encode()
        + f"data: {json.dumps(event)}\n\n".encode()
        for event in events
    ]
    if done:
        chunks.append(b"data: [DONE]\n\n")
    return Reply(headers={"content-type": "text/event-stream"}, chunks=chunks)
