"""Builders shared by the test modules: template metadata, rendering and tool lookup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

__all__ = [
    "REPO_ROOT",
    "answer_combinations",
    "question_choices",
    "questions",
    "render",
    "require_tool",
    "run",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIRE_TOOLS_ENV = "GOLDPATH_REQUIRE_TOOLS"


def questions() -> dict[str, dict[str, Any]]:
    """Return the questions of copier.yml (settings and computed values left out)."""
    data = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
    return {
        name: spec
        for name, spec in data.items()
        if not name.startswith("_") and spec.get("when") is not False
    }


def question_choices(name: str) -> list[Any]:
    """Return the values a choice question accepts, as copier.yml declares them."""
    choices = questions()[name]["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


def answer_combinations(*names: str) -> list[dict[str, Any]]:
    """Return every combination of the choices of the named questions."""
    combos: list[dict[str, Any]] = [{}]
    for name in names:
        combos = [{**combo, name: value} for combo in combos for value in question_choices(name)]
    return combos


def require_tool(name: str) -> str:
    """Return the path of a tool; skip locally when missing, fail when CI requires tools.

    Tools installed in the test environment (from the lock file) come first, so the
    pinned version is used, and a pyenv shim on PATH is never picked for them.
    """
    venv_bin = Path(sys.executable).parent / name
    path = str(venv_bin) if venv_bin.exists() else shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
            pytest.fail(f"{message} and {REQUIRE_TOOLS_ENV}=1 requires every tool")
        pytest.skip(message)
    return path


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command and fail the test with its output when it exits non-zero."""
    # PYENV_VERSION (set when uv is a pyenv shim) would override a project's .python-version.
    merged = {k: v for k, v in {**os.environ, **(env or {})}.items() if k != "PYENV_VERSION"}
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=merged,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def render(dst: Path, answers: Mapping[str, Any] | None = None) -> Path:
    """Render the working tree of this template into ``dst`` with copier's public API."""
    from copier import run_copy

    run_copy(
        str(REPO_ROOT),
        dst,
        data=dict(answers or {}),
        vcs_ref="HEAD",
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    return dst


# --- the generated project's own checks: test_generated runs them, ci.yml asks for them ------

__all__ += ["PROJECT_CHECKS"]

# Each runs as `uv run --locked <check>` in the generated project.
PROJECT_CHECKS: list[list[str]] = [
    ["ruff", "check", "."],
    ["ruff", "format", "--check", "."],
    ["mypy"],
    ["pytest", "--cov", "--cov-report=term-missing"],
]
