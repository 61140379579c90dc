"""Draining on shutdown: readiness turns 503 as soon as SIGTERM arrives.

The server then stops accepting connections, either at once or, with a drain delay,
after load balancers that poll ``/readyz`` have had time to stop sending traffic.
Streams still open shortly before the server's own deadline end with a terminal event
(``guard_stream``), so clients can tell a cut stream from a finished one and the server
has nothing left to cancel.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)


class Lifecycle:
    """Whether the process is draining, and the SIGTERM hook that starts draining."""

    def __init__(
        self, *, drain_delay_seconds: float = 0.0, shutdown_timeout_seconds: float | None = None
    ) -> None:
        self.draining = False
        self.drain_delay_seconds = drain_delay_seconds
        self.shutdown_timeout_seconds = shutdown_timeout_seconds
        self._previous: signal.Handlers | int | object | None = None
        self._installed = False
        # Loop time at which open streams are cut; None until the server is stopping.
        self._cut_at: float | None = None
        # The timeouts of the streams waiting for their next event now.
        self._waiting: set[asyncio.Timeout] = set()

    async def guard_stream(
        self, events: AsyncIterator[T], cut: Callable[[], T]
    ) -> AsyncIterator[T]:
        """Yield the events of a response stream, ended by ``cut()`` at the shutdown deadline.

        A stream still open when the server must stop gets ``cut()`` as its last event
        (a terminal error event) instead of a broken connection, a little before the
        server would cancel it (and log a traceback for it). One WARNING line per cut.
        """
        iterator = aiter(events)
        waiting = self._waiting
        try:
            # Armed only while the next event is awaited, never while the client reads one.
            async with asyncio.timeout(None) as deadline:
                while True:
                    deadline.reschedule(self._cut_at)
                    waiting.add(deadline)
                    try:
                        event = await anext(iterator)
                    except StopAsyncIteration:
                        return
                    finally:
                        waiting.discard(deadline)
                        if not deadline.expired():
                            deadline.reschedule(None)
                    yield event
        except TimeoutError:
            if not deadline.expired():
                raise  # the stream's own timeout, not the shutdown deadline
            logger.warning("stream cut at the shutdown deadline")
            yield cut()
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    def start_draining(self) -> None:
        """Turn readiness off; in-flight requests go on until the server stops them."""
        if not self.draining:
            self.draining = True
            logger.info("draining: readiness is now 503")

    def stop_streams_in(self, seconds: float) -> None:
        """Cut the open streams ``seconds`` from now (or earlier, if already due)."""
        loop = asyncio.get_running_loop()
        cut_at = loop.time() + max(0.0, seconds)
        if self._cut_at is not None and self._cut_at <= cut_at:
            return
        self._cut_at = cut_at
        for deadline in self._waiting:
            deadline.reschedule(cut_at)

    def _server_stops_in(self, seconds: float) -> None:
        """The server stops in ``seconds`` and then waits ``shutdown_timeout_seconds``."""
        if self.shutdown_timeout_seconds is None:
            return
        grace = self.shutdown_timeout_seconds
        # Cut streams a little before the server cancels what still runs.
        self.stop_streams_in(seconds + grace - min(1.0, grace / 4))

    def install_signal_handler(self) -> None:
        """Chain a SIGTERM handler in front of the server's own (main thread only).

        The server's handler runs after the drain delay, or at once on a second SIGTERM.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        loop = asyncio.get_running_loop()

        def _on_sigterm(signum: int, frame: FrameType | None) -> None:
            first = not self.draining
            self.start_draining()
            if not callable(previous):
                return
            if first and self.drain_delay_seconds > 0:
                loop.call_soon_threadsafe(self._server_stops_in, self.drain_delay_seconds)
                loop.call_soon_threadsafe(
                    loop.call_later, self.drain_delay_seconds, previous, signum, frame
                )
            else:
                loop.call_soon_threadsafe(self._server_stops_in, 0.0)
                previous(signum, frame)

        signal.signal(signal.SIGTERM, _on_sigterm)
        self._previous = previous
        self._installed = True

    def remove_signal_handler(self) -> None:
        """Restore the handler that was there before."""
        if self._installed and threading.current_thread() is threading.main_thread():
            previous = self._previous
            if callable(previous) or isinstance(previous, int):
                signal.signal(signal.SIGTERM, previous)
            self._installed = False
