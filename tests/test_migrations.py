"""The migrations this template ships in copier.yml, run by ``goldpath update``.

v0.1.0 moved plain manifests from ``deploy/kubernetes`` to ``deploy/manifests``. Each test
builds a throwaway git repository of this template in two commits: first the template
as it was before that release (the directory and the paths that name it moved back),
untagged like every commit before the first release; then this template as it is,
tagged v0.1.0. A project generated from the first commit, committed and edited as a
team would, is updated to v0.1.0 with the real ``_migrations`` entry of copier.yml.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from goldpath.commands.new import create_project
from goldpath.settings import EXIT_CONFLICTS, EXIT_UNKNOWN
from tests.helpers import (
    REPO_ROOT,
    answers_of,
    commit_all,
    copy_template,
    git,
    invoke,
    require_tool,
)

pytestmark = pytest.mark.slow

OLD, NEW = "deploy/kubernetes", "deploy/manifests"
_DEPLOY = "{% if kubernetes != 'none' %}deploy{% endif %}"
_OLD_DIR = f"{_DEPLOY}/{{% if kubernetes == 'manifests' %}}kubernetes{{% endif %}}"
_NEW_DIR = f"{_DEPLOY}/{{% if kubernetes == 'manifests' %}}manifests{{% endif %}}"


def _before_v0_1_0(repo: Path) -> None:
    """Turn the copied template back into its state before v0.1.0."""
    config = repo / "copier.yml"
    text = config.read_text()
    start, end = text.index("\n_migrations:"), text.index("\n# --- computed values")
    config.write_text(text[:start] + "\n_migrations: []\n" + text[end:])  # none before v0.1.0
    template = repo / "template"
    (template / _NEW_DIR).rename(template / _OLD_DIR)
    for path in template.rglob("*"):
        if path.is_file() and NEW in (text := path.read_text()):
            path.write_text(text.replace(NEW, OLD))


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pre-release commit (untagged), then this template tagged v0.1.0."""
    repo = tmp_path_factory.mktemp("template") / "goldpath-template"
    repo.mkdir()
    copy_template(repo)
    _before_v0_1_0(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_all(repo, "before the first release")  # untagged: copier sees 0.0.0.post1
    copy_template(repo)
    commit_all(repo, "template v0.1.0")
    git(repo, "tag", "v0.1.0")
    return repo


def _generate(template_repo: Path, dest: Path, kubernetes: str) -> Path:
    require_tool("uv")
    with pytest.warns(UserWarning, match="is not a release tag"):
        create_project(
            dest=dest,
            template=str(template_repo),
            vcs_ref=git(template_repo, "rev-parse", "main~1").strip(),
            defaults=True,
            data={"kubernetes": kubernetes},
            unreleased=True,  # the commit before the first release has no tag
        )
    return dest


def test_the_template_ships_the_migration_it_is_tested_with() -> None:
    config = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    before, after = [m for m in config["_migrations"] if m["version"] == "v0.1.0"]
    assert "'before'" in before["when"]
    assert f"git mv {OLD} {NEW}" in before["command"]
    assert "'after'" in after["when"]
    assert after["command"] == f"git reset --quiet -- {OLD} {NEW}"
    assert (REPO_ROOT / "template" / _NEW_DIR).is_dir()
    assert not (REPO_ROOT / "template" / _OLD_DIR).exists()


def test_plain_manifests_move_with_the_teams_edits_and_files(
    template_repo: Path, tmp_path: Path
) -> None:
    project = _generate(template_repo, tmp_path / "service", "manifests")
    old = project / OLD
    assert old.is_dir()
    assert not (project / NEW).exists()
    unedited = sorted(p.name for p in old.glob("*.yaml") if p.name != "20-configmap.yaml")
    configmap = old / "20-configmap.yaml"
    configmap.write_text(configmap.read_text() + '  TEAM_SETTING: "on"\n')
    (old / "90-team-extra.yaml").write_text("# the team's own object\n")
    commit_all(project, "team edits to the manifests")

    code, _, err = invoke("update", str(project), "--trust")

    # Copier sees a moved file as added on both sides: the edited one comes back with
    # the team's lines marked against the template's (nothing here), for them to keep.
    assert code == EXIT_CONFLICTS
    assert err.splitlines()[1].strip() == f"{NEW}/20-configmap.yaml"
    assert err.count(f"{NEW}/") == 1
    conflict = (project / NEW / "20-configmap.yaml").read_text()
    assert conflict.endswith(
        '<<<<<<< before updating\n  TEAM_SETTING: "on"\n=======\n>>>>>>> after updating\n'
    )
    assert not (project / OLD).exists()
    # Nothing is left staged: the move is deleted and untracked files, which is what tools
    # that collect an update from `git status` take (Renovate skips staged renames).
    assert git(project, "diff", "--cached", "--name-only") == ""
    status = git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    for name in [*unedited, "90-team-extra.yaml"]:
        assert f" D {OLD}/{name}" in status, name
        assert f"?? {NEW}/{name}" in status, name
    assert (project / NEW / "90-team-extra.yaml").read_text() == "# the team's own object\n"
    workflow = (project / ".github" / "workflows" / "k8s.yml").read_text()
    assert f"{NEW}/" in workflow
    assert f"{OLD}/" not in workflow
    assert answers_of(project)["_commit"] == "v0.1.0"


def test_a_kustomize_project_is_not_touched_by_the_migration(
    template_repo: Path, tmp_path: Path
) -> None:
    project = _generate(template_repo, tmp_path / "service", "kustomize")
    own = project / OLD / "notes.md"  # a directory of the team's that happens to match
    own.parent.mkdir()
    own.write_text("ours\n")
    commit_all(project, "our own deploy/kubernetes")

    code, _, err = invoke("update", str(project), "--trust")

    assert code == 0, err
    assert own.read_text() == "ours\n"
    assert not (project / NEW).exists()
    assert (project / "deploy" / "kustomize" / "base").is_dir()


@pytest.fixture(scope="module")
def untagged_repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same two commits with no release tag at all: the migration exists, untagged."""
    repo = tmp_path_factory.mktemp("untagged") / "goldpath-template"
    git(template_repo.parent, "clone", "--quiet", str(template_repo), str(repo))
    git(repo, "tag", "--delete", "v0.1.0")
    return repo


def test_check_cannot_tell_without_release_tags(untagged_repo: Path, tmp_path: Path) -> None:
    project = _generate(untagged_repo, tmp_path / "service", "manifests")
    code, out, _ = invoke("check", str(project), "--json")
    assert code == EXIT_UNKNOWN
    report = json.loads(out)
    assert (report["status"], report["latest"], report["behind"]) == ("unknown", None, False)
    assert "has no release tags" in report["reason"]


def test_an_update_that_would_skip_a_migration_is_refused(
    untagged_repo: Path,
    tmp_path: Path,
) -> None:
    """Both ends untagged: copier sees 0.0.0.post1 -> 0.0.0.post2 and would not run the
    v0.1.0 migration, so the team's edited manifest would be deleted, not moved."""
    project = _generate(untagged_repo, tmp_path / "service", "manifests")
    configmap = project / OLD / "20-configmap.yaml"
    configmap.write_text(configmap.read_text() + '  TEAM_SETTING: "on"\n')
    commit_all(project, "team edits to the manifests")
    head = git(project, "rev-parse", "HEAD")

    code, _, err = invoke("update", str(project), "--trust", "--vcs-ref", "HEAD")

    assert code == 1
    assert err.count("error:") == 1
    assert "crosses the migration v0.1.0, which copier would not run" in err
    assert "tag v0.1.0 in the template, then update to it" in err
    assert 'TEAM_SETTING: "on"' in configmap.read_text()
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
