"""``goldpath fleet campaign`` over twenty generated repositories, offline.

Each repository is a copy of one project generated at v1.0.0 of the two-release test
template, with its own bare "origin" reached by a ``file://`` URL. Stand-in ``gh`` and
``glab`` executables first on PATH record their calls and answer pull request and CI
queries from a file the test controls (``FakeHosts``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from goldpath.campaign import Campaign
from goldpath.settings import EXIT_CONFLICTS
from tests.helpers import (
    OLD_DOCSTRING,
    PACKAGE,
    FakeHosts,
    commit_all,
    copies_with_origins,
    git,
    invoke,
    require_tool,
    two_release_template,
)

pytestmark = pytest.mark.slow

BRANCH = "goldpath/update-v1.1.0"
HEALTH = f"src/{PACKAGE}/api/routes/health.py"
CONFLICTED, VERIFY_FAILS = "team-05", "team-07"
COMMON = ["--verify-check", "hadolint", "--no-lock", "--trust", "--jobs", "2", "--json"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project generated at v1.0.0 (not locked: the campaign runs with --no-lock)."""
    from goldpath.commands.new import create_project

    require_tool("hadolint")
    work = tmp_path_factory.mktemp("campaign")
    template = two_release_template(work / "template")
    project = work / "base"
    create_project(dest=project, template=str(template), vcs_ref="v1.0.0", defaults=True,
                   lock=False)  # fmt: skip
    return project


def _statuses(state: Path) -> dict[str, str]:
    return {r.name: r.status for r in Campaign.load(state).repositories}


def _remote_branch(project: Path) -> str:
    return git(project, "ls-remote", "origin", f"refs/heads/{BRANCH}").split("\t")[0]


def test_a_campaign_in_two_waves_with_a_conflict_and_a_failed_verify(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = FakeHosts.install(tmp_path / "hosts", monkeypatch)
    repos = copies_with_origins(base, tmp_path, 20)
    conflicted = repos / CONFLICTED
    health = conflicted / HEALTH
    health.write_text(health.read_text().replace(OLD_DOCSTRING, '    """Liveness, our way."""'))
    commit_all(conflicted, "our docstring")
    git(conflicted, "push", "--quiet", "origin", "main")
    dockerfile = repos / VERIFY_FAILS / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text() + "RUN apt-get update && apt-get install -y curl\n"
    )
    commit_all(repos / VERIFY_FAILS, "curl for debugging")
    git(repos / VERIFY_FAILS, "push", "--quiet", "origin", "main")
    state = tmp_path / "campaign.yml"

    # Wave 0: the two canaries get pull requests; CI is still running, so the rest waits.
    code, out, err = invoke("fleet", "campaign", "start", "--to", "v1.1.0", str(repos),
                            "--canary", "2", "--state", str(state), *COMMON)  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["waiting"] == 0
    statuses = _statuses(state)
    assert statuses["team-00"] == statuses["team-01"] == "pr-open"
    assert {statuses[f"team-{i:02d}"] for i in range(2, 20)} == {"behind"}
    assert len(hosts.calls("gh")) > 0
    assert [r["branch"] for r in hosts.requests(repos / "team-00")] == [BRANCH]
    assert _remote_branch(repos / "team-02") == "", "nothing pushed beyond the canaries"

    # Re-running while CI runs changes nothing.
    code, out, err = invoke("fleet", "campaign", "run", "--state", str(state), *COMMON)
    assert code == 0, err
    assert json.loads(out)["waiting"] == 0

    # Both canaries green: the rest goes.
    for name in ("team-00", "team-01"):
        hosts.set(repos / name, BRANCH, checks="passed")
    code, out, err = invoke("fleet", "campaign", "run", "--state", str(state), *COMMON)
    assert code == EXIT_CONFLICTS, err
    assert json.loads(out)["waiting"] is None
    statuses = _statuses(state)
    assert statuses[CONFLICTED] == "conflicted"
    others = {n: s for n, s in statuses.items() if n != CONFLICTED}
    assert set(others.values()) == {"pr-open"}, others

    # Where the host has no CI status, goldpath verify runs on the branch locally.
    hosts.set(repos / VERIFY_FAILS, BRANCH, checks="none")
    hosts.set(repos / "team-08", BRANCH, checks="none")
    code, out, err = invoke("fleet", "campaign", "run", "--state", str(state), *COMMON)
    assert code == EXIT_CONFLICTS, err
    repositories = {r["name"]: r for r in json.loads(out)["repositories"]}
    assert repositories[VERIFY_FAILS]["status"] == "verify-failed"
    assert "hadolint" in repositories[VERIFY_FAILS]["reason"]
    assert repositories["team-08"]["status"] == "pr-open"
    assert repositories["team-08"]["reason"] == "no CI status; goldpath verify passed"
    body = hosts.request(conflicted, BRANCH)
    assert body is not None
    assert HEALTH in body["body"], "the pull request names the conflicted file"

    # A person resolves the conflict on the update branch: the campaign never rewrites it.
    clone = tmp_path / "person"
    origin = git(conflicted, "remote", "get-url", "origin").strip()
    git(tmp_path, "clone", "--quiet", "--branch", BRANCH, origin, str(clone))
    resolved = (clone / HEALTH).read_text()
    start, end = resolved.index("<<<<<<<"), resolved.index(">>>>>>> after updating\n")
    (clone / HEALTH).write_text(resolved[:start] + '    """Liveness, our way."""\n'
                                + resolved[end + len(">>>>>>> after updating\n"):])  # fmt: skip
    commit_all(clone, "keep our docstring")
    git(clone, "push", "--quiet", "origin", BRANCH)
    theirs = git(clone, "rev-parse", "HEAD").strip()

    code, out, err = invoke("fleet", "campaign", "run", "--state", str(state), *COMMON)
    assert code == 0, err
    assert _remote_branch(conflicted) == theirs
    assert _statuses(state)[CONFLICTED] == "pr-open"

    # The report says what the state file says.
    hosts.set(repos / "team-03", BRANCH, state="MERGED")
    report_dir = tmp_path / "report"
    code, out, err = invoke("fleet", "campaign", "status", "--state", str(state),
                            "--report", str(report_dir), "--json")  # fmt: skip
    assert code == 0, err
    saved = yaml.safe_load(state.read_text())
    assert json.loads(out) == saved
    counts = Campaign.load(state).counts()
    markdown = (report_dir / "report.md").read_text()
    for status, count in counts.items():
        if count:
            assert f"| {status} | {count} |" in markdown, status
    assert all(r["name"] in (report_dir / "report.html").read_text()
               for r in saved["repositories"])  # fmt: skip


def test_dry_run_pushes_nothing_and_writes_no_state(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = FakeHosts.install(tmp_path / "hosts", monkeypatch)
    repos = copies_with_origins(base, tmp_path, 3)
    state = tmp_path / "campaign.yml"
    code, out, err = invoke("fleet", "campaign", "start", "--to", "v1.1.0", str(repos),
                            "--state", str(state), "--dry-run", *COMMON)  # fmt: skip
    assert code == 0, err
    assert not state.exists()
    assert hosts.calls() == []
    for entry in json.loads(out)["repositories"]:
        assert entry["reason"].startswith("would change "), entry
        assert _remote_branch(repos / entry["name"]) == ""


def test_one_broken_repository_stops_no_other_and_auto_merge_is_asked_for(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = FakeHosts.install(tmp_path / "hosts", monkeypatch)
    repos = copies_with_origins(base, tmp_path, 3)
    git(repos / "team-01", "remote", "set-url", "origin", (tmp_path / "gone.git").as_uri())
    state = tmp_path / "campaign.yml"
    code, _, err = invoke("fleet", "campaign", "start", "--to", "v1.1.0", str(repos),
                          "--state", str(state), "--auto-merge", *COMMON)  # fmt: skip
    assert code == 1, err
    statuses = _statuses(state)
    assert statuses == {"team-00": "pr-open", "team-01": "failed", "team-02": "pr-open"}
    failure = Campaign.load(state).find("team-01")
    assert failure.reason.count("\n") == 0
    assert failure.reason, "the reason says what failed"
    merges = [c for c in hosts.calls("gh") if c["args"][:2] == ["pr", "merge"]]
    assert len(merges) == 2
    assert all("--auto" in c["args"] for c in merges)


def test_merge_requests_on_gitlab(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = FakeHosts.install(tmp_path / "hosts", monkeypatch)
    repos = copies_with_origins(base, tmp_path, 2)
    state = tmp_path / "campaign.yml"
    code, _, err = invoke("fleet", "campaign", "start", "--to", "v1.1.0", str(repos),
                          "--state", str(state), "--host", "gitlab", *COMMON)  # fmt: skip
    assert code == 0, err
    assert hosts.calls("gh") == []
    assert ["mr", "create"] in hosts.commands("glab")
    assert set(_statuses(state).values()) == {"pr-open"}
    assert Campaign.load(state).host == "gitlab"
