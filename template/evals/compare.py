"""The quality gate: a run compared with the committed baseline under the thresholds."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runner import CaseResult, Prices

__all__ = [
    "BASELINE",
    "THRESHOLDS",
    "Comparison",
    "Regression",
    "Thresholds",
    "baseline_of",
    "compare",
    "load_baseline",
    "load_thresholds",
    "p95",
]

BASELINE = Path(__file__).parent / "baseline.json"
THRESHOLDS = Path(__file__).parent / "thresholds.toml"


@dataclass(frozen=True)
class Thresholds:
    """How much worse than the baseline a run may be before the gate fails."""

    max_score_drop: float = 0.0
    latency_p95_ms: float = 5000.0
    max_tokens_increase: float = 0.25
    prices: Prices = field(default_factory=Prices)


@dataclass(frozen=True)
class Regression:
    """One reason the gate fails: a case (or ``*`` for the whole run) and what got worse."""

    case: str
    reason: str


@dataclass
class Comparison:
    """Regressions, improvements and cases new to the baseline."""

    regressions: list[Regression] = field(default_factory=list)
    improved: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    latency_p95_ms: float = 0.0

    @property
    def failed(self) -> bool:
        """Return whether the gate fails."""
        return bool(self.regressions)

    @property
    def failing_cases(self) -> list[str]:
        """Return the cases named by a regression, each once, in order."""
        return list(dict.fromkeys(r.case for r in self.regressions))


def _number(table: Mapping[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"thresholds: {key} must be a number >= 0, not {value!r}")
    return float(value)


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    """Return the thresholds of a TOML file; a key left out keeps its default."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    known = {"score", "latency", "tokens", "prices"}
    if unknown := sorted(set(data) - known):
        raise ValueError(f"thresholds: unknown tables {unknown}")
    default = Thresholds()
    score, latency = data.get("score", {}), data.get("latency", {})
    tokens, prices = data.get("tokens", {}), data.get("prices", {})
    return Thresholds(
        max_score_drop=_number(score, "max_drop", default.max_score_drop),
        latency_p95_ms=_number(latency, "p95_ms", default.latency_p95_ms),
        max_tokens_increase=_number(tokens, "max_increase", default.max_tokens_increase),
        prices=Prices(
            input=_number(prices, "input_usd_per_million", 0.0),
            output=_number(prices, "output_usd_per_million", 0.0),
        ),
    )


def load_baseline(path: Path = BASELINE) -> dict[str, dict[str, float]]:
    """Return the baseline: case id -> {"score": ..., "tokens": ...}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cases: dict[str, dict[str, float]] = data["cases"]
    return cases


def baseline_of(cases: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the baseline a run's ``results.json`` cases set: every case it ran, sorted.

    Latency is left out: it depends on the machine, so the gate holds it to an absolute
    threshold instead.
    """
    ran = sorted((c for c in cases if c["status"] != "skipped"), key=lambda c: str(c["id"]))
    return {"cases": {c["id"]: {"score": round(c["score"], 4), "tokens": c["tokens"]} for c in ran}}


def p95(values: Iterable[float]) -> float:
    """Return the 95th percentile (nearest rank); 0 for no values."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def compare(
    results: list[CaseResult],
    baseline: Mapping[str, Mapping[str, float]],
    thresholds: Thresholds,
) -> Comparison:
    """Compare a run with the baseline; skipped cases are left out of both sides."""
    comparison = Comparison()
    ran = [r for r in results if r.status != "skipped"]
    skipped = {r.id for r in results if r.status == "skipped"}
    for result in ran:
        before = baseline.get(result.id)
        if before is None:
            comparison.new.append(result.id)
            if result.score < 1.0:
                comparison.regressions.append(
                    Regression(result.id, f"new case fails (score {result.score:.2f})")
                )
            continue
        drop = before["score"] - result.score
        if drop > thresholds.max_score_drop + 1e-9:
            detail = result.error or "; ".join(c.detail for c in result.checks if not c.passed)
            comparison.regressions.append(
                Regression(
                    result.id,
                    f"score {result.score:.2f} < baseline {before['score']:.2f}: {detail}",
                )
            )
        elif drop < 0:
            comparison.improved.append(result.id)
        limit = before["tokens"] * (1 + thresholds.max_tokens_increase)
        if result.status != "error" and before["tokens"] > 0 and result.tokens > limit:
            comparison.regressions.append(
                Regression(
                    result.id,
                    f"{result.tokens} tokens > {limit:.0f} "
                    f"(baseline {before['tokens']:.0f} + {thresholds.max_tokens_increase:.0%})",
                )
            )
    ran_ids = {r.id for r in ran}
    for case_id in sorted(set(baseline) - ran_ids - skipped):
        comparison.regressions.append(
            Regression(case_id, "in the baseline but not run (update the baseline on purpose)")
        )
    comparison.latency_p95_ms = p95(r.latency_ms for r in ran)
    if comparison.latency_p95_ms > thresholds.latency_p95_ms:
        slow = [r for r in ran if r.latency_ms > thresholds.latency_p95_ms]
        run_p95 = f"run p95 {comparison.latency_p95_ms:.0f} ms > {thresholds.latency_p95_ms:.0f} ms"
        comparison.regressions.extend(
            Regression(r.id, f"latency {r.latency_ms:.0f} ms; {run_p95}") for r in slow
        )
    return comparison
