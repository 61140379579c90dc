"""The service benchmark runs end to end on a rendered project and reports no errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import Renderer
from tests.helpers import REPO_ROOT, require_tool, run

pytestmark = pytest.mark.slow


def test_bench_service_prints_its_table_without_errors(rendered: Renderer, tmp_path: Path) -> None:
    require_tool("uv")
    project = tmp_path / "service"
    shutil.copytree(rendered({}), project)
    result = run(
        [
            sys.executable,
            REPO_ROOT / "benchmarks" / "bench_service.py",
            "--project", project, "--rounds", "1", "--seconds", "0.5",
            "--requests", "20", "--streams", "2",
        ],
        cwd=tmp_path,
        env={"UV_PYTHON_DOWNLOADS": "never"},
        timeout=300,
    )  # fmt: skip
    assert "| requests/s, non-streamed |" in result.stdout
    assert "| start to first 200 /readyz (s) |" in result.stdout
    assert "errors: service 0, bare 0" in result.stdout
