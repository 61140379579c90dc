"""Organization presets: defaults a team may change, locked answers it may not."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from goldpath.cli import app
from tests.helpers import REPO_ROOT, answers_of

runner = CliRunner()
HEAD = [
    "--vcs-ref",
    "HEAD",
    "--template",
    str(REPO_ROOT),
    "--unreleased",
    "--no-lock",
    "--defaults",
]
PRESET = """\
defaults:
  owner: payments-team
  python_version: "3.13"
locked:
  aws_region: eu-central-1
  llm_provider: [openai, bedrock]
"""


def new(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    dest = tmp_path / "svc"
    result = runner.invoke(app, ["new", str(dest), *HEAD, *args])
    return result.exit_code, result.stderr, dest


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    path = tmp_path / "org.yml"
    path.write_text(PRESET)
    return path


def test_defaults_and_locks_are_applied(tmp_path: Path, preset: Path) -> None:
    code, err, dest = new(tmp_path, "--preset", str(preset))
    assert code == 0, err
    answers = answers_of(dest)
    assert answers["owner"] == "payments-team"
    assert answers["python_version"] == "3.13"
    assert answers["aws_region"] == "eu-central-1"
    assert answers["llm_provider"] == "openai"


def test_a_team_may_change_a_default(tmp_path: Path, preset: Path) -> None:
    code, err, dest = new(tmp_path, "--preset", str(preset), "--data", "owner=search-team")
    assert code == 0, err
    assert answers_of(dest)["owner"] == "search-team"


def test_preset_from_the_environment(
    tmp_path: Path, preset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLDPATH_PRESET", str(preset))
    code, err, dest = new(tmp_path)
    assert code == 0, err
    assert answers_of(dest)["aws_region"] == "eu-central-1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("aws_region=us-west-2", "'aws_region' is locked to 'eu-central-1' by the preset"),
        ("llm_provider=anthropic", "'llm_provider' must be one of openai, bedrock (locked by"),
    ],
)
def test_a_locked_answer_cannot_be_changed(
    tmp_path: Path, preset: Path, data: str, message: str
) -> None:
    code, err, dest = new(tmp_path, "--preset", str(preset), "--data", data)
    assert code == 1
    assert message in err
    assert not dest.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("defaults:\n  colour: blue\n", "unknown question 'colour'"),
        ("locked:\n  llm_provider: cohere\n", "invalid 'llm_provider': 'cohere' is not one of"),
        ("defaults:\n  daily_token_budget: lots\n", "expected a whole number"),
        ("owner: x\n", "must be a mapping with 'template', 'defaults' and/or 'locked'"),
        ("locked:\n  aws_region: mars-1\n", "aws_region 'mars-1' must be an AWS region id"),
        ("defaults:\n  project_slug: Bad_Slug\n", "must be a DNS-1123 label"),
    ],
)
def test_invalid_presets_are_rejected_with_the_questions_message(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content)
    code, err, dest = new(tmp_path, "--preset", str(path))
    assert code == 1
    assert message in err
    assert err.strip().splitlines()[-1].startswith("error: preset ")
    assert not dest.exists()


def test_missing_preset_file(tmp_path: Path) -> None:
    code, err, _ = new(tmp_path, "--preset", str(tmp_path / "nope.yml"))
    assert code == 1
    assert "cannot read preset" in err
