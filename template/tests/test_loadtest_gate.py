"""The load test's thresholds and verdict, without locust running."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.gate import Measured, Thresholds, breaches, load_thresholds, summary

GOOD = Measured(requests=100, failures=0, p95_ms=20, ttft_p95_ms=10, streams=30)


def test_a_run_within_the_thresholds_passes() -> None:
    assert breaches(GOOD, Thresholds()) == []
    assert summary(GOOD, Thresholds(), []).startswith("## Load test: passed")


@pytest.mark.parametrize(
    ("measured", "words"),
    [
        (Measured(100, 0, 2000, 10), "p95 2000 ms"),
        (Measured(100, 5, 20, 10), "failure ratio"),
        (Measured(100, 0, 20, 900), "time to first token"),
        (Measured(100, 0, 20, None), "no stream"),
        (Measured(0, 0, 0, None), "no request"),
    ],
)
def test_each_threshold_fails_the_run(measured: Measured, words: str) -> None:
    found = breaches(measured, Thresholds())
    assert any(words in breach for breach in found), found
    assert summary(measured, Thresholds(), found).startswith("## Load test: FAILED")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text("p95_ms = 300\nttft_p95_ms = 50\n", encoding="utf-8")
    thresholds = load_thresholds(path, {"LOAD_P95_MS": "1", "LOAD_MAX_FAILURE_RATIO": ""})
    assert thresholds == Thresholds(p95_ms=1, max_failure_ratio=0.01, ttft_p95_ms=50)
    # The shipped file states the defaults, so reading it changes nothing.
    assert load_thresholds(environ={}) == Thresholds()
    with pytest.raises(ValueError, match="LOAD_TTFT_P95_MS"):
        load_thresholds(path, {"LOAD_TTFT_P95_MS": "fast"})
    path.write_text("p99_ms = 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown"):
        load_thresholds(path, {})
