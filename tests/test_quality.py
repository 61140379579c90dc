"""The generated eval suite and load test, run as CI runs them against the fake provider."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.conftest import Renderer
from tests.helpers import ServiceProcess as Service
from tests.helpers import require_tool
from tests.test_generated import API_KEY, UV_ENV, _synced

pytestmark = pytest.mark.slow

QUALITY = ["--locked", "--group", "quality"]


@pytest.fixture(scope="module")
def project(rendered: Renderer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project, locked and synced (the dev group includes the quality group)."""
    return _synced(rendered({}), tmp_path_factory.mktemp("quality") / "service")


@pytest.fixture(scope="module")
def service(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service on the fake provider, on a loopback port."""
    running = Service(
        project,
        tmp_path_factory.mktemp("logs") / "service.log",
        API_KEYS=API_KEY,
        SHUTDOWN_TIMEOUT_SECONDS="5",
    )
    yield running
    running.stop()


def _uv_run(
    project: Path, args: Sequence[str], *, timeout: float, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``uv run --locked --group quality ARGS`` in the project; any exit code returns."""
    merged = {k: v for k, v in {**os.environ, **UV_ENV, **env}.items() if k != "PYENV_VERSION"}
    return subprocess.run(
        [require_tool("uv"), "run", *QUALITY, *args],
        cwd=project,
        env=merged,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _evals(
    project: Path, service: Service, reports: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    args = ["python", "-m", "evals", "run", "--base-url", f"{service.base_url}/v1"]
    args += ["--api-key", API_KEY, "--report-dir", str(reports), *extra]
    return _uv_run(project, args, timeout=180)


def test_evals_pass_against_the_fake_and_write_reports(
    project: Path, service: Service, tmp_path: Path
) -> None:
    reports = tmp_path / "evals"
    result = _evals(project, service, reports)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    assert document["fake_provider"] is True
    assert document["gate"]["passed"] is True
    summary = document["summary"]
    assert summary["passed"] >= 8
    assert (summary["failed"], summary["errors"]) == (0, 0)
    kinds = {c["type"] for case in document["cases"] for c in case["checks"]}
    assert kinds == {"exact", "contains", "regex", "json_schema", "tool_call", "rubric"}
    html = (reports / "report.html").read_text(encoding="utf-8")
    assert "<table>" in html
    assert "weather-tool-call" in html
    assert (reports / "report.md").read_text(encoding="utf-8").startswith("## Evals: passed")


def test_a_changed_expectation_fails_the_eval_gate_naming_the_case(
    project: Path, service: Service, tmp_path: Path
) -> None:
    datasets = tmp_path / "datasets"
    shutil.copytree(project / "evals" / "datasets", datasets)
    basics = datasets / "basics.jsonl"
    text = basics.read_text(encoding="utf-8")
    assert r"\\b42\\b" in text
    basics.write_text(text.replace(r"\\b42\\b", r"\\b43\\b"), encoding="utf-8")
    reports = tmp_path / "evals"
    result = _evals(project, service, reports, "--datasets", str(datasets))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "regression in number-42" in result.stderr
    report = (reports / "report.md").read_text(encoding="utf-8")
    assert report.startswith("## Evals: FAILED")
    assert "- `number-42`: score 0.00 < baseline 1.00" in report


def _locust(
    project: Path, service: Service, reports: Path, seconds: int, **env: str
) -> subprocess.CompletedProcess[str]:
    args = ["locust", "-f", "loadtest/locustfile.py", "--headless", "--host", service.base_url]
    args += ["--users", "8", "--spawn-rate", "4", "--run-time", f"{seconds}s"]
    args += ["--csv", str(reports / "load"), "--html", str(reports / "report.html")]
    return _uv_run(project, args, timeout=seconds + 60, LOAD_API_KEY=API_KEY, **env)


def test_the_load_test_passes_and_writes_its_reports(
    project: Path, service: Service, tmp_path: Path
) -> None:
    reports = tmp_path / "load"
    result = _locust(project, service, reports, 10)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stats = (reports / "load_stats.csv").read_text(encoding="utf-8")
    for name in ("chat", "chat stream", "chat tool call", "embeddings", "time to first token"):
        assert f",{name}," in stats
    assert "<html" in (reports / "report.html").read_text(encoding="utf-8").lower()
    assert (reports / "summary.md").read_text(encoding="utf-8").startswith("## Load test: passed")


def test_a_slow_fake_fails_the_load_gate(project: Path, tmp_path: Path) -> None:
    """Every answer waits 1.2 s (FAKE_FAULT=slow): p95 and time to first token cross 1 s."""
    log = tmp_path / "service.log"
    slow = Service(
        project,
        log,
        API_KEYS=API_KEY,
        SHUTDOWN_TIMEOUT_SECONDS="5",
        FAKE_FAULT="slow",
        FAKE_FAULT_LATENCY_SECONDS="1.2",
    )
    try:
        reports = tmp_path / "load"
        result = _locust(project, slow, reports, 6)
    finally:
        slow.stop()
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = (reports / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## Load test: FAILED")
    assert "- p95 " in summary
    assert "- time to first token p95 " in summary
