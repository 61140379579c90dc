"""External programs goldpath runs (git, uv): lookup and execution with clear errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ToolError, UserError

__all__ = ["error_line", "project_env", "require", "run", "run_ok"]

_INSTALL_HINTS = {
    "gh": "install the GitHub CLI: https://cli.github.com",
    "git": "install git from https://git-scm.com/downloads",
    "glab": "install the GitLab CLI: https://gitlab.com/gitlab-org/cli#installation",
    "uv": "install uv: https://docs.astral.sh/uv/getting-started/installation/",
}


def require(name: str) -> str:
    """Return the path of a program on PATH, or raise a one-line error saying how to get it."""
    path = shutil.which(name)
    if path is None:
        hint = _INSTALL_HINTS.get(name, f"install {name}")
        raise UserError(f"{name} is not on PATH; {hint}")
    return _unshim(name, path)


def _unshim(name: str, path: str) -> str:
    """Resolve a pyenv shim to the real program.

    A shim picks its Python from the working directory's .python-version; in a new
    project that names another Python version, the shim would no longer find the program.
    """
    if Path(path).parent.name != "shims":
        return path
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return path
    # `pyenv which` would answer for the current directory's version, which may lack it.
    result = subprocess.run(
        [pyenv, "whence", "--path", name], capture_output=True, text=True, check=False
    )
    candidates = result.stdout.split()
    return candidates[-1] if result.returncode == 0 and candidates else path


def project_env() -> dict[str, str]:
    """Return the environment for programs run inside a generated project.

    ``PYENV_VERSION`` is dropped: a pyenv shim (``uv run`` through a pyenv-installed uv
    sets it) would otherwise pin the caller's Python over the project's .python-version.
    """
    return {key: value for key, value in os.environ.items() if key != "PYENV_VERSION"}


def run(
    args: Sequence[str],
    *,
    cwd: Path,
    what: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> str:
    """Run a program; on failure raise a ``ToolError`` with the line that says why."""
    try:
        result = subprocess.run(
            list(args),
            cwd=cwd,
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ToolError(what, f"stopped after {timeout:.0f}s") from error
    if result.returncode != 0:
        detail = error_line(result.stderr) or error_line(result.stdout)
        raise ToolError(
            what, detail or f"exit code {result.returncode}", returncode=result.returncode
        )
    return result.stdout


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# git's and uv's error lines; uv also marks an error with a cross (U+00D7) bullet.
_ERROR_PREFIX = re.compile(r"^(?:(?:error|fatal):|\u00d7)\s*", re.IGNORECASE)
_ASIDE_PREFIX = re.compile(r"^(?:hint|help|note|warning|caused by):", re.IGNORECASE)


def error_line(output: str) -> str | None:
    """Return the line of a failed program's output that says what went wrong, or None.

    The last line is often an aside: uv ends with ``hint: ...``, git with ``and the
    repository exists.``. So: the first ``error:``/``fatal:`` line (uv's and git's, or
    uv's cross bullet), else the first non-empty line that is not a hint or a warning.
    """
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    chosen = next((line for line in lines if _ERROR_PREFIX.match(line)), None)
    if chosen is None:
        chosen = next((line for line in lines if not _ASIDE_PREFIX.match(line)), None)
    return _ERROR_PREFIX.sub("", chosen) if chosen else None


def run_goldpath(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    launcher: Sequence[str] | None = None,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Run a goldpath command with ``--json`` in its own process and return its result.

    Its own process, because copier changes the working directory of the one it runs in.
    ``launcher`` runs another goldpath (``uv tool run --from ...``) instead of this one.
    An error it reports becomes a ``ReportedError`` of the class it names.
    """
    from . import errors

    command = [*(launcher or [sys.executable, "-m", "goldpath"]), *args, "--json"]
    result = subprocess.run(
        command, cwd=cwd, env=None if env is None else dict(env), capture_output=True,
        text=True, timeout=timeout, check=False,
    )  # fmt: skip
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        detail = error_line(result.stderr) or f"exit code {result.returncode}"
        raise ToolError(f"goldpath {args[0]}", detail, returncode=result.returncode)
    reported = data.get("error")
    if isinstance(reported, dict):
        kind = getattr(errors, str(reported.get("type")), None)
        if not (isinstance(kind, type) and issubclass(kind, UserError)):
            kind = UserError
        raise errors.ReportedError(kind, str(reported.get("message")))
    return data


def run_ok(args: Sequence[str], *, cwd: Path) -> bool:
    """Return whether a quick command succeeds and prints something (for probes)."""
    result = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False)
    return result.returncode == 0 and bool(result.stdout.strip())
