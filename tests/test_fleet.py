"""``goldpath fleet`` over a directory of generated repositories at mixed versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from goldpath.cli import app
from goldpath.commands.new import create_project
from goldpath.settings import EXIT_CONFLICTS
from tests.helpers import (
    OLD_DOCSTRING,
    PACKAGE,
    commit_all,
    git,
    require_tool,
    two_release_template,
)

pytestmark = pytest.mark.slow
runner = CliRunner()
HEALTH = f"src/{PACKAGE}/api/routes/health.py"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six directories: five generated repositories and one that is not."""
    require_tool("uv")
    work = tmp_path_factory.mktemp("fleet")
    template = two_release_template(work / "template")
    root = work / "repos"
    base = work / "base"
    create_project(dest=base, template=str(template), vcs_ref="v1.0.0", defaults=True)
    for name in ("clean", "conflicting", "dirty", "with-notes"):
        shutil.copytree(base, root / "team-a" / name, symlinks=True)
    create_project(
        dest=root / "team-b" / "current", template=str(template), vcs_ref="v1.1.0",
        defaults=True, lock=False,
    )  # fmt: skip
    (root / "team-b" / "not-generated").mkdir()
    (root / "team-b" / "not-generated" / "README.md").write_text("hello\n")

    conflicting = root / "team-a" / "conflicting"
    health = conflicting / HEALTH
    health.write_text(health.read_text().replace(OLD_DOCSTRING, '    """Liveness, our way."""'))
    commit_all(conflicting, "our docstring")
    (root / "team-a" / "dirty" / "README.md").write_text("work in progress\n")
    notes = root / "team-a" / "with-notes" / "NOTES.md"
    notes.write_text("team notes\n")
    commit_all(root / "team-a" / "with-notes", "notes")
    return root


def test_status_lists_every_generated_repository(fleet: Path) -> None:
    result = runner.invoke(app, ["fleet", "status", str(fleet), "--json"])
    assert result.exit_code == 0, result.stderr
    repos = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert sorted(repos) == ["clean", "conflicting", "current", "dirty", "with-notes"]
    assert {name for name, r in repos.items() if r["behind"]} == {
        "clean", "conflicting", "dirty", "with-notes",
    }  # fmt: skip
    assert {name for name, r in repos.items() if r["dirty"]} == {"dirty"}
    assert repos["current"]["current"] == "v1.1.0"
    assert all(r["latest"] == "v1.1.0" for r in repos.values())

    table = runner.invoke(app, ["fleet", "status", str(fleet)])
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == [
        "path", "template", "current", "latest", "behind", "dirty",
    ]  # fmt: skip
    assert len(table.stdout.splitlines()) == 6


def test_update_branches_commits_and_reports_the_worst(fleet: Path) -> None:
    result = runner.invoke(app, ["fleet", "update", str(fleet), "--jobs", "2", "--trust", "--json"])
    assert result.exit_code == EXIT_CONFLICTS, result.stderr
    outcomes = {Path(o["path"]).name: o for o in json.loads(result.stdout)}
    assert {name: o["outcome"] for name, o in outcomes.items()} == {
        "clean": "updated",
        "with-notes": "updated",
        "conflicting": "conflicted",
        "dirty": "skipped",
        "current": "skipped",
    }
    assert HEALTH in outcomes["conflicting"]["detail"]
    assert outcomes["dirty"]["detail"] == "uncommitted changes"

    for name in ("clean", "with-notes"):
        repo = fleet / "team-a" / name
        branch = outcomes[name]["branch"]
        assert branch == "goldpath/update-v1.1.0"
        assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
        assert git(repo, "status", "--porcelain") == ""
        answers = yaml.safe_load(git(repo, "show", f"{branch}:.copier-answers.yml"))
        assert answers["_commit"] == "v1.1.0"
        log = git(repo, "log", "-1", "--format=%s", branch)
        assert log.strip() == "Update the goldpath template from v1.0.0 to v1.1.0"
    assert git(fleet / "team-a" / "with-notes", "show", f"{branch}:NOTES.md") == "team notes\n"

    conflicting = fleet / "team-a" / "conflicting"
    assert git(conflicting, "status", "--porcelain") == ""
    assert "goldpath/update-v1.1.0" not in git(conflicting, "branch", "--list")
    assert (fleet / "team-a" / "dirty" / "README.md").read_text() == "work in progress\n"
