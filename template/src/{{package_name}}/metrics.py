"""Prometheus metrics of the service, in a registry of its own."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

OTHER_MODEL = "other"
"""The ``model`` label of every model the service does not serve by name."""

# Any token parses as a method, before auth: the others share the label value "other".
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

IN_FLIGHT_METRIC = "http_requests_in_flight"
"""Gauge a HorizontalPodAutoscaler scales on (through a Prometheus metrics adapter)."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# The ``le`` labels as prometheus_client's Histogram writes them ("1.0", "+Inf").
_BUCKET_LABELS = (*(repr(float(bound)) for bound in LATENCY_BUCKETS), "+Inf")


class HttpMetrics(Collector):
    """Requests by method, route and status, and their duration, counted per request.

    Kept in plain dictionaries and turned into Prometheus metrics when scraped, through
    prometheus_client's custom-collector interface. Its Counter and Histogram take a
    lock and walk the buckets in Python on every update, which cost several times
    more than this on the path of every request. Updates come from the event loop's
    thread only (the middleware); a scrape reads copies.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self._requests: dict[tuple[str, str, str], int] = {}
        self._durations: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a finished request and its duration."""
        if method not in HTTP_METHODS:
            method = "other"
        key = (method, route, str(status))
        self._requests[key] = self._requests.get(key, 0) + 1
        counts = self._durations.get(key[:2])
        if counts is None:
            # One count per bucket, then +Inf, then the sum of the durations.
            counts = self._durations[key[:2]] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        """Yield the metrics as a scrape sees them."""
        requests = CounterMetricFamily(
            "http_requests",
            "HTTP requests by method, route template and status code.",
            labels=["method", "route", "status"],
        )
        for request_labels, total in list(self._requests.items()):
            requests.add_metric(list(request_labels), total)
        yield requests
        durations = HistogramMetricFamily(
            "http_request_duration_seconds",
            "HTTP request duration until the last byte, streams included.",
            labels=["method", "route"],
        )
        for duration_labels, counts in list(self._durations.items()):
            cumulative, buckets = 0.0, []
            for label, count in zip(_BUCKET_LABELS, counts[:-1], strict=True):
                cumulative += count
                buckets.append((label, cumulative))
            durations.add_metric(list(duration_labels), buckets, sum_value=counts[-1])
        yield durations


class TokenCounts(Collector):
    """Tokens used by model and type (prompt or completion), added per provider call.

    A plain dictionary turned into ``llm_tokens_total`` when scraped, like
    ``HttpMetrics``: a Counter series takes a lock on every update. Updates come from
    the event loop's thread only. The ``model`` label is one of the served models or
    ``other``: callers choose the model string, and each new label value is a series.
    """

    def __init__(self, models: Iterable[str] = ()) -> None:
        self.models = frozenset(models)
        self._counts: dict[str, list[int]] = {}

    def add(self, model: str, *, prompt: int, completion: int) -> None:
        """Add a call's token usage."""
        if model not in self.models:
            model = OTHER_MODEL
        counts = self._counts.get(model)
        if counts is None:
            counts = self._counts[model] = [0, 0]
        counts[0] += prompt
        counts[1] += completion

    def collect(self) -> Iterator[Metric]:
        """Yield the counter as a scrape sees it."""
        tokens = CounterMetricFamily(
            "llm_tokens",
            "Tokens used by model and type (prompt or completion).",
            labels=["model", "type"],
        )
        for model, (prompt, completion) in list(self._counts.items()):
            tokens.add_metric([model, "prompt"], prompt)
            tokens.add_metric([model, "completion"], completion)
        yield tokens


class Exposition:
    """The registry in the text format, rendered off the event loop and briefly cached.

    Rendering walks every series in Python; on the event loop it would hold up every
    request meanwhile. It runs in a worker thread, and scrapes that arrive while it
    runs, or within ``max_age_seconds`` after, get the same text. The collectors copy
    their dictionaries (``list(d.items())``, atomic under the GIL) before reading them.
    """

    def __init__(self, registry: CollectorRegistry, *, max_age_seconds: float) -> None:
        self.registry = registry
        self.max_age_seconds = max_age_seconds
        self._text = b""
        self._rendered_at = -float("inf")
        self._rendering: asyncio.Future[bytes] | None = None

    async def render(self) -> bytes:
        """Return the exposition, rendered now or less than ``max_age_seconds`` ago."""
        if time.monotonic() - self._rendered_at < self.max_age_seconds:
            return self._text
        if self._rendering is None:
            self._rendering = asyncio.ensure_future(self._render())
        # Shielded: a scraper that goes away does not cancel the others' rendering.
        return await asyncio.shield(self._rendering)

    async def _render(self) -> bytes:
        try:
            started = time.monotonic()
            text = await asyncio.to_thread(generate_latest, self.registry)
            self._text, self._rendered_at = text, started
            return text
        finally:
            self._rendering = None


@dataclass
class Metrics:
    """The service's metrics; one instance per app so tests stay independent.

    ``models`` are the model names that get a ``model`` label of their own.
    """

    models: Iterable[str] = ()
    cache_seconds: float = 1.0
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    http: HttpMetrics = field(default_factory=HttpMetrics, init=False)
    tokens: TokenCounts = field(init=False)
    exposition: Exposition = field(init=False)

    def __post_init__(self) -> None:
        """Register every metric in this instance's registry."""
        self.tokens = TokenCounts(self.models)
        self.exposition = Exposition(self.registry, max_age_seconds=self.cache_seconds)
        self.registry.register(self.http)
        self.registry.register(self.tokens)
        # The gauge reads the middleware's plain counter when /metrics is scraped.
        Gauge(
            IN_FLIGHT_METRIC,
            "API requests being served now (probes and metrics excluded).",
            registry=self.registry,
        ).set_function(lambda: self.http.in_flight)
        self.provider_errors = Counter(
            "llm_provider_errors",
            "Failed provider calls by provider and kind (timeout, error, unexpected).",
            ["provider", "kind"],
            registry=self.registry,
        )
