"""The host layer: gh's and glab's JSON read into PullRequest, and each call made through
the stand-in CLIs (tests/helpers.py:FakeHosts), one repository or twenty at once."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from goldpath.errors import ToolError, UserError
from goldpath.hosts import (
    GitHub,
    GitLab,
    PullRequest,
    github_checks,
    github_pull_request,
    gitlab_checks,
    gitlab_merge_request,
    host_for,
    reference,
)
from tests.helpers import FakeHosts, git

# What `gh pr view BRANCH --json number,url,state,comments,statusCheckRollup` prints (trimmed
# of fields goldpath does not read, such as authors and dates).
GH_VIEW: dict[str, Any] = {
    "number": 42,
    "url": "https://github.com/acme/service/pull/42",
    "state": "OPEN",
    "comments": [
        {"author": {"login": "octocat"}, "body": "Looks good", "id": "IC_kwDO1"},
        {"author": {"login": "goldpath-bot"}, "body": "<!-- goldpath update-pr: v1.2.0 -->\nx"},
    ],
    "statusCheckRollup": [
        {
            "__typename": "CheckRun",
            "name": "lint",
            "status": "COMPLETED",
            "conclusion": "SUCCESS",
            "workflowName": "CI",
        },
        {"__typename": "StatusContext", "context": "ci/jenkins", "state": "SUCCESS"},
    ],
}

# What `glab mr view IID --comments --output json` prints: GitLab's merge request, plus the
# notes glab adds as "Notes" (system notes included).
GLAB_VIEW: dict[str, Any] = {
    "id": 9001,
    "iid": 12,
    "project_id": 77,
    "title": "Update the goldpath template to v1.1.0",
    "state": "opened",
    "source_branch": "goldpath/template-update",
    "target_branch": "main",
    "web_url": "https://gitlab.com/acme/service/-/merge_requests/12",
    "pipeline": {"id": 5, "status": "running"},
    "head_pipeline": {"id": 6, "status": "success", "ref": "goldpath/template-update"},
    "Notes": [
        {"id": 1, "body": "added 1 commit", "system": True},
        {"id": 2, "body": "Please rebase", "system": False},
    ],
}


def test_github_json_becomes_a_pull_request() -> None:
    assert github_pull_request(GH_VIEW) == PullRequest(
        number=42,
        url="https://github.com/acme/service/pull/42",
        state="OPEN",
        comments=("Looks good", "<!-- goldpath update-pr: v1.2.0 -->\nx"),
        checks="passed",
    )
    merged = github_pull_request({**GH_VIEW, "state": "MERGED", "statusCheckRollup": []})
    assert (merged.state, merged.checks) == ("MERGED", "none")


def test_gitlab_json_becomes_a_pull_request() -> None:
    assert gitlab_merge_request(GLAB_VIEW) == PullRequest(
        number=12,
        url="https://gitlab.com/acme/service/-/merge_requests/12",
        state="OPEN",
        comments=("Please rebase",),  # GitLab's own system notes are not comments
        checks="passed",  # the head pipeline, not an older one
    )
    for state, expected in (("merged", "MERGED"), ("closed", "CLOSED"), ("locked", "CLOSED")):
        assert gitlab_merge_request({**GLAB_VIEW, "state": state}).state == expected
    bare = {k: v for k, v in GLAB_VIEW.items() if k not in ("pipeline", "head_pipeline", "Notes")}
    assert gitlab_merge_request(bare).checks == "none"
    assert gitlab_merge_request({**bare, "head_pipeline": None}).comments == ()


def _run(conclusion: str, status: str = "COMPLETED") -> dict[str, str]:
    return {"__typename": "CheckRun", "name": "ci", "status": status, "conclusion": conclusion}


def _status(state: str) -> dict[str, str]:
    return {"__typename": "StatusContext", "context": "ci/external", "state": state}


@pytest.mark.parametrize(
    ("rollup", "checks"),
    [
        ([], "none"),
        ([_run("SUCCESS")], "passed"),
        ([_run("NEUTRAL"), _run("SKIPPED"), _status("SUCCESS")], "passed"),
        *[([_run("SUCCESS"), _run(c)], "failed") for c in ("FAILURE", "CANCELLED", "TIMED_OUT")],
        ([_status("ERROR")], "failed"),
        ([_status("FAILURE")], "failed"),
        *[([_run("", status=s)], "pending") for s in ("QUEUED", "IN_PROGRESS", "PENDING")],
        ([_status("PENDING")], "pending"),
        ([_status("EXPECTED")], "pending"),  # a required check that has not reported yet
        ([_run("SUCCESS"), _run("", status="IN_PROGRESS")], "pending"),
        ([_run("FAILURE"), _run("", status="IN_PROGRESS")], "failed"),  # failed stays failed
        ([_run("SOMETHING_NEW")], "pending"),  # unknown: never passed by mistake
    ],
)
def test_github_checks(rollup: list[dict[str, str]], checks: str) -> None:
    assert github_checks(rollup) == checks


@pytest.mark.parametrize(
    ("status", "checks"),
    [
        ("success", "passed"),
        ("skipped", "passed"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("running", "pending"),
        ("pending", "pending"),
        ("created", "pending"),
        ("manual", "pending"),  # blocked on a manual job: not passed, not failed
        ("waiting_for_resource", "pending"),
        (None, "none"),
    ],
)
def test_gitlab_checks(status: str | None, checks: str) -> None:
    assert gitlab_checks(status) == checks


def test_unreadable_json_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="gh pr view failed: printed no pull request"):
        github_pull_request({"state": "OPEN"})
    with pytest.raises(ToolError, match="glab mr view failed: printed no merge request"):
        gitlab_merge_request({**GLAB_VIEW, "state": "draft"})


def test_host_for_names_the_hosts() -> None:
    assert isinstance(host_for("github"), GitHub)
    assert isinstance(host_for("gitlab"), GitLab)
    assert host_for("gitlab").name == "gitlab"
    assert (reference("github", 7), reference("gitlab", 7)) == ("#7", "!7")
    with pytest.raises(UserError, match="unknown host 'bitbucket': use one of github, gitlab"):
        host_for("bitbucket")


# --- through the stand-in CLIs -------------------------------------------------------------


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHosts:
    return FakeHosts.install(tmp_path / "hosts", monkeypatch)


def _repository(root: Path, name: str) -> Path:
    repo = root / name
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet")
    git(repo, "remote", "add", "origin", f"https://git.example.invalid/acme/{name}.git")
    return repo


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_a_request_is_opened_edited_commented_and_set_to_auto_merge(
    name: str, hosts: FakeHosts, tmp_path: Path
) -> None:
    repo = _repository(tmp_path, "service")
    host = host_for(name)
    assert host.view(repo, "update") is None
    created = host.create(repo, base="main", branch="update", title="Update", body="Body\n")
    assert created.state == "OPEN"
    assert created.url == hosts.request(repo, "update")["url"]  # type: ignore[index]
    host.edit(repo, created.number, title="Update again", body="New body\n")
    host.comment(repo, created.number, "A note\n")
    host.enable_auto_merge(repo, created.number)
    hosts.set(repo, "update", checks="failed")
    viewed = host.view(repo, "update")
    assert viewed == PullRequest(
        created.number, created.url, "OPEN", comments=("A note\n",), checks="failed"
    )
    recorded = hosts.request(repo, "update")
    assert recorded is not None
    assert (recorded["title"], recorded["body"]) == ("Update again", "New body\n")
    assert recorded["auto_merge"] == ("squash" if name == "github" else "auto-merge")
    hosts.set(repo, "update", state="MERGED")
    assert host.view(repo, "update").state == "MERGED"  # type: ignore[union-attr]


def test_github_bodies_go_through_files_and_gitlab_takes_them_as_arguments(
    hosts: FakeHosts, tmp_path: Path
) -> None:
    repo = _repository(tmp_path, "service")
    GitHub().create(repo, base="main", branch="a", title="T", body="body `a`\n")
    GitLab().create(repo, base="main", branch="b", title="T", body="body `b`\n")
    gh, glab = hosts.only("pr", "create"), hosts.only("mr", "create")
    assert "--body-file" in gh["args"]
    assert gh["body"] == "body `a`\n"
    assert gh["args"][2:6] == ["--base", "main", "--head", "a"]
    assert glab["args"][2:6] == ["--source-branch", "b", "--target-branch", "main"]
    assert glab["body"] == "body `b`\n"
    assert "--yes" in glab["args"]
    assert gh["cwd"] == glab["cwd"] == str(repo)


def test_gitlab_finds_the_newest_request_of_a_branch(hosts: FakeHosts, tmp_path: Path) -> None:
    """An update merged last month and this month's on the same branch: the newest counts."""
    repo = _repository(tmp_path, "service")
    first = GitLab().create(repo, base="main", branch="update", title="v1.1", body="")
    hosts.set(repo, "update", state="MERGED", checks="passed")
    second = GitLab().create(repo, base="main", branch="update", title="v1.2", body="")
    assert second.number == first.number + 1
    viewed = GitLab().view(repo, "update")
    assert viewed is not None
    assert (viewed.number, viewed.state, viewed.checks) == (second.number, "OPEN", "pending")


def test_a_failing_cli_is_a_one_line_tool_error(hosts: FakeHosts, tmp_path: Path) -> None:
    repo = _repository(tmp_path, "service")
    hosts.fail("gh pr view", "HTTP 401: Bad credentials (https://api.github.com/graphql)")
    with pytest.raises(ToolError) as caught:
        GitHub().view(repo, "update")
    assert caught.value.message == (
        "gh pr view failed: HTTP 401: Bad credentials (https://api.github.com/graphql)"
    )
    hosts.fail("glab mr note", "ERROR: 403 Forbidden")
    with pytest.raises(ToolError, match=r"^glab mr note failed: 403 Forbidden$"):
        GitLab().comment(repo, 1, "hello")


def test_a_missing_glab_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(UserError, match="glab is not on PATH; install the GitLab CLI: https://"):
        GitLab().view(tmp_path, "update")


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_twenty_repositories_at_once(name: str, hosts: FakeHosts, tmp_path: Path) -> None:
    """A fleet campaign drives many repositories in parallel through the same stand-ins."""
    repos = [_repository(tmp_path, f"service-{i:02d}") for i in range(20)]
    host = host_for(name)

    def one(repo: Path) -> PullRequest | None:
        created = host.create(repo, base="main", branch="update", title="T", body="B")
        host.comment(repo, created.number, "note")
        return host.view(repo, "update")

    with ThreadPoolExecutor(max_workers=min(20, (os.cpu_count() or 2) * 4)) as pool:
        viewed = list(pool.map(one, repos))
    assert [v.number if v else None for v in viewed] == [1] * 20  # numbered per repository
    assert all(v is not None and v.comments == ("note",) for v in viewed)
    assert len({v.url for v in viewed if v}) == 20
    assert len(hosts.calls()) == 20 * (3 if name == "github" else 4)
