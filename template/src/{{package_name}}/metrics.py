"""Prometheus metrics of the service, in a registry of its own."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
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

    def api_totals(self) -> tuple[int, int]:
        """Return the API requests (routes under ``/v1/``) so far and how many were 5xx."""
        requests = errors = 0
        for (_, route, status), total in list(self._requests.items()):
            if route.startswith("/v1/"):
                requests += total
                if status.startswith("5"):
                    errors += total
        return requests, errors

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

    def totals(self) -> tuple[int, int]:
        """Return the prompt and completion tokens of every model so far."""
        counts = list(self._counts.values())
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

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


class ProviderCalls(Collector):
    """Provider calls the routes started, by provider: the provider error ratio's denominator.

    One per route call (chat, Responses, embeddings), however many retries or
    fallbacks the resilience layer makes within it, as ``llm_provider_errors_total``
    counts one failure per route call. A plain dictionary like ``TokenCounts``: it is
    updated on every API request, from the event loop's thread only.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def add(self, provider: str) -> None:
        """Count one call of a provider."""
        self._counts[provider] = self._counts.get(provider, 0) + 1

    def total(self) -> int:
        """Return the calls of every provider."""
        return sum(list(self._counts.values()))

    def collect(self) -> Iterator[Metric]:
        """Yield the counter as a scrape sees it."""
        calls = CounterMetricFamily(
            "llm_provider_calls",
            "Provider calls started by the API routes, by provider.",
            labels=["provider"],
        )
        for provider, total in list(self._counts.items()):
            calls.add_metric([provider], total)
        yield calls


class CircuitStates(Collector):
    """``llm_circuit_open{target}``: 1 while a target's breaker is open or half-open, else 0.

    Read from the breakers when scraped (``states`` returns ``provider:model`` -> open),
    so the request path does nothing for it. The targets are the ones the settings
    name (served models and fallbacks), each present from start-up.
    """

    def __init__(self, states: Callable[[], Mapping[str, bool]]) -> None:
        self.states = states

    def open_count(self) -> int:
        """Return how many targets' circuits are open or half-open now."""
        return sum(self.states().values())

    def collect(self) -> Iterator[Metric]:
        """Yield the gauge as a scrape sees it."""
        gauge = GaugeMetricFamily(
            "llm_circuit_open",
            "1 while the circuit breaker of a provider target is open or half-open, else 0.",
            labels=["target"],
        )
        for target, is_open in sorted(self.states().items()):
            gauge.add_metric([target], 1 if is_open else 0)
        yield gauge


class BudgetGauges(Collector):
    """The service-wide daily token budget and what is left of it today.

    ``remaining`` is read from the limit store before each rendering (``refresh``), so
    with Redis every replica reports the shared figure; None (the store did not
    answer) leaves the series out rather than report a stale figure.
    """

    def __init__(
        self, limit: int | None, read_remaining: Callable[[], Awaitable[int | None]] | None
    ) -> None:
        self.limit = limit
        self.remaining: int | None = None
        self._read_remaining = read_remaining

    async def refresh(self) -> None:
        """Read the tokens left today from the limit store."""
        if self._read_remaining is not None:
            self.remaining = await self._read_remaining()

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges as a scrape sees them."""
        if self.limit is not None:
            yield GaugeMetricFamily(
                "llm_budget_limit_tokens",
                "The service-wide daily token budget.",
                value=self.limit,
            )
        if self.remaining is not None:
            yield GaugeMetricFamily(
                "llm_budget_remaining_tokens",
                "Service-wide tokens left in the UTC day (settled and reserved subtracted).",
                value=self.remaining,
            )


class Exposition:
    """The registry in the text format, rendered off the event loop and briefly cached.

    Rendering walks every series in Python; on the event loop it would hold up every
    request meanwhile. It runs in a worker thread, and scrapes that arrive while it
    runs, or within ``max_age_seconds`` after, get the same text. The collectors copy
    their dictionaries (``list(d.items())``, atomic under the GIL) before reading them.
    ``refresh`` runs on the loop before each rendering, for what must be awaited (the
    budget in the limit store): once per rendering, not once per scrape.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        max_age_seconds: float,
        refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.registry = registry
        self.max_age_seconds = max_age_seconds
        self._refresh = refresh
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
            if self._refresh is not None:
                await self._refresh()
            text = await asyncio.to_thread(generate_latest, self.registry)
            self._text, self._rendered_at = text, started
            return text
        finally:
            self._rendering = None


@dataclass
class Metrics:
    """The service's metrics; one instance per app so tests stay independent.

    ``models`` are the model names that get a ``model`` label of their own;
    ``circuits`` returns the breakers' states (``provider:model`` -> open);
    ``budget_limit`` is the service's daily token budget and ``budget_remaining``
    reads what is left of it (None when the store cannot tell).
    """

    models: Iterable[str] = ()
    cache_seconds: float = 1.0
    circuits: Callable[[], Mapping[str, bool]] = dict
    budget_limit: int | None = None
    budget_remaining: Callable[[], Awaitable[int | None]] | None = None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    http: HttpMetrics = field(default_factory=HttpMetrics, init=False)
    tokens: TokenCounts = field(init=False)
    provider_calls: ProviderCalls = field(default_factory=ProviderCalls, init=False)
    circuit_states: CircuitStates = field(init=False)
    budget: BudgetGauges = field(init=False)
    exposition: Exposition = field(init=False)

    def __post_init__(self) -> None:
        """Register every metric in this instance's registry."""
        self.tokens = TokenCounts(self.models)
        self.circuit_states = CircuitStates(self.circuits)
        self.budget = BudgetGauges(self.budget_limit, self.budget_remaining)
        self.exposition = Exposition(
            self.registry, max_age_seconds=self.cache_seconds, refresh=self.budget.refresh
        )
        for collector in (
            self.http,
            self.tokens,
            self.provider_calls,
            self.circuit_states,
            self.budget,
        ):
            self.registry.register(collector)
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

    def provider_errors_total(self) -> int:
        """Return the failed provider calls of every provider and kind so far."""
        return int(
            sum(
                sample.value
                for family in self.provider_errors.collect()
                for sample in family.samples
                if sample.name.endswith("_total")
            )
        )
