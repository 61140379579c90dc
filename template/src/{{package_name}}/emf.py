"""The service's metrics as CloudWatch embedded metric format (EMF) lines on stdout.

With ``EMF_NAMESPACE`` set, a task started in the app's lifespan writes one JSON
object per ``EMF_INTERVAL_SECONDS`` to stdout, and a last one at shutdown. Each follows
the EMF specification
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
a root ``_aws`` member holding ``Timestamp`` (milliseconds since the epoch) and
``CloudWatchMetrics`` (one directive: ``Namespace``, the dimension set
``[["Service"]]``, the metric definitions with their ``Unit``), and every dimension and
metric it names as a top-level member with its value. Counters are deltas since the
previous line, gauges their current value.

How the lines reach CloudWatch: on ECS, the ``awslogs`` log driver sends every stdout
line as one log event through CloudWatch Logs' ``PutLogEvents``. The EMF docs say that
a log event sent with ``PutLogEvents`` is processed as EMF when its message is a JSON
object, nothing before or after it, that follows the specification; the
``x-amzn-logs-format: json/emf`` header is optional (the page "Using the PutLogEvents
API to send manually-created embedded metric format logs"). The docs do not name the
``awslogs`` driver itself, nor promise that every driver setting keeps a line whole:
keep the driver's ``mode``/``max-buffer-size`` defaults, and check the ``AWS/Logs``
namespace's EMF metrics (parsing and validation errors) after a first deploy. AWS now
recommends the CloudWatch OTLP endpoint for containers' custom metrics; EMF needs no
collector in the task, which is why the service writes it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from .metrics import Metrics

__all__ = ["COUNTERS", "GAUGES", "EmfEmitter"]

logger = logging.getLogger(__name__)

DIMENSION = "Service"

COUNTERS = (
    "Requests",
    "Errors5xx",
    "ProviderCalls",
    "ProviderErrors",
    "PromptTokens",
    "CompletionTokens",
)
"""Metrics sent as deltas over the interval (``Requests``: routes under ``/v1/`` only)."""

GAUGES = ("BudgetRemainingTokens", "CircuitOpen", "InFlight")
"""Metrics sent as the value at the time of the line."""


def _stdout(line: str) -> None:
    # One write per line, flushed at once, as the log handler does: the log driver
    # reads lines, and a line split between two writes could interleave with a log.
    sys.stdout.write(line)
    sys.stdout.flush()


@dataclass
class EmfEmitter:
    """Writes the service's metrics as one EMF line per interval while the app runs."""

    metrics: Metrics
    namespace: str
    service: str
    interval_seconds: float = 60.0
    write: Callable[[str], None] = _stdout
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        """Start the deltas at zero: the counters count from the process's start."""
        self._previous = dict.fromkeys(COUNTERS, 0)
        self._task: asyncio.Task[None] | None = None

    def _counters(self) -> dict[str, int]:
        metrics = self.metrics
        requests, errors = metrics.http.api_totals()
        prompt, completion = metrics.tokens.totals()
        return {
            "Requests": requests,
            "Errors5xx": errors,
            "ProviderCalls": metrics.provider_calls.total(),
            "ProviderErrors": metrics.provider_errors_total(),
            "PromptTokens": prompt,
            "CompletionTokens": completion,
        }

    async def document(self) -> dict[str, Any]:
        """Return the next EMF document; its counters are deltas since the previous one."""
        await self.metrics.budget.refresh()
        totals = self._counters()
        values: dict[str, int] = {name: totals[name] - self._previous[name] for name in COUNTERS}
        self._previous = totals
        remaining = self.metrics.budget.remaining
        if remaining is not None:  # the store did not answer: no figure rather than a stale one
            values["BudgetRemainingTokens"] = remaining
        values["CircuitOpen"] = self.metrics.circuit_states.open_count()
        values["InFlight"] = self.metrics.http.in_flight
        directive = {
            "Namespace": self.namespace,
            "Dimensions": [[DIMENSION]],
            "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
        }
        return {
            "_aws": {"Timestamp": int(self.clock() * 1000), "CloudWatchMetrics": [directive]},
            DIMENSION: self.service,
            **values,
        }

    async def emit(self) -> None:
        """Write one EMF line."""
        self.write(to_json(await self.document()).decode() + "\n")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                await self.emit()
            except Exception:  # a bad line must not stop the next ones
                logger.exception("EMF line not written")

    def start(self) -> None:
        """Start writing a line every ``interval_seconds``."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="emf")

    async def stop(self) -> None:
        """Stop the task, then write a last line: the interval's end is not lost."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # stop() itself was cancelled, not only the task
        try:
            await self.emit()
        except Exception:
            logger.exception("EMF line not written")
