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

    def count_tokens(self, model: str, *, prompt: int, completion: int) -> None:
        """Add a call's token usage."""
        self.tokens.labels(model=model, type="prompt").inc(prompt)
        self.tokens.labels(model=model, type="completion").inc(completion)
