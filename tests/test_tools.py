"""``tools.run``: a failed program is reported by the line that says why, not its last."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from goldpath import tools
from goldpath.errors import ToolError
from tests.helpers import GIT_NO_ACCESS, UV_NO_SOLUTION, stand_in

UV_OFFLINE = """\
Using CPython 3.12.3 interpreter at: /usr/bin/python3.12
error: Failed to fetch: `https://pypi.org/simple/cachetools/`
  Caused by: Request failed after 3 retries
  Caused by: dns error: failed to lookup address information: Temporary failure
hint: While the active Python version is 3.12, the resolution failed for other Python versions
"""
GIT_WOULD_OVERWRITE = """\
warning: refname 'main' is ambiguous.
error: Your local changes to the following files would be overwritten by checkout:
\tREADME.md
Please commit your changes or stash them before you switch branches.
Aborting
"""
GIT_NO_IDENTITY = """\
Author identity unknown

*** Please tell me who you are.

Run

  git config --global user.email "you@example.com"

fatal: unable to auto-detect email address (got 'root@build.(none)')
"""


@pytest.mark.parametrize(
    ("program", "output", "expected"),
    [
        ("uv", UV_NO_SOLUTION, "No solution found when resolving dependencies for split"),
        ("uv", UV_OFFLINE, "Failed to fetch: `https://pypi.org/simple/cachetools/`"),
        ("uv", "hint: try again later\nresolver crashed\n", "resolver crashed"),
        ("git", GIT_NO_ACCESS, "Could not read from remote repository."),
        ("git", GIT_WOULD_OVERWRITE, "Your local changes to the following files would be"),
        ("git", GIT_NO_IDENTITY, "unable to auto-detect email address (got 'root@build.(none)')"),
        ("git", "", "exit code 3"),
    ],
)
def test_the_first_real_error_line_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, program: str, output: str, expected: str
) -> None:
    (tmp_path / "output").write_text(output)
    stand_in(tmp_path / "bin", program, f"cat '{tmp_path / 'output'}' >&2\nexit 3\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ToolError) as caught:
        tools.run([tools.require(program), "do"], cwd=tmp_path, what=f"{program} do")
    error = caught.value
    assert error.what == f"{program} do"
    assert error.returncode == 3
    assert error.detail.startswith(expected), error.detail
    assert error.message == f"{program} do failed: {error.detail}"
    assert "\n" not in error.message


def test_output_on_stdout_counts_when_stderr_is_empty(tmp_path: Path) -> None:
    script = stand_in(tmp_path / "bin", "tool", "echo 'hint: none'\necho 'error: broken'\nexit 1\n")
    with pytest.raises(ToolError, match=r"^tool failed: broken$"):
        tools.run([str(script)], cwd=tmp_path, what="tool")
