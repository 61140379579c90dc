"""``goldpath update-pr`` and the release lookup the template-update workflow runs.

A throwaway template with v1.0.0 and v1.1.0 (and a CHANGELOG.md), a project generated at
v1.0.0 whose ``origin`` is a local bare repository, and stand-in ``gh`` and ``glab`` first
on PATH (tests/helpers.py:FakeHosts) that log what they are asked and keep the requests
they opened: what the workflow does on GitHub or GitLab, without either.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from goldpath.changelog import entries_between
from goldpath.commands.new import create_project
from goldpath.settings import UPDATE_BRANCH, UPDATE_TRAILER
from tests.conftest import Renderer
from tests.helpers import (
    CHANGELOG_UNRELEASED,
    CHANGELOG_V1_0,
    CHANGELOG_V1_1,
    OLD_DOCSTRING,
    PACKAGE,
    WORKFLOW_CHANGE,
    FakeHosts,
    answers_of,
    commit_all,
    git,
    invoke,
    require_tool,
    two_release_template,
)

HEALTH = f"src/{PACKAGE}/api/routes/health.py"
CI_WORKFLOW = ".github/workflows/ci.yml"
# The CLI commands of each host: view, create, edit and comment.
GH = {"view": ["pr", "view"], "create": ["pr", "create"], "edit": ["pr", "edit"],
      "comment": ["pr", "comment"]}  # fmt: skip
GLAB = {"view": ["mr", "list"], "create": ["mr", "create"], "edit": ["mr", "update"],
        "comment": ["mr", "note"]}  # fmt: skip


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHosts:
    return FakeHosts.install(tmp_path / "hosts", monkeypatch)


def _asked(hosts: FakeHosts) -> list[list[str]]:
    """The host commands run, without glab's second look-up step (``mr view IID``)."""
    return [c for c in hosts.commands() if c != ["mr", "view"]]


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template tagged v1.0.0 and v1.1.0, with a CHANGELOG.md."""
    root = tmp_path_factory.mktemp("template") / "goldpath-template"
    return two_release_template(root, changelog=True)


@pytest.fixture(scope="session")
def base_project(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project generated at v1.0.0 with goldpath, locked and committed."""
    require_tool("uv")
    dest = tmp_path_factory.mktemp("base") / "service"
    create_project(dest=dest, template=str(template_repo), vcs_ref="v1.0.0", defaults=True)
    return dest


def _point_at(project: Path, template: Path) -> None:
    """Record another template source in the answers file (same v1.0.0 content)."""
    answers = project / ".copier-answers.yml"
    lines = [
        f"_src_path: {template}" if line.startswith("_src_path:") else line
        for line in answers.read_text().splitlines()
    ]
    answers.write_text("\n".join(lines) + "\n")
    commit_all(project, "template moved")


@pytest.fixture
def project(base_project: Path, tmp_path: Path) -> Path:
    """A fresh copy of the v1.0.0 project whose origin is a local bare repository."""
    copy = tmp_path / "service"
    shutil.copytree(base_project, copy, symlinks=True)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(copy, "remote", "add", "origin", origin.as_uri())
    git(copy, "push", "--quiet", "origin", "main")
    return copy


def _origin(project: Path) -> Path:
    return project.parent / "origin.git"


def _remote_branch(project: Path) -> str | None:
    listed = git(_origin(project), "ls-remote", ".", f"refs/heads/{UPDATE_BRANCH}").split()
    return listed[0] if listed else None


def _assert_back_on_main(project: Path, head: str) -> None:
    assert git(project, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""


@pytest.mark.slow
def test_opens_a_pull_request_as_the_workflow_runs_it(
    project: Path, template_repo: Path, hosts: FakeHosts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--vcs-ref <commit> --expect-release <tag>, run by the release's own goldpath."""
    import goldpath

    monkeypatch.setattr(goldpath, "__version__", "1.1.0", raising=False)
    commit = git(template_repo, "rev-parse", "v1.1.0^{commit}").strip()
    head = git(project, "rev-parse", "HEAD")
    code, out, err = invoke(
        "update-pr", str(project), "--vcs-ref", commit, "--expect-release", "v1.1.0", "--trust"
    )
    assert code == 0, err
    assert "Opened #1" in out
    pushed = _remote_branch(project)
    assert pushed is not None
    assert git(project, "rev-parse", f"{pushed}^").strip() == head.strip()
    message = git(project, "log", "-1", "--format=%B", pushed)
    assert f"{UPDATE_TRAILER}: v1.1.0" in message
    shown = git(project, "show", f"{pushed}:.copier-answers.yml")
    assert "_commit: v1.1.0" in shown
    assert hosts.commands() == [["pr", "view"], ["pr", "create"]]
    create = hosts.only("pr", "create")
    assert create["args"][2:6] == ["--base", "main", "--head", UPDATE_BRANCH]
    assert create["cwd"] == str(project)
    body = create["body"]
    assert "from `v1.0.0` to `v1.1.0`" in body
    assert "### v1.1.0 (2026-02-02)" in body
    assert "#### Changed" in body  # the entry's own heading, one level down
    assert "a migration renames it" in body
    assert CHANGELOG_V1_0.splitlines()[2] not in body
    assert CHANGELOG_UNRELEASED.splitlines()[2] not in body
    assert "None: your changes were kept and `uv.lock` was regenerated." in body
    _assert_back_on_main(project, head)
    assert answers_of(project)["_commit"] == "v1.0.0"


@pytest.mark.slow
def test_opens_a_merge_request_on_gitlab(project: Path, hosts: FakeHosts) -> None:
    head = git(project, "rev-parse", "HEAD")
    code, out, err = invoke("update-pr", str(project), "--trust", "--host", "gitlab", "--json")
    assert code == 0, err
    result = json.loads(out)
    request = hosts.request(project, UPDATE_BRANCH)
    assert request is not None
    assert (result["status"], result["host"]) == ("opened", "gitlab")
    assert result["pull_request"] == request["number"] == 1
    assert result["pull_request_url"] == request["url"]
    assert "/-/merge_requests/1" in request["url"]
    assert result["commit"] == _remote_branch(project)
    assert _asked(hosts) == [["mr", "list"], ["mr", "create"]]
    create = hosts.only("mr", "create")
    assert create["args"][2:6] == ["--source-branch", UPDATE_BRANCH, "--target-branch", "main"]
    assert "### v1.1.0 (2026-02-02)" in create["body"]
    assert hosts.calls("gh") == []
    _assert_back_on_main(project, head)


@pytest.mark.slow
@pytest.mark.parametrize(("host", "cli"), [("github", GH), ("gitlab", GLAB)])
def test_a_second_run_refreshes_the_open_request(
    project: Path, hosts: FakeHosts, host: str, cli: dict[str, list[str]]
) -> None:
    code, out, err = invoke("update-pr", str(project), "--trust", "--host", host)
    assert code == 0, err
    assert f"Opened {'#' if host == 'github' else '!'}1 from {UPDATE_BRANCH}" in out
    first = _remote_branch(project)
    code, out, err = invoke("update-pr", str(project), "--trust", "--host", host, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "refreshed"
    assert result["pull_request"] == 1
    assert result["pull_request_url"] == hosts.request(project, UPDATE_BRANCH)["url"]  # type: ignore[index]
    assert result["pushed"] is False  # the branch already holds this very update
    assert result["commit"] == first
    assert _remote_branch(project) == first
    assert _asked(hosts) == [cli["view"], cli["create"], cli["view"], cli["edit"]]
    assert hosts.only(*cli["edit"])["args"][2] == "1"
    assert len(hosts.requests(project)) == 1


def _forked_project(base_project: Path, template_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A v1.0.0 project (origin: a local bare repository) of a fork of the template, which
    the test can give further releases."""
    fork = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", str(template_repo), str(fork))
    project = tmp_path / "service"
    shutil.copytree(base_project, project, symlinks=True)
    _point_at(project, fork)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", origin.as_uri())
    git(project, "push", "--quiet", "origin", "main")
    return project, fork


def _release_v1_2(fork: Path) -> None:
    (fork / "CHANGELOG.md").write_text("# Changelog\n\n## v1.2.0 (2026-03-02)\n\n- More.\n")
    commit_all(fork, "template v1.2.0")
    git(fork, "tag", "v1.2.0")


@pytest.mark.slow
def test_after_a_merged_request_the_next_release_opens_a_fresh_one(
    base_project: Path, template_repo: Path, tmp_path: Path, hosts: FakeHosts
) -> None:
    """GitLab keeps the merged request of the branch; the next release gets a new one."""
    project, fork = _forked_project(base_project, template_repo, tmp_path)
    assert invoke("update-pr", str(project), "--trust", "--host", "gitlab")[0] == 0
    hosts.set(project, UPDATE_BRANCH, state="MERGED", checks="passed")
    git(project, "fetch", "--quiet", "origin", UPDATE_BRANCH)
    git(project, "merge", "--quiet", "--ff-only", "FETCH_HEAD")
    git(project, "push", "--quiet", "origin", "main")
    _release_v1_2(fork)
    code, out, err = invoke("update-pr", str(project), "--trust", "--host", "gitlab", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["status"], result["pull_request"]) == ("opened", 2)
    assert (result["from_version"], result["to_version"]) == ("v1.1.0", "v1.2.0")
    assert [(r["number"], r["state"]) for r in hosts.requests(project)] == [
        (1, "MERGED"),
        (2, "OPEN"),
    ]


def _with_a_persons_commit(
    base_project: Path, template_repo: Path, tmp_path: Path, host: str
) -> tuple[Path, Path, str | None]:
    """A project whose update request is open and whose branch holds a person's commit;
    returns the project, its template's fork and the branch's commit."""
    project, fork = _forked_project(base_project, template_repo, tmp_path)
    assert invoke("update-pr", str(project), "--trust", "--host", host)[0] == 0
    origin = tmp_path / "origin.git"

    person = tmp_path / "person"
    git(tmp_path, "clone", "--quiet", "--branch", UPDATE_BRANCH, origin.as_uri(), str(person))
    (person / "NOTES.md").write_text("Resolved by a person.\n")
    commit_all(person, "a person's fix on the update branch")
    git(person, "push", "--quiet", "origin", UPDATE_BRANCH)
    return project, fork, _remote_branch(project)


@pytest.mark.slow
@pytest.mark.parametrize(("host", "cli"), [("github", GH), ("gitlab", GLAB)])
def test_a_persons_commit_on_the_branch_is_never_overwritten(
    base_project: Path,
    template_repo: Path,
    tmp_path: Path,
    hosts: FakeHosts,
    host: str,
    cli: dict[str, list[str]],
) -> None:
    """A person resolved something on the branch; a newer release arrives: a comment."""
    project, fork, theirs = _with_a_persons_commit(base_project, template_repo, tmp_path, host)
    noun = "pull request" if host == "github" else "merge request"

    # The same release again: the branch is left alone, nothing new to say.
    code, out, err = invoke("update-pr", str(project), "--trust", "--host", host, "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "kept"
    assert json.loads(out)["commented"] is False

    _release_v1_2(fork)
    head = git(project, "rev-parse", "HEAD")
    code, out, err = invoke("update-pr", str(project), "--trust", "--host", host)
    assert code == 0, err
    said = "#1" if host == "github" else "!1"
    assert f"Left {UPDATE_BRANCH} as is: it has 1 commit(s) goldpath did not make" in out
    assert f"said so on {said}. Merge or close the {noun}" in out
    assert _remote_branch(project) == theirs
    comment = hosts.only(*cli["comment"])
    assert comment["args"][2] == "1"
    assert "`v1.2.0` is available" in comment["body"]
    assert "commits goldpath did not make" in comment["body"]
    assert f"Merge or close this {noun}" in comment["body"]
    assert cli["edit"] not in hosts.commands()
    _assert_back_on_main(project, head)

    # Next week, the same release: said once is enough.
    code, out, err = invoke("update-pr", str(project), "--trust", "--host", host, "--json")
    assert code == 0, err
    assert json.loads(out)["commented"] is False
    assert hosts.commands().count(cli["comment"]) == 1
    assert _remote_branch(project) == theirs
    request = hosts.request(project, UPDATE_BRANCH)
    assert request is not None
    assert len(request["comments"]) == 1


@pytest.mark.slow
def test_a_conflict_is_committed_with_markers_and_named_in_the_body(
    project: Path, hosts: FakeHosts
) -> None:
    health = project / HEALTH
    health.write_text(health.read_text().replace(OLD_DOCSTRING, '    """Liveness, our way."""'))
    commit_all(project, "our docstring")
    git(project, "push", "--quiet", "origin", "main")
    code, out, err = invoke("update-pr", str(project), "--trust")
    assert code == 0, err
    assert f"Committed with conflict markers: {HEALTH}" in out
    pushed = _remote_branch(project)
    assert pushed is not None
    assert "<<<<<<< before updating" in git(project, "show", f"{pushed}:{HEALTH}")
    body = hosts.only("pr", "create")["body"]
    assert f"- `{HEALTH}`" in body
    assert "delete the markers" in body
    assert "<<<<<<<" not in health.read_text()


@pytest.fixture(scope="session")
def workflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template whose v1.1.0 also changes the generated ci.yml workflow."""
    root = tmp_path_factory.mktemp("template") / "goldpath-template"
    return two_release_template(root, changelog=True, workflow_change=True)


@pytest.mark.slow
def test_a_workflow_change_needs_a_token_that_may_push_it(
    project: Path, workflow_template: Path, hosts: FakeHosts
) -> None:
    _point_at(project, workflow_template)
    git(project, "push", "--quiet", "origin", "main")
    head = git(project, "rev-parse", "HEAD")
    code, _, err = invoke("update-pr", str(project), "--trust")
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert CI_WORKFLOW in err
    assert "GOLDPATH_APP_ID" in err
    assert "GOLDPATH_APP_PRIVATE_KEY" in err
    assert "nothing was pushed" in err
    assert _remote_branch(project) is None
    assert hosts.calls() == []
    _assert_back_on_main(project, head)

    code, _, err = invoke("update-pr", str(project), "--trust", "--can-push-workflows")
    assert code == 0, err
    pushed = _remote_branch(project)
    assert pushed is not None
    assert git(project, "show", f"{pushed}:{CI_WORKFLOW}").endswith(WORKFLOW_CHANGE)
    _assert_back_on_main(project, head)


@pytest.mark.slow
def test_a_dirty_tree_is_refused(project: Path, hosts: FakeHosts) -> None:
    (project / "scratch.txt").write_text("work in progress\n")
    code, _, err = invoke("update-pr", str(project), "--trust")
    assert code == 1
    assert "has uncommitted changes; commit or stash them first" in err
    assert _remote_branch(project) is None
    assert hosts.calls() == []


def test_another_goldpath_than_the_expected_release_is_refused(tmp_path: Path) -> None:
    """The workflow runs goldpath from the release's commit; anything else stops at once."""
    import goldpath

    code, _, err = invoke("update-pr", str(tmp_path), "--expect-release", "v99.1.0")
    assert code == 1
    assert f"goldpath {goldpath.__version__} is running" in err
    assert "--expect-release v99.1.0 asks for goldpath 99.1.0" in err
    code, _, err = invoke("update-pr", str(tmp_path), "--expect-release", "main")
    assert code == 1
    assert "--expect-release main is not a release tag" in err


def test_changelog_entries_between_two_versions() -> None:
    text = f"# Changelog\n\n{CHANGELOG_UNRELEASED}\n{CHANGELOG_V1_1}\n{CHANGELOG_V1_0}"
    sections = entries_between(text, "v1.0.0", "v1.1.0")
    assert [(s.tag, s.date) for s in sections] == [("v1.1.0", "2026-02-02")]
    assert sections[0].body.startswith("### Changed")
    assert [s.tag for s in entries_between(text, None, "v1.1.0")] == ["v1.1.0", "v1.0.0"]
    assert [s.tag for s in entries_between(text, "v1.1.0", "v1.1.0")] == []
    # describe output counts as its tag; a commit hash does not bound anything
    assert [s.tag for s in entries_between(text, "v1.0.0-3-gabc1234", "2c8561a")] == ["v1.1.0"]


# --- the release lookup the workflow's first job runs --------------------------------------


def _tagged_template(root: Path) -> tuple[Path, dict[str, str]]:
    """A bare template repository with annotated, lightweight and pre-release tags."""
    work = root / "work"
    work.mkdir()
    git(work, "init", "--quiet", "--initial-branch=main")
    commits: dict[str, str] = {}
    for tag, annotated in (("v1.2.0", True), ("v1.9.0", False), ("v1.10.0", True),
                           ("v1.11.0rc1", True), ("nightly", False)):  # fmt: skip
        (work / "VERSION").write_text(tag + "\n")
        commit_all(work, f"release {tag}")
        if annotated:
            git(work, "tag", "-a", tag, "-m", f"release {tag}")
        else:
            git(work, "tag", tag)
        commits[tag] = git(work, "rev-parse", "HEAD").strip()
    bare = root / "template.git"
    git(root, "clone", "--quiet", "--bare", str(work), str(bare))
    return bare, commits


def _release_outputs(script: Path, project: Path, source: str, current: str) -> dict[str, str]:
    (project / ".copier-answers.yml").write_text(
        f"# Changes here will be overwritten by Copier\n_commit: {current}\n_src_path: {source}\n"
    )
    result = subprocess.run(
        ["python3", str(script)], cwd=project, capture_output=True, text=True, check=True
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def test_template_release_finds_the_newest_release_commit(
    rendered: Renderer, tmp_path: Path
) -> None:
    script = rendered({}) / "scripts" / "template_release.py"
    bare, commits = _tagged_template(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    outputs = _release_outputs(script, project, bare.as_uri(), "v1.2.0")
    tag_object = git(bare, "rev-parse", "v1.10.0").strip()
    assert tag_object != commits["v1.10.0"]  # annotated: the tag is an object of its own
    assert outputs == {
        "source": bare.as_uri(),
        "tag": "v1.10.0",  # numerically newest; the release candidate is no release
        "commit": commits["v1.10.0"],  # the peeled commit, not the tag object
        "current": "v1.2.0",
        "behind": "true",
    }
    for current, behind in (("v1.10.0", "false"), ("v1.10.0-3-gabc1234", "false"),
                            ("v1.10.0rc2", "true"), ("v1.9.0-5-gabc1234", "true"),
                            (commits["v1.2.0"][:7], "true")):  # fmt: skip
        assert _release_outputs(script, project, str(bare), current)["behind"] == behind, current


def test_template_release_fails_in_one_line_when_the_source_is_unreachable(
    rendered: Renderer, tmp_path: Path
) -> None:
    script = rendered({}) / "scripts" / "template_release.py"
    (tmp_path / ".copier-answers.yml").write_text(
        f"_commit: v1.0.0\n_src_path: {tmp_path / 'gone'}\n"
    )
    result = subprocess.run(
        ["python3", str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: git ls-remote {tmp_path / 'gone'}")
