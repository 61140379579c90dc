"""Prometheus metrics of the service, in a registry of its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

IN_FLIGHT_METRIC = "http_requests_in_flight"
"""Gauge a HorizontalPodAutoscaler scales on (through a Prometheus metrics adapter)."""

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@dataclass
class Metrics:
    """The service's metrics; one instance per app so tests stay independent."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    _series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = field(
        default_factory=dict, init=False, repr=False
    )
    _token_series: dict[str, tuple[Counter, Counter]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        """Register every metric in this instance's registry."""
        self.requests = Counter(
            "http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration until the last byte, streams included.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            IN_FLIGHT_METRIC,
            "API requests being served now (probes and metrics excluded).",
            registry=self.registry,
        )
        self.tokens = Counter(
            "llm_tokens",
            "Tokens used by model and type (prompt or completion).",
            ["model", "type"],
            registry=self.registry,
        )
        self.provider_errors = Counter(
            "llm_provider_errors",
            "Failed provider calls by provider and kind (timeout, error, budget).",
            ["provider", "kind"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a finished request and its duration.

        The labelled series are looked up once per label combination and kept: asking
        prometheus_client for them takes a lock and validates labels on every call.
        """
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = (
                self.requests.labels(method=method, route=route, status=str(status)),
                self.latency.labels(method=method, route=route),
            )
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def count_tokens(self, model: str, *, prompt: int, completion: int) -> None:
        """Add a call's token usage."""
        series = self._token_series.get(model)
        if series is None:
            series = (
                self.tokens.labels(model=model, type="prompt"),
                self.tokens.labels(model=model, type="completion"),
            )
            self._token_series[model] = series
        series[0].inc(prompt)
        series[1].inc(completion)
