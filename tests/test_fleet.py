"""``goldpath fleet`` over a directory of generated repositories at mixed versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from goldpath.cli import app
from goldpath.commands import fleet as fleet_module
from goldpath.commands.new import create_project
from goldpath.project import GeneratedRepo
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
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template with two releases, and a project generated at v1.0.0 (``base``)."""
    require_tool("uv")
    work = tmp_path_factory.mktemp("fleet")
    template = two_release_template(work / "template")
    create_project(dest=work / "base", template=str(template), vcs_ref="v1.0.0", defaults=True)
    return work


@pytest.fixture(scope="module")
def fleet(work: Path) -> Path:
    """Six directories: five generated repositories and one that is not."""
    template, base, root = work / "template", work / "base", work / "repos"
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
    assert {r["status"] for name, r in repos.items() if name != "current"} == {"behind"}
    assert repos["current"]["status"] == "current"
    assert repos["current"]["current"] == "v1.1.0"
    assert all(r["latest"] == "v1.1.0" for r in repos.values())

    table = runner.invoke(app, ["fleet", "status", str(fleet)])
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == [
        "path", "template", "current", "latest", "status", "dirty",
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


BRANCH = "goldpath/update-v1.1.0"


def _copies(work: Path, root: Path, *names: str) -> list[Path]:
    """Copies of the v1.0.0 project under ``root``, one per name."""
    for name in names:
        shutil.copytree(work / "base", root / name, symlinks=True)
    return [root / name for name in names]


def _fleet_update(root: Path) -> dict[str, dict[str, str]]:
    result = runner.invoke(app, ["fleet", "update", str(root), "--trust", "--no-lock", "--json"])
    assert "Traceback" not in result.stderr
    return {Path(o["path"]).name: o for o in json.loads(result.stdout)}


def test_an_update_branch_with_someone_elses_commits_is_left_alone(
    work: Path, tmp_path: Path
) -> None:
    theirs, stale = _copies(work, tmp_path, "theirs", "stale")
    git(theirs, "checkout", "--quiet", "-b", BRANCH)
    (theirs / "README.md").write_text("started the update by hand\n")
    commit_all(theirs, "a person's work on the update branch")
    git(theirs, "checkout", "--quiet", "main")
    their_tip = git(theirs, "rev-parse", BRANCH)
    git(stale, "checkout", "--quiet", "-b", BRANCH)
    (stale / "STALE.md").write_text("an earlier run of goldpath\n")
    GeneratedRepo.open(stale).commit_all("an earlier update", update_to="v1.1.0")
    git(stale, "checkout", "--quiet", "main")

    outcomes = _fleet_update(tmp_path)
    assert outcomes["theirs"]["outcome"] == "skipped"
    assert outcomes["theirs"]["detail"] == f"{BRANCH} holds 1 commit goldpath did not make"
    assert git(theirs, "rev-parse", BRANCH) == their_tip
    assert git(theirs, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert outcomes["stale"]["outcome"] == "updated"
    assert "STALE.md" not in git(stale, "ls-tree", "--name-only", BRANCH)
    answers = yaml.safe_load(git(stale, "show", f"{BRANCH}:.copier-answers.yml"))
    assert answers["_commit"] == "v1.1.0"


def test_an_untracked_file_hidden_by_git_config_is_never_committed(
    work: Path, tmp_path: Path
) -> None:
    (repo,) = _copies(work, tmp_path, "hidden")
    git(repo, "config", "status.showUntrackedFiles", "no")
    (repo / "notes.txt").write_text("not committed yet\n")
    head = git(repo, "rev-parse", "HEAD")
    outcomes = _fleet_update(tmp_path)
    assert (outcomes["hidden"]["outcome"], outcomes["hidden"]["detail"]) == (
        "skipped", "uncommitted changes",
    )  # fmt: skip
    assert (repo / "notes.txt").read_text() == "not committed yet\n"
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "branch", "--list", BRANCH) == ""


def test_a_tree_that_gets_dirty_during_the_run_is_skipped_and_kept(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status is taken first; a change made before the repository's turn is the
    update's own refusal (DirtyTreeError, by type), and nothing is rolled back over it."""
    (repo,) = _copies(work, tmp_path, "busy")
    status = fleet_module.fleet_status

    def status_then_edit(roots: list[Path], *, jobs: int = 4) -> list[fleet_module.FleetRepo]:
        statuses = status(roots, jobs=jobs)
        (repo / "README.md").write_text("edited meanwhile\n")
        (repo / "scratch.txt").write_text("new file\n")
        return statuses

    monkeypatch.setattr(fleet_module, "fleet_status", status_then_edit)
    head = git(repo, "rev-parse", "HEAD")
    outcomes = _fleet_update(tmp_path)
    assert (outcomes["busy"]["outcome"], outcomes["busy"]["detail"]) == (
        "skipped", "uncommitted changes",
    )  # fmt: skip
    assert (repo / "README.md").read_text() == "edited meanwhile\n"
    assert (repo / "scratch.txt").read_text() == "new file\n"
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "branch", "--list", BRANCH) == ""
