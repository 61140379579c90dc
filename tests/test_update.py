"""``goldpath update`` and ``goldpath check`` on a throwaway template with two releases.

v1.0.0 is this repository's template as it is; v1.1.0 adds scripted changes: a changed
line in the service, a new file, a removed file, a file renamed by a migration, and a
dependency in pyproject.toml. A project generated at v1.0.0, committed and edited as a
team would, is updated to v1.1.0.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from goldpath.commands.new import create_project
from goldpath.project import parse_version
from goldpath.settings import EXIT_BEHIND, EXIT_CONFLICTS
from tests.helpers import (
    GIT_NO_ACCESS,
    NEW_DOCSTRING,
    OLD_DOCSTRING,
    PACKAGE,
    UV_NO_SOLUTION,
    answers_of,
    assert_one_line_error,
    commit_all,
    git,
    invoke,
    require_tool,
    run,
    small_template,
    stand_in,
    two_release_template,
)

pytestmark = pytest.mark.slow

HEALTH = f"src/{PACKAGE}/api/routes/health.py"


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with the template tagged v1.0.0 and v1.1.0."""
    return two_release_template(tmp_path_factory.mktemp("template") / "goldpath-template")


@pytest.fixture(scope="session")
def base_project(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project generated at v1.0.0 with goldpath, locked and committed."""
    require_tool("uv")
    dest = tmp_path_factory.mktemp("base") / "service"
    create_project(dest=dest, template=str(template_repo), vcs_ref="v1.0.0", defaults=True)
    return dest


@pytest.fixture
def project(base_project: Path, tmp_path: Path) -> Path:
    """A fresh copy of the v1.0.0 project for one scenario."""
    copy = tmp_path / "service"
    shutil.copytree(base_project, copy, symlinks=True)
    return copy


def test_template_changes_arrive_and_unrelated_edits_survive(project: Path) -> None:
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Team notes\n\nOn call: #genai-oncall\n")
    commit_all(project, "team notes")
    code, out, err = invoke("update", str(project), "--trust")
    assert code == 0, err
    assert "from v1.0.0 to v1.1.0" in out
    assert "On call: #genai-oncall" in readme.read_text()
    assert NEW_DOCSTRING in (project / HEALTH).read_text()
    assert (project / "docs" / "on-call.md").is_file()
    assert not (project / "src" / PACKAGE / "py.typed").exists()
    assert answers_of(project)["_commit"] == "v1.1.0"


def test_colliding_edit_is_a_conflict_named_in_the_output(project: Path) -> None:
    health = project / HEALTH
    health.write_text(health.read_text().replace(OLD_DOCSTRING, '    """Liveness, our way."""'))
    commit_all(project, "our docstring")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == EXIT_CONFLICTS
    assert HEALTH in err
    text = health.read_text()
    assert "<<<<<<<" in text
    assert "Liveness, our way." in text
    assert "no dependency is checked" in text


def test_file_the_team_deleted_stays_deleted(project: Path) -> None:
    git(project, "rm", "--quiet", "tests/test_logging.py")
    commit_all(project, "we do not test logs")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == 0, err
    assert not (project / "tests" / "test_logging.py").exists()


def test_file_the_team_added_is_untouched(project: Path) -> None:
    notes = project / "notes" / "decisions.md"
    notes.parent.mkdir()
    notes.write_text("# Decisions\n\n1. We use the fake provider in staging.\n")
    commit_all(project, "decisions")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == 0, err
    assert notes.read_text() == "# Decisions\n\n1. We use the fake provider in staging.\n"


def test_team_dependency_survives_and_lock_is_regenerated(project: Path) -> None:
    uv = require_tool("uv")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    last_dependency = text.index("]", text.index("dependencies = ["))
    pyproject.write_text(text[:last_dependency] + '  "tenacity>=9",\n' + text[last_dependency:])
    run([uv, "lock", "--quiet"], cwd=project)
    commit_all(project, "add tenacity")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == 0, err
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert "tenacity>=9" in dependencies
    assert "cachetools>=5.5" in dependencies
    run([uv, "lock", "--check"], cwd=project)
    lock = (project / "uv.lock").read_text()
    assert 'name = "tenacity"' in lock
    assert 'name = "cachetools"' in lock
    assert "<<<<<<<" not in lock


def test_migration_renames_a_file_the_team_did_not_edit(project: Path) -> None:
    original = (project / ".env.example").read_text()
    code, _, err = invoke("update", str(project), "--trust")
    assert code == 0, err
    assert not (project / ".env.example").exists()
    assert (project / ".env.sample").read_text() == original


def test_migration_carries_the_teams_edits_to_the_new_name(project: Path) -> None:
    """The edit moves with the file; copier cannot tell it from the template's version,
    so the file is shown as a conflict for the team to confirm, never silently lost."""
    env_example = project / ".env.example"
    env_example.write_text(env_example.read_text() + "TEAM_SETTING=1\n")
    commit_all(project, "team setting")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == EXIT_CONFLICTS
    assert ".env.sample" in err
    assert not env_example.exists()
    assert "TEAM_SETTING=1" in (project / ".env.sample").read_text()


def test_data_turns_an_artifact_off_and_on(project: Path) -> None:
    assert (project / "deploy" / "kustomize" / "base").is_dir()
    code, _, err = invoke("update", str(project), "--trust", "--data", "kubernetes=none")
    assert code == 0, err
    assert not (project / "deploy").exists()
    assert answers_of(project)["kubernetes"] == "none"
    commit_all(project, "no kubernetes")
    code, _, err = invoke("update", str(project), "--trust", "--data", "kubernetes=manifests")
    assert code == 0, err
    assert (project / "deploy" / "manifests").is_dir()
    assert not (project / "deploy" / "kustomize").exists()


def test_data_turns_kustomize_into_helm_and_back(project: Path) -> None:
    """kubernetes=helm replaces the overlays with the chart (and CI follows); back again the
    chart goes and the overlays return; edits outside deploy/ stay throughout."""
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Team notes\n\nOn call: #genai-oncall\n")
    runbook = project / "docs" / "team-runbook.md"
    runbook.parent.mkdir(exist_ok=True)
    runbook.write_text("# Our runbook\n")
    commit_all(project, "team notes")
    chart = project / "deploy" / "helm" / answers_of(project)["project_slug"]
    workflow = project / ".github" / "workflows" / "k8s.yml"
    code, _, err = invoke(
        "update", str(project), "--trust", "--no-lock", "--data", "kubernetes=helm"
    )
    assert code == 0, err
    assert answers_of(project)["kubernetes"] == "helm"
    assert not (project / "deploy" / "kustomize").exists()
    for name in (
        "Chart.yaml",
        "values.schema.json",
        "values-prod.yaml",
        "templates/deployment.yaml",
    ):
        assert (chart / name).is_file(), name
    assert "helm lint --strict" in workflow.read_text()
    assert "On call: #genai-oncall" in readme.read_text()
    assert runbook.read_text() == "# Our runbook\n"
    commit_all(project, "helm")
    code, _, err = invoke(
        "update", str(project), "--trust", "--no-lock", "--data", "kubernetes=kustomize"
    )
    assert code == 0, err
    assert not (project / "deploy" / "helm").exists()
    assert (project / "deploy" / "kustomize" / "overlays" / "prod" / "kustomization.yaml").is_file()
    assert "helm" not in workflow.read_text()
    assert "On call: #genai-oncall" in readme.read_text()
    assert runbook.is_file()


def test_data_moves_the_repository_from_github_to_gitlab_and_back(project: Path) -> None:
    """The files of the old answer go and the new answer's arrive, with the release."""
    assert (project / ".github" / "workflows" / "ci.yml").is_file()
    code, _, err = invoke("update", str(project), "--trust", "--no-lock", "--data", "ci=gitlab")
    assert code == 0, err
    assert not (project / ".github").exists()
    assert (project / ".gitlab-ci.yml").is_file()
    assert (project / "renovate.json").is_file()
    assert (project / "scripts" / "template_release.py").is_file(), "both answers render it"
    assert answers_of(project)["ci"] == "gitlab"
    commit_all(project, "move to GitLab")
    code, _, err = invoke("update", str(project), "--trust", "--no-lock", "--data", "ci=github")
    assert code == 0, err
    assert (project / ".github" / "workflows" / "ci.yml").is_file()
    assert not (project / ".gitlab-ci.yml").exists()
    assert not (project / "renovate.json").exists()
    assert NEW_DOCSTRING in (project / HEALTH).read_text(), "the release arrived as well"


def test_data_turns_argo_cd_into_flux(project: Path) -> None:
    code, _, err = invoke("update", str(project), "--trust", "--no-lock", "--data", "gitops=argocd")
    assert code == 0, err
    assert (project / "deploy" / "argocd").is_dir()
    commit_all(project, "argo cd")
    code, _, err = invoke("update", str(project), "--trust", "--no-lock", "--data", "gitops=flux")
    assert code == 0, err
    assert not (project / "deploy" / "argocd").exists()
    assert (project / "deploy" / "flux" / "kustomizations.yaml").is_file()
    assert answers_of(project)["gitops"] == "flux"


def test_data_changes_dependencies_and_the_lock_follows(project: Path) -> None:
    code, _, err = invoke("update", str(project), "--trust", "--data", "otel=true")
    assert code == 0, err
    assert "opentelemetry-sdk" in (project / "pyproject.toml").read_text()
    assert 'name = "opentelemetry-sdk"' in (project / "uv.lock").read_text()
    commit_all(project, "tracing on")
    code, _, err = invoke("update", str(project), "--trust", "--data", "otel=false")
    assert code == 0, err
    assert "opentelemetry" not in (project / "pyproject.toml").read_text()
    assert 'name = "opentelemetry-sdk"' not in (project / "uv.lock").read_text()


def test_dirty_tree_is_refused_and_left_alone(project: Path) -> None:
    readme = project / "README.md"
    readme.write_text("work in progress\n")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == 1
    assert "has uncommitted changes; commit or stash them first" in err
    assert readme.read_text() == "work in progress\n"
    assert answers_of(project)["_commit"] == "v1.0.0"


def test_failure_midway_puts_the_tree_back(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = project.parent / "bin"
    bin_dir.mkdir()
    fake_uv = bin_dir / "uv"
    fake_uv.write_text("#!/bin/sh\necho 'no network' >&2\nexit 2\n")
    fake_uv.chmod(fake_uv.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    head = git(project, "rev-parse", "HEAD")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == 1
    assert "uv lock failed: no network" in err
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "rev-parse", "HEAD") == head
    assert answers_of(project)["_commit"] == "v1.0.0"


def test_untracked_file_counts_even_when_git_is_told_to_hide_it(project: Path) -> None:
    """``status.showUntrackedFiles no`` once let the update run and its rollback delete it."""
    git(project, "config", "status.showUntrackedFiles", "no")
    notes = project / "notes.txt"
    notes.write_text("not committed yet\n")
    head = git(project, "rev-parse", "HEAD")
    code, _, err = invoke("update", str(project), "--trust")
    assert_one_line_error(code, err, "has uncommitted changes; commit or stash them first")
    assert notes.read_text() == "not committed yet\n"
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain", "--untracked-files=all") == "?? notes.txt\n"
    assert answers_of(project)["_commit"] == "v1.0.0"


def _on_path(monkeypatch: pytest.MonkeyPatch, bin_dir: Path) -> None:
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_uv_failure_names_its_error_not_its_hint(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.parent / "uv-output").write_text(UV_NO_SOLUTION)
    stand_in(project.parent / "bin", "uv", f"cat '{project.parent / 'uv-output'}' >&2\nexit 1\n")
    _on_path(monkeypatch, project.parent / "bin")
    head = git(project, "rev-parse", "HEAD")
    code, _, err = invoke("update", str(project), "--trust")
    assert_one_line_error(
        code, err, "uv lock failed: No solution found when resolving dependencies for split"
    )
    assert "hint" not in err
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "rev-parse", "HEAD") == head


def test_git_failure_names_its_fatal_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_git = shutil.which("git")
    (project.parent / "git-output").write_text(GIT_NO_ACCESS)
    stand_in(
        project.parent / "bin",
        "git",
        f"[ \"$1\" = ls-remote ] && {{ cat '{project.parent / 'git-output'}' >&2; exit 128; }}\n"
        f'exec {real_git} "$@"\n',
    )
    _on_path(monkeypatch, project.parent / "bin")
    head = git(project, "rev-parse", "HEAD")
    code, _, err = invoke("update", str(project), "--trust")
    assert_one_line_error(code, err, "failed: Could not read from remote repository.")
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "rev-parse", "HEAD") == head


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A project generated at v1.0.0 from a two-file template whose v1.1.0 is broken:
    a Jinja syntax error on line 3 of README.md.jinja."""
    template = small_template(
        tmp_path / "template", {"README.md.jinja": "# {{ name }}\n\n{{ name | }}\n"}
    )
    dest = tmp_path / "project"
    create_project(dest=dest, template=str(template), vcs_ref="v1.0.0", defaults=True, lock=False)
    return dest


def test_jinja_syntax_error_in_the_template_is_one_line(small_project: Path) -> None:
    head = git(small_project, "rev-parse", "HEAD")
    for extra in ([], ["--dry-run"]):
        code, _, err = invoke("update", str(small_project), "--no-lock", *extra)
        assert_one_line_error(
            code,
            err,
            "template error in README.md.jinja, line 3: "
            "expected token 'name', got 'end of print statement'",
        )
        assert git(small_project, "status", "--porcelain", "--untracked-files=all") == ""
        assert git(small_project, "rev-parse", "HEAD") == head
    assert answers_of(small_project)["_commit"] == "v1.0.0"


def test_json_reports_the_result_and_the_conflicts(project: Path) -> None:
    health = project / HEALTH
    health.write_text(health.read_text().replace(OLD_DOCSTRING, '    """Liveness, our way."""'))
    commit_all(project, "our docstring")
    code, out, _ = invoke("update", str(project), "--trust", "--no-lock", "--json")
    assert code == EXIT_CONFLICTS
    result = json.loads(out)
    assert result["path"] == str(project)
    assert (result["from_version"], result["to_version"]) == ("v1.0.0", "v1.1.0")
    assert result["conflicts"] == [HEALTH]
    assert "docs/on-call.md" in result["changed"]
    assert result["up_to_date"] is False
    assert result["locked"] is False


def test_json_reports_an_error_by_its_type(project: Path) -> None:
    (project / "README.md").write_text("work in progress\n")
    code, out, err = invoke("update", str(project), "--trust", "--json")
    assert_one_line_error(code, err, "has uncommitted changes")
    assert json.loads(out) == {
        "error": {
            "type": "DirtyTreeError",
            "message": f"{project} has uncommitted changes; commit or stash them first",
        }
    }


def test_json_stdout_holds_only_json_when_a_template_task_prints(tmp_path: Path) -> None:
    template = small_template(
        tmp_path / "template",
        {"copier.yml": "name:\n  type: str\n  default: demo\n_tasks:\n  - echo task says hi\n"},
    )
    dest = tmp_path / "project"
    create_project(dest=dest, template=str(template), vcs_ref="v1.0.0", defaults=True, lock=False)
    command = [sys.executable, "-m", "goldpath", "update", str(dest), "--json", "--trust"]
    result = subprocess.run(
        [*command, "--no-lock"], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["to_version"] == "v1.1.0"
    assert "task says hi" in result.stderr


def test_dry_run_shows_the_diff_and_touches_nothing(project: Path) -> None:
    code, out, err = invoke("update", str(project), "--trust", "--dry-run")
    assert code == 0, err
    assert "docs/on-call.md" in out
    assert "+_commit: v1.1.0" in out
    assert "Would update" in out
    assert git(project, "status", "--porcelain") == ""
    assert answers_of(project)["_commit"] == "v1.0.0"


def test_check_reports_behind_then_current(project: Path) -> None:
    code, out, _ = invoke("check", str(project), "--json")
    assert code == EXIT_BEHIND
    report = json.loads(out)
    assert report["current"] == "v1.0.0"
    assert report["latest"] == "v1.1.0"
    assert report["behind"] is True
    assert invoke("update", str(project), "--trust")[0] == 0
    commit_all(project, "update to v1.1.0")
    code, out, _ = invoke("check", str(project))
    assert code == 0
    assert "current" in out
    code, out, _ = invoke("update", str(project), "--trust")
    assert code == 0
    assert "is up to date" in out


def test_plain_copier_update_works_on_the_same_repository(project: Path) -> None:
    copier = require_tool("copier")
    run([copier, "update", "--trust", "--defaults", "--vcs-ref", "v1.1.0"], cwd=project)
    assert answers_of(project)["_commit"] == "v1.1.0"
    assert (project / "docs" / "on-call.md").is_file()


def test_not_a_generated_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    code, _, err = invoke("update", str(tmp_path / "plain"))
    assert code == 1
    assert "is not a generated repository (no .copier-answers.yml)" in err


def test_answers_file_edited_into_an_invalid_state(project: Path) -> None:
    answers = project / ".copier-answers.yml"
    lines = answers.read_text().splitlines()
    answers.write_text("\n".join(line for line in lines if "_commit" not in line))
    commit_all(project, "oops")
    head = git(project, "rev-parse", "HEAD")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == 1
    assert "has no _commit: it was edited into an invalid state" in err
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain") == ""


def test_unreachable_template_source(project: Path) -> None:
    answers = project / ".copier-answers.yml"
    data = yaml.safe_load(answers.read_text())
    data["_src_path"] = str(project.parent / "moved-away")
    answers.write_text(yaml.safe_dump(data))
    commit_all(project, "template moved")
    code, _, err = invoke("update", str(project), "--trust")
    assert code == 1
    assert "reading the tags of template" in err
    assert git(project, "status", "--porcelain") == ""


def test_vcs_ref_older_than_current_is_refused(project: Path) -> None:
    assert invoke("update", str(project), "--trust")[0] == 0
    commit_all(project, "update to v1.1.0")
    code, _, err = invoke("update", str(project), "--trust", "--vcs-ref", "v1.0.0")
    assert code == 1
    assert "--vcs-ref v1.0.0 is older than the current template version v1.1.0" in err
    assert git(project, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("v1.1.0", "1.1.0"),
        ("1.1.0", "1.1.0"),
        ("v0.3.0rc1", "0.3.0rc1"),
        ("v1.1.0-4-gabc1234", "1.1.0"),
        ("24c7420", None),  # a commit hash, though PEP 440 would read it as 24rc7420
        ("1234567", None),
        ("main", None),
        (None, None),
    ],
)
def test_only_release_tags_are_versions(ref: str | None, expected: str | None) -> None:
    version = parse_version(ref)
    assert (str(version) if version else None) == expected
