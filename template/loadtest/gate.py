"""Thresholds of the load test and the verdict on what it measured (no locust needed)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENV", "THRESHOLDS", "Measured", "Thresholds", "breaches", "load_thresholds", "summary"]

THRESHOLDS = Path(__file__).parent / "thresholds.toml"
ENV = {
    "p95_ms": "LOAD_P95_MS",
    "max_failure_ratio": "LOAD_MAX_FAILURE_RATIO",
    "ttft_p95_ms": "LOAD_TTFT_P95_MS",
}


@dataclass(frozen=True)
class Thresholds:
    """The limits a load test run must stay within."""

    p95_ms: float = 1000.0
    max_failure_ratio: float = 0.01
    ttft_p95_ms: float = 500.0


@dataclass(frozen=True)
class Measured:
    """What a run measured, over HTTP requests (the custom SSE entries apart)."""

    requests: int
    failures: int
    p95_ms: float
    ttft_p95_ms: float | None
    streams: int = 0
    tokens_per_second_median: float | None = None

    @property
    def failure_ratio(self) -> float:
        """Return failed requests / requests (1 when nothing was sent)."""
        return self.failures / self.requests if self.requests else 1.0


def load_thresholds(path: Path = THRESHOLDS, environ: Mapping[str, str] = os.environ) -> Thresholds:
    """Return the file's thresholds, each overridden by its environment variable when set."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if unknown := sorted(set(data) - set(ENV)):
        raise ValueError(f"{path}: unknown keys {unknown}")
    values: dict[str, float] = {}
    for key, variable in ENV.items():
        raw = environ.get(variable) or data.get(key, getattr(Thresholds, key))
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{variable} / {key} must be a number, not {raw!r}") from None
        if value < 0:
            raise ValueError(f"{variable} / {key} must be >= 0, not {value}")
        values[key] = value
    return Thresholds(**values)


def breaches(measured: Measured, thresholds: Thresholds) -> list[str]:
    """Return each threshold the run crossed, as a sentence; empty: the gate passes."""
    found: list[str] = []
    if measured.requests == 0:
        return ["no request was made"]
    if measured.p95_ms > thresholds.p95_ms:
        found.append(f"p95 {measured.p95_ms:.0f} ms > {thresholds.p95_ms:.0f} ms")
    if measured.failure_ratio > thresholds.max_failure_ratio:
        found.append(
            f"failure ratio {measured.failure_ratio:.3f} > {thresholds.max_failure_ratio:.3f}"
            f" ({measured.failures} of {measured.requests})"
        )
    if measured.ttft_p95_ms is None:
        found.append("no stream sent a first token")
    elif measured.ttft_p95_ms > thresholds.ttft_p95_ms:
        found.append(
            f"time to first token p95 {measured.ttft_p95_ms:.0f} ms > "
            f"{thresholds.ttft_p95_ms:.0f} ms"
        )
    return found


def summary(measured: Measured, thresholds: Thresholds, found: list[str]) -> str:
    """Return the Markdown summary of a run (``reports/load/summary.md``)."""
    ttft = "none" if measured.ttft_p95_ms is None else f"{measured.ttft_p95_ms:.0f}"
    tps = measured.tokens_per_second_median
    lines = [
        f"## Load test: {'FAILED' if found else 'passed'}",
        "",
        "| measure | value | threshold |",
        "|---|---:|---:|",
        f"| requests | {measured.requests} | |",
        f"| p95 ms | {measured.p95_ms:.0f} | {thresholds.p95_ms:.0f} |",
        f"| failure ratio | {measured.failure_ratio:.3f} | {thresholds.max_failure_ratio:.3f} |",
        f"| time to first token p95 ms | {ttft} | {thresholds.ttft_p95_ms:.0f} |",
        f"| streams | {measured.streams} | |",
        f"| tokens per second (median) | {'none' if tps is None else f'{tps:.0f}'} | |",
        "",
    ]
    lines += [f"- {breach}" for breach in found]
    return "\n".join(lines).rstrip() + "\n"
