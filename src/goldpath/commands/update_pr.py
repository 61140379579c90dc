"""``goldpath update-pr``: update on a branch, push it safely and open or refresh the PR.

What the scheduled template-update workflow runs, and what a person can run by hand. The
branch is rebuilt from the base only while every commit on it is goldpath's (marked with
the update trailer); a person's commit there, a conflict resolution say, is never
overwritten: the open pull request gets a comment instead. The request lives on GitHub
(a pull request, through ``gh``) or GitLab (a merge request, through ``glab``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from .. import tools
from ..changelog import Section, entries_between, read_changelog
from ..errors import DirtyTreeError, UserError, WorkflowPushError
from ..hosts import Host, HostName, PullRequest, host_for, noun
from ..project import GeneratedRepo, parse_version
from ..release import ReleaseTags, check_running_release
from ..settings import ANSWERS_FILE, UPDATE_BRANCH
from .update import UpdateResult, update_project

__all__ = ["PullRequestStatus", "UpdatePrResult", "update_pull_request"]

PullRequestStatus = Literal["opened", "refreshed", "current", "kept"]
"""opened: a new pull request; refreshed: the open one now shows this update; current: the
repository is already at the release; kept: the branch holds a person's commits, left as is."""

WORKFLOWS_DIR = ".github/workflows/"


@dataclass(frozen=True)
class UpdatePrResult:
    """What ``update_pull_request`` did."""

    path: str
    status: PullRequestStatus
    branch: str
    base: str
    from_version: str
    to_version: str
    commit: str | None = None
    pushed: bool = False
    pull_request: int | None = None
    pull_request_url: str | None = None
    host: HostName = "github"
    commented: bool = False
    conflicts: list[str] = field(default_factory=list)
    foreign_commits: list[str] = field(default_factory=list)


def _no_progress(_: str) -> None:
    return None


def update_pull_request(
    *,
    path: Path,
    vcs_ref: str | None = None,
    expect_release: str | None = None,
    branch: str = UPDATE_BRANCH,
    remote: str = "origin",
    base: str | None = None,
    can_push_workflows: bool = False,
    lock: bool = True,
    trust: bool = False,
    host: HostName = "github",
    progress: Callable[[str], None] = _no_progress,
) -> UpdatePrResult:
    """Update the repository on ``branch``, push it and open or refresh its pull request.

    The working tree ends where it started (the start branch checked out, clean): the
    update is made on a detached HEAD and pushed from there. ``host`` says where the
    request lives: ``github`` (``gh``) or ``gitlab`` (``glab``).
    """
    code_host = host_for(host)
    if expect_release is not None:
        check_running_release(expect_release, asked_by="--expect-release")
    repo = GeneratedRepo.open(path)
    if repo.is_dirty():
        raise DirtyTreeError(repo.path)
    start = _checked_out_branch(repo)
    if base is None:
        if start is None:
            raise UserError("HEAD is detached: pass --base with the branch to update")
        base = start
    base_sha = _commit_of(repo, base, what=f"--base {base}")

    progress("Looking up template versions")
    target = vcs_ref or ReleaseTags.read(repo.template).latest()
    if target is None:
        raise UserError(f"template {repo.template} has no release tags to update to")
    release = expect_release or target
    current, wanted = parse_version(repo.version), parse_version(release)
    # Describe output (v1.1.0-3-gabc1234) is past its tag: that tag is not current.
    past = "-" in repo.version
    if (
        current is not None
        and wanted is not None
        and (wanted < current or (wanted == current and not past))
    ):
        return UpdatePrResult(
            path=str(repo.path), status="current", branch=branch, base=base,
            from_version=repo.version, to_version=repo.version, host=code_host.name,
        )  # fmt: skip

    progress(f"Fetching {remote}/{branch}")
    remote_sha = _fetch_branch(repo, remote, branch)
    if remote_sha is not None:
        foreign = repo.foreign_commits(base_sha, remote_sha)
        if foreign:
            return _leave_alone(code_host, repo, branch, base, remote_sha, release, foreign)

    update, commit = _update_on_detached_head(
        repo, start=start or repo.head(), base_sha=base_sha, target=target, lock=lock,
        trust=trust, progress=progress,
        # Only GitHub refuses workflow changes to a token without the workflows permission.
        can_push_workflows=can_push_workflows or code_host.name != "github",
    )  # fmt: skip
    if update is None or commit is None:
        return UpdatePrResult(
            path=str(repo.path), status="current", branch=branch, base=base,
            from_version=repo.version, to_version=repo.version, host=code_host.name,
        )  # fmt: skip

    # The body first: a template whose changelog cannot be read stops before the push.
    changes = _changelog_sections(repo.template, vcs_ref or update.to_version, update)
    body = pull_request_body(update, branch=branch, changes=changes)
    pushed = remote_sha is None or not _same_update(repo, remote_sha, commit, base_sha)
    if pushed:
        progress(f"Pushing {branch}")
        lease = f"--force-with-lease=refs/heads/{branch}:{remote_sha or ''}"
        repo.git("push", "--quiet", lease, remote, f"{commit}:refs/heads/{branch}")
    progress("Opening or refreshing the pull request")
    title = f"Update the goldpath template to {update.to_version}"
    status, request = _open_or_refresh(
        code_host, repo, branch=branch, base=base, title=title, body=body
    )
    return UpdatePrResult(
        path=str(repo.path),
        status=status,
        branch=branch,
        base=base,
        from_version=update.from_version,
        to_version=update.to_version,
        commit=commit if pushed else remote_sha,
        pushed=pushed,
        pull_request=request.number,
        pull_request_url=request.url,
        host=code_host.name,
        conflicts=update.conflicts,
    )


def _open_or_refresh(
    host: Host, repo: GeneratedRepo, *, branch: str, base: str, title: str, body: str
) -> tuple[PullRequestStatus, PullRequest]:
    """Edit the branch's open pull request, or create one; return what and which."""
    existing = host.view(repo.path, branch)
    if existing is not None and existing.state == "OPEN":
        host.edit(repo.path, existing.number, title=title, body=body)
        return "refreshed", existing
    created = host.create(repo.path, base=base, branch=branch, title=title, body=body)
    return "opened", created


def _checked_out_branch(repo: GeneratedRepo) -> str | None:
    """Return the branch checked out, or None on a detached HEAD."""
    git = tools.require("git")
    result = subprocess.run(
        [git, "symbolic-ref", "--quiet", "--short", "HEAD"],
        cwd=repo.path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.stdout.strip() if result.returncode == 0 else None


def _commit_of(repo: GeneratedRepo, ref: str, *, what: str) -> str:
    try:
        return repo.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except UserError as error:
        raise UserError(f"{what} is not a branch or commit of {repo.path}") from error


def _fetch_branch(repo: GeneratedRepo, remote: str, branch: str) -> str | None:
    """Fetch the remote's update branch; return its commit, or None when it has none."""
    listed = repo.git("ls-remote", "--heads", remote, f"refs/heads/{branch}").split()
    if not listed:
        return None
    tracking = f"refs/remotes/{remote}/{branch}"
    repo.git("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}")
    return repo.git("rev-parse", "--verify", tracking).strip()


def _leave_alone(
    host: Host,
    repo: GeneratedRepo,
    branch: str,
    base: str,
    remote_sha: str,
    release: str,
    foreign: list[str],
) -> UpdatePrResult:
    """A person has committed to the update branch: keep it, say so on the open PR."""
    existing = host.view(repo.path, branch)
    on_branch = _branch_version(repo, remote_sha)
    commented = False
    # Once per release: the comment carries a marker the next run finds.
    marker = f"<!-- goldpath update-pr: {release} -->"
    told = existing is not None and any(marker in text for text in existing.comments)
    if existing is not None and existing.state == "OPEN" and on_branch != release and not told:
        request = noun(host.name)
        comment = (
            f"{marker}\nTemplate release `{release}` is available (this {request} brings "
            f"`{on_branch or 'an earlier version'}`). `{branch}` has commits goldpath did not "
            f"make ({', '.join(sha[:12] for sha in foreign)}), so it was left as is. Merge or "
            f"close this {request} (and delete the branch); the next run opens a fresh one."
        )
        host.comment(repo.path, existing.number, comment + "\n")
        commented = True
    return UpdatePrResult(
        path=str(repo.path),
        status="kept",
        branch=branch,
        base=base,
        from_version=repo.version,
        to_version=release,
        pull_request=existing.number if existing is not None else None,
        pull_request_url=existing.url if existing is not None else None,
        host=host.name,
        commented=commented,
        foreign_commits=foreign,
    )


def _branch_version(repo: GeneratedRepo, commit: str) -> str | None:
    """Return the template version recorded on a commit, or None when unreadable."""
    try:
        answers = yaml.safe_load(repo.git("show", f"{commit}:{ANSWERS_FILE}"))
    except (UserError, yaml.YAMLError):
        return None
    version = answers.get("_commit") if isinstance(answers, dict) else None
    return version if isinstance(version, str) else None


def _update_on_detached_head(
    repo: GeneratedRepo,
    *,
    start: str,
    base_sha: str,
    target: str,
    lock: bool,
    trust: bool,
    can_push_workflows: bool,
    progress: Callable[[str], None],
) -> tuple[UpdateResult | None, str | None]:
    """Update from the base and commit; return (None, None) when there is nothing to do.

    Whatever happens, the repository is back on ``start`` afterwards, its tree clean.
    """
    repo.git("switch", "--quiet", "--detach", base_sha)
    try:
        update = update_project(
            path=repo.path, vcs_ref=target, lock=lock, trust=trust, progress=progress
        )
        if update.up_to_date:
            return None, None
        message = f"Update the goldpath template from {update.from_version} to {update.to_version}"
        if update.conflicts:
            listed = "\n".join(f"- {name}" for name in update.conflicts)
            message += f"\n\nCommitted with conflict markers, to resolve in review:\n{listed}"
        commit = repo.commit_all(message, update_to=update.to_version)
        workflows = [
            name
            for name in repo.git("diff", "--name-only", base_sha, commit, "--").splitlines()
            if name.startswith(WORKFLOWS_DIR)
        ]
        if workflows and not can_push_workflows:
            raise WorkflowPushError(workflows)
        return update, commit
    finally:
        if repo.is_dirty():
            repo.restore(repo.head())
        if _is_branch(repo, start):
            repo.git("switch", "--quiet", start)
        else:
            repo.git("switch", "--quiet", "--detach", start)


def _is_branch(repo: GeneratedRepo, name: str) -> bool:
    ref = f"refs/heads/{name}"
    return tools.run_ok([tools.require("git"), "rev-parse", "--verify", "--quiet", ref],
                        cwd=repo.path)  # fmt: skip


def _same_update(repo: GeneratedRepo, remote_sha: str, commit: str, base_sha: str) -> bool:
    """Return whether the remote branch already is this update: same parent, same files."""
    parent = repo.git("rev-parse", f"{remote_sha}^").strip()
    trees = repo.git("rev-parse", f"{remote_sha}^{{tree}}", f"{commit}^{{tree}}").split()
    return parent == base_sha and trees[0] == trees[1]


def _changelog_sections(source: str, ref: str, update: UpdateResult) -> list[Section] | None:
    """Return the template's changelog entries the update brings, or None without a file."""
    text = read_changelog(source, ref)
    if text is None:
        return None
    return entries_between(text, update.from_version, update.to_version)


def pull_request_body(update: UpdateResult, *, branch: str, changes: list[Section] | None) -> str:
    """Return the pull request's Markdown: version change, changelog, conflicts."""
    parts = [
        f"Updates the goldpath template from `{update.from_version}` to `{update.to_version}` "
        "(made by `goldpath update-pr`).",
        "## What the template changed",
    ]
    if changes is None:
        parts.append(f"The template has no CHANGELOG.md at `{update.to_version}`.")
    elif not changes:
        parts.append("The template's CHANGELOG.md has no entries for these versions.")
    for section in changes or []:
        parts.append(f"### {section.tag} ({section.date})")
        if section.body.strip():
            parts.append(_demote_headings(section.body.strip()))
    parts.append("## Conflicts")
    if update.conflicts:
        parts.append(
            "These files are committed with conflict markers (`<<<<<<< before updating` … "
            "`>>>>>>> after updating`) where your changes and the template's touch the same "
            "lines:"
        )
        parts.append("\n".join(f"- `{name}`" for name in update.conflicts))
        parts.append(
            f"To resolve: `git switch {branch}`, keep the lines you want in each file and "
            "delete the markers, run `uv lock` (the lock follows the merged "
            "`pyproject.toml`), commit and push to this branch. goldpath never overwrites "
            "a branch with commits it did not make; a later release is announced here as "
            "a comment instead."
        )
    else:
        lock = " and `uv.lock` was regenerated" if update.locked else ""
        parts.append(f"None: your changes were kept{lock}.")
    return "\n\n".join(parts) + "\n"


def _demote_headings(markdown: str) -> str:
    """Push a changelog entry's headings one level down, below its release heading."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,5} ", line):
            line = "#" + line
        lines.append(line)
    return "\n".join(lines)
