"""``goldpath new`` through typer's CliRunner: happy paths and every user mistake."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from goldpath import __version__
from tests.helpers import REPO_ROOT, answers_of, assert_one_line_error, invoke

HEAD = ["--vcs-ref", "HEAD", "--template", str(REPO_ROOT), "--unreleased"]


def test_version_and_help() -> None:
    code, out, _ = invoke("--version")
    assert code == 0
    assert out.strip() == f"goldpath {__version__}"
    code, out, _ = invoke("new", "--help")
    assert code == 0
    for option in ("--defaults", "--data", "--data-file", "--template", "--vcs-ref", "--no-lock"):
        assert option in out


def test_new_with_defaults_locks_and_commits(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    code, out, err = invoke("new", str(dest), "--defaults", *HEAD)
    assert code == 0, err
    assert f"Created my-genai-service in {dest}" in out
    assert "uv run pytest" in out
    assert (dest / "uv.lock").is_file()
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert log.stdout.startswith("Initial commit from the goldpath template")
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert status.stdout == "", "everything generated is committed, uv.lock included"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "svc"]
    assert leftovers == []


def test_data_and_data_file_answer_questions(tmp_path: Path) -> None:
    data_file = tmp_path / "answers.yml"
    data_file.write_text("llm_provider: anthropic\ndaily_token_budget: 5000\n")
    dest = tmp_path / "svc"
    code, _, err = invoke(
        "new", str(dest), "--defaults", "--no-lock", *HEAD,
        "--data-file", str(data_file), "--data", "project_name=Claims Bot", "-d", "otel=true",
    )  # fmt: skip
    assert code == 0, err
    answers = answers_of(dest)
    assert answers["project_slug"] == "claims-bot"
    assert answers["llm_provider"] == "anthropic"
    assert answers["daily_token_budget"] == 5000
    assert answers["otel"] is True
    assert not (dest / "uv.lock").exists()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("project_slug=Bad_Slug", "invalid 'project_slug': project_slug 'Bad_Slug' must be"),
        ("project_slug=" + "x" * 41, "is 41 characters long; the maximum is 40"),
        ("package_name=import", "package_name 'import' is reserved"),
        ("package_name=json", "package_name 'json' is reserved"),
        ("project_name=123", "project_name must start with a letter"),
        ("colour=blue", "unknown question 'colour'"),
        ("daily_token_budget=lots", "invalid 'daily_token_budget': expected a whole number"),
        ("otel=maybe", "invalid 'otel': expected true or false, got 'maybe'"),
        ("llm_provider=cohere", "invalid 'llm_provider': 'cohere' is not one of openai, anthropic"),
        ("novalue", "--data expects key=value"),
    ],
)
def test_bad_answers_fail_cleanly(tmp_path: Path, data: str, fragment: str) -> None:
    dest = tmp_path / "svc"
    code, _, err = invoke("new", str(dest), "--defaults", "--no-lock", *HEAD, "--data", data)
    assert_one_line_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []


def test_existing_non_empty_destination_needs_force(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    code, _, err = invoke("new", str(dest), "--defaults", "--no-lock", *HEAD)
    assert_one_line_error(code, err, "exists and is not empty (use --force")
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]

    code, _, err = invoke("new", str(dest), "--defaults", "--no-lock", "--force", *HEAD)
    assert code == 0, err
    assert (dest / "notes.txt").read_text() == "keep me"
    assert (dest / "pyproject.toml").is_file()


def test_empty_existing_destination_is_fine(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    code, _, err = invoke("new", str(dest), "--defaults", "--no-lock", *HEAD)
    assert code == 0, err
    assert (dest / ".git").is_dir()


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("/nonexistent/template", "template /nonexistent/template not found"),
        ("https://127.0.0.1:9/nobody/template.git", "is unreachable"),
    ],
)
def test_unreachable_template_fails_cleanly(tmp_path: Path, template: str, fragment: str) -> None:
    code, _, err = invoke("new", str(tmp_path / "svc"), "--defaults", "--template", template)
    assert_one_line_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []


def _path_without(tmp_path: Path, *names: str) -> str:
    """Return a PATH whose directories hold links to every program but ``names``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("git", "uv", "pyenv"):
        if program in names:
            continue
        real = subprocess.run(["which", program], capture_output=True, text=True).stdout.strip()
        if real:
            (bin_dir / program).symlink_to(real)
    return str(bin_dir)


@pytest.mark.parametrize("missing", ["git", "uv"])
def test_missing_tool_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setenv("PATH", _path_without(tmp_path, missing))
    dest = tmp_path / "svc"
    code, _, err = invoke("new", str(dest), "--defaults", *HEAD)
    assert_one_line_error(code, err, f"{missing} is not on PATH")
    assert not dest.exists()


def test_failure_midway_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_uv = bin_dir / "uv"
    fake_uv.write_text("#!/bin/sh\necho 'resolution failed: no network' >&2\nexit 2\n")
    fake_uv.chmod(fake_uv.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    parent = tmp_path / "new" / "nested"
    code, _, err = invoke("new", str(parent / "svc"), "--defaults", *HEAD)
    assert_one_line_error(code, err, "uv lock failed: resolution failed: no network")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


def test_ctrl_c_during_prompts_aborts_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import copier

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(copier, "run_copy", interrupted)
    code, _, err = invoke("new", str(tmp_path / "svc"), "--defaults", *HEAD)
    assert_one_line_error(code, err, "aborted")
    assert list(tmp_path.iterdir()) == []


def test_no_terminal_and_no_defaults_is_explained(tmp_path: Path) -> None:
    code, _, err = invoke("new", str(tmp_path / "svc"), *HEAD)
    assert_one_line_error(code, err, "pass --defaults")


def test_only_goldpaths_own_template_is_trusted_without_trust(tmp_path: Path) -> None:
    from goldpath.settings import is_builtin_template

    assert is_builtin_template(str(REPO_ROOT))
    assert not is_builtin_template(str(tmp_path))
    assert not is_builtin_template("https://example.com/fork/template.git")


def test_a_pyenv_shim_is_resolved_to_the_real_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shim picks its Python from the working directory, where uv may not exist."""
    from goldpath import tools

    shims, real = tmp_path / "shims", tmp_path / "versions" / "3.11" / "bin"
    shims.mkdir()
    real.mkdir(parents=True)
    for script, body in (
        (shims / "uv", "#!/bin/sh\nexit 127\n"),
        (real / "uv", "#!/bin/sh\necho real\n"),
        (
            shims / "pyenv",
            f"#!/bin/sh\n[ \"$1 $2 $3\" = 'whence --path uv' ] && echo {real / 'uv'}\n",
        ),
    ):
        script.write_text(body)
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(shims))
    assert tools.require("uv") == str(real / "uv")
