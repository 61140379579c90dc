"""Pull and merge requests on the code host: GitHub through ``gh``, GitLab through ``glab``.

One small interface (``Host``) for what goldpath asks of a host: the request of a branch
(its state, comments and CI), open one, edit it, comment on it, and turn on auto-merge.
Both CLIs run as subprocesses in the repository, so they pick the project from its git
remote and the token from their own login (``gh auth``, ``glab auth`` or ``GITLAB_TOKEN``).
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from . import tools
from .errors import ToolError, UserError

__all__ = [
    "HOST_NAMES",
    "Checks",
    "GitHub",
    "GitLab",
    "Host",
    "HostName",
    "PullRequest",
    "RequestState",
    "github_checks",
    "github_pull_request",
    "gitlab_checks",
    "gitlab_merge_request",
    "host_for",
    "noun",
    "reference",
]

HostName = Literal["github", "gitlab"]
HOST_NAMES: tuple[str, ...] = get_args(HostName)

RequestState = Literal["OPEN", "CLOSED", "MERGED"]
Checks = Literal["passed", "failed", "pending", "none"]
"""CI of the request's head commit as the host reports it; "none" when it reports nothing."""


@dataclass(frozen=True)
class PullRequest:
    """A pull request (GitHub) or merge request (GitLab), as the host reports it now."""

    number: int
    """GitHub's PR number, GitLab's MR ``iid`` (the ``!12`` of the project)."""
    url: str | None
    state: RequestState
    comments: tuple[str, ...] = ()
    """The bodies of the comments people (not the host) wrote, oldest first."""
    checks: Checks = "none"


class Host(Protocol):
    """What goldpath asks of a code host, for the repository checked out at ``repo``."""

    @property
    def name(self) -> HostName:
        """``github`` or ``gitlab``."""
        ...

    def view(self, repo: Path, branch: str) -> PullRequest | None:
        """Return the newest request from ``branch`` (any state), or None when it has none."""
        ...

    def create(self, repo: Path, *, base: str, branch: str, title: str, body: str) -> PullRequest:
        """Open a request from ``branch`` into ``base``."""
        ...

    def edit(self, repo: Path, number: int, *, title: str, body: str) -> None:
        """Replace a request's title and body."""
        ...

    def comment(self, repo: Path, number: int, body: str) -> None:
        """Add a comment to a request."""
        ...

    def enable_auto_merge(self, repo: Path, number: int) -> None:
        """Have the host merge the request once its required checks pass."""
        ...


def host_for(name: str) -> Host:
    """Return the host called ``name``; a one-line error for any other name."""
    if name == "github":
        return GitHub()
    if name == "gitlab":
        return GitLab()
    raise UserError(f"unknown host {name!r}: use one of {', '.join(HOST_NAMES)}")


def noun(name: HostName) -> str:
    """Return what the host calls a request: ``pull request`` or ``merge request``."""
    return "merge request" if name == "gitlab" else "pull request"


def reference(name: HostName, number: int) -> str:
    """Return how the host writes a request's number: ``#12`` on GitHub, ``!12`` on GitLab."""
    return f"{'!' if name == 'gitlab' else '#'}{number}"


# --- GitHub ---------------------------------------------------------------------------------

_GITHUB_FIELDS = "number,url,state,comments,statusCheckRollup"
_GITHUB_PULL_URL = re.compile(r"/pull/(?P<number>\d+)\s*$")
_GITHUB_PASSED = frozenset({"SUCCESS", "NEUTRAL", "SKIPPED"})
_GITHUB_FAILED = frozenset(
    {"FAILURE", "ERROR", "CANCELLED", "TIMED_OUT", "ACTION_REQUIRED", "STARTUP_FAILURE"}
)


@dataclass(frozen=True)
class GitHub:
    """GitHub through ``gh``; ``merge_method`` is what auto-merge merges with."""

    merge_method: Literal["merge", "squash", "rebase"] = "squash"

    @property
    def name(self) -> HostName:
        """``github``."""
        return "github"

    def view(self, repo: Path, branch: str) -> PullRequest | None:
        """Return the pull request of ``branch`` (``gh pr view``), or None."""
        args = ["pr", "view", branch, "--json", _GITHUB_FIELDS]
        # gh has no exit code of its own for "none": its message is the only tell.
        output = _run_unless(repo, "gh", args, absent=re.compile(r"no pull requests found"))
        if output is None:
            return None
        return github_pull_request(_json_object(output, what="gh pr view"))

    def create(self, repo: Path, *, base: str, branch: str, title: str, body: str) -> PullRequest:
        """Open a pull request (``gh pr create``); gh prints its URL."""
        with _text_file(body) as body_file:
            output = _run(repo, "gh", "pr", "create", "--base", base, "--head", branch,
                          "--title", title, "--body-file", str(body_file))  # fmt: skip
        url = output.strip().splitlines()[-1].strip() if output.strip() else ""
        match = _GITHUB_PULL_URL.search(url)
        if match is None:
            return _created(self, repo, branch, what="gh pr create", output=output)
        return PullRequest(number=int(match["number"]), url=url, state="OPEN")

    def edit(self, repo: Path, number: int, *, title: str, body: str) -> None:
        """Replace the title and body (``gh pr edit``)."""
        with _text_file(body) as body_file:
            _run(repo, "gh", "pr", "edit", str(number), "--title", title,
                 "--body-file", str(body_file))  # fmt: skip

    def comment(self, repo: Path, number: int, body: str) -> None:
        """Comment (``gh pr comment``)."""
        with _text_file(body) as body_file:
            _run(repo, "gh", "pr", "comment", str(number), "--body-file", str(body_file))

    def enable_auto_merge(self, repo: Path, number: int) -> None:
        """Turn on auto-merge (``gh pr merge --auto``); gh needs a merge method without a TTY."""
        _run(repo, "gh", "pr", "merge", str(number), "--auto", f"--{self.merge_method}")


def github_pull_request(data: Mapping[str, Any]) -> PullRequest:
    """Read ``gh pr view --json number,url,state,comments,statusCheckRollup`` output."""
    try:
        state = str(data["state"]).upper()
        if state not in get_args(RequestState):
            raise ValueError(state)
        comments = tuple(str(c.get("body", "")) for c in data.get("comments") or ())
        return PullRequest(
            number=int(data["number"]),
            url=str(data["url"]) if data.get("url") else None,
            state=state,  # type: ignore[arg-type]  # checked against RequestState above
            comments=comments,
            checks=github_checks(data.get("statusCheckRollup") or ()),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ToolError("gh pr view", f"printed no pull request: {data}") from error


def github_checks(rollup: Sequence[Mapping[str, Any]]) -> Checks:
    """Sum up a ``statusCheckRollup``: any failure fails, else anything unfinished is pending.

    Check runs (``CheckRun``) report ``status`` and, once ``COMPLETED``, a ``conclusion``;
    commit statuses (``StatusContext``) report a ``state``. An unknown value counts as
    pending: never passed by mistake.
    """
    if not rollup:
        return "none"
    outcomes: list[Checks] = []
    for item in rollup:
        if item.get("__typename") == "StatusContext" or ("state" in item and "status" not in item):
            value = str(item.get("state") or "")  # a commit status: SUCCESS, PENDING, ERROR, ...
        elif str(item.get("status") or "COMPLETED") == "COMPLETED":
            value = str(item.get("conclusion") or "")
        else:
            value = str(item.get("status"))  # QUEUED, IN_PROGRESS, WAITING, PENDING, ...
        value = value.upper()
        outcomes.append(
            "passed" if value in _GITHUB_PASSED else "failed" if value in _GITHUB_FAILED
            else "pending"
        )  # fmt: skip
    return _worst(outcomes)


# --- GitLab ---------------------------------------------------------------------------------

_GITLAB_MR_URL = re.compile(r"/-/merge_requests/(?P<number>\d+)")
_GITLAB_STATES: dict[str, RequestState] = {
    "opened": "OPEN",
    "merged": "MERGED",
    "closed": "CLOSED",
    "locked": "CLOSED",
}
_GITLAB_CHECKS: dict[str, Checks] = {
    "success": "passed",
    "skipped": "passed",
    "failed": "failed",
    "canceled": "failed",
    "canceling": "failed",
}
_COMMENTS_PER_PAGE = "100"


@dataclass(frozen=True)
class GitLab:
    """GitLab through ``glab``.

    glab takes descriptions and notes as arguments (it has no file option), so they are
    passed as one argument each; goldpath's bodies stay far below the argument size limit.
    """

    @property
    def name(self) -> HostName:
        """``gitlab``."""
        return "gitlab"

    def view(self, repo: Path, branch: str) -> PullRequest | None:
        """Return the newest merge request of ``branch`` (any state), or None.

        ``glab mr view BRANCH`` stops at a branch with several merge requests (an old merged
        one and a new one, the usual case here), so the list finds the newest by ``iid``,
        then ``glab mr view IID`` reads its notes and head pipeline.
        """
        listed = _run(repo, "glab", "mr", "list", "--source-branch", branch, "--all",
                      "--output", "json")  # fmt: skip
        requests = json.loads(listed) if listed.strip() else None
        if not requests:
            return None
        if not isinstance(requests, list):
            raise ToolError("glab mr list", f"printed no list of merge requests: {listed[:200]}")
        try:
            newest = max(int(mr["iid"]) for mr in requests)
        except (KeyError, TypeError, ValueError) as error:
            raise ToolError("glab mr list", f"printed no merge requests: {listed[:200]}") from error
        shown = _run(repo, "glab", "mr", "view", str(newest), "--comments",
                     "--per-page", _COMMENTS_PER_PAGE, "--output", "json")  # fmt: skip
        return gitlab_merge_request(_json_object(shown, what="glab mr view"))

    def create(self, repo: Path, *, base: str, branch: str, title: str, body: str) -> PullRequest:
        """Open a merge request (``glab mr create``); glab prints its URL last."""
        output = _run(repo, "glab", "mr", "create", "--source-branch", branch,
                      "--target-branch", base, "--title", title, "--description", body,
                      "--yes")  # fmt: skip
        urls = [m for m in re.finditer(r"https?://\S+", output) if _GITLAB_MR_URL.search(m[0])]
        if not urls:
            return _created(self, repo, branch, what="glab mr create", output=output)
        url = urls[-1][0]
        match = _GITLAB_MR_URL.search(url)
        assert match is not None  # filtered above
        return PullRequest(number=int(match["number"]), url=url, state="OPEN")

    def edit(self, repo: Path, number: int, *, title: str, body: str) -> None:
        """Replace the title and description (``glab mr update``)."""
        _run(repo, "glab", "mr", "update", str(number), "--title", title, "--description", body)

    def comment(self, repo: Path, number: int, body: str) -> None:
        """Add a note (``glab mr note``)."""
        _run(repo, "glab", "mr", "note", str(number), "--message", body)

    def enable_auto_merge(self, repo: Path, number: int) -> None:
        """Set auto-merge (``glab mr merge --auto-merge``): merge when the pipeline succeeds.

        Without a running pipeline GitLab merges at once, as its own button does.
        """
        _run(repo, "glab", "mr", "merge", str(number), "--auto-merge", "--yes")


def gitlab_merge_request(data: Mapping[str, Any]) -> PullRequest:
    """Read ``glab mr view --comments --output json`` output (GitLab's merge request, plus
    glab's ``Notes``)."""
    try:
        state = _GITLAB_STATES[str(data["state"])]
        notes = data.get("Notes") or ()
        comments = tuple(str(n.get("body", "")) for n in notes if not n.get("system"))
        pipeline = data.get("head_pipeline") or data.get("pipeline")
        return PullRequest(
            number=int(data["iid"]),
            url=str(data["web_url"]) if data.get("web_url") else None,
            state=state,
            comments=comments,
            checks=gitlab_checks(pipeline.get("status") if pipeline else None),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ToolError("glab mr view", f"printed no merge request: {dict(data)}") from error


def gitlab_checks(status: str | None) -> Checks:
    """Map a pipeline status: success (or skipped) passed, failed or canceled failed, no
    pipeline none, anything still to run or waiting (running, pending, created, manual,
    scheduled, ...) pending."""
    if status is None:
        return "none"
    return _GITLAB_CHECKS.get(status, "pending")


# --- shared ---------------------------------------------------------------------------------


def _worst(outcomes: Sequence[Checks]) -> Checks:
    order: tuple[Checks, ...] = ("failed", "pending", "passed")
    return next((outcome for outcome in order if outcome in outcomes), "none")


def _run(repo: Path, tool: str, *args: str) -> str:
    return tools.run([tools.require(tool), *args], cwd=repo, what=f"{tool} {' '.join(args[:2])}")


def _run_unless(
    repo: Path, tool: str, args: Sequence[str], *, absent: re.Pattern[str]
) -> str | None:
    """Run a look-up; return None when its error output says there is nothing to find."""
    result = subprocess.run(
        [tools.require(tool), *args], cwd=repo, capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        return result.stdout
    if absent.search(result.stderr):
        return None
    detail = tools.error_line(result.stderr) or tools.error_line(result.stdout)
    raise ToolError(f"{tool} {' '.join(args[:2])}", detail or f"exit code {result.returncode}",
                    returncode=result.returncode)  # fmt: skip


def _created(host: Host, repo: Path, branch: str, *, what: str, output: str) -> PullRequest:
    """The request was made but its URL was not printed: look it up by branch."""
    found = host.view(repo, branch)
    if found is None:
        raise ToolError(what, f"printed no request URL: {output.strip()[:200]}")
    return found


def _json_object(output: str, *, what: str) -> dict[str, Any]:
    try:
        data = json.loads(output)
    except ValueError as error:
        raise ToolError(what, f"printed no JSON: {output.strip()[:200]}") from error
    if not isinstance(data, dict):
        raise ToolError(what, f"printed no JSON object: {output.strip()[:200]}")
    return data


@contextmanager
def _text_file(text: str) -> Iterator[Path]:
    """A temporary file holding ``text`` (a body for ``--body-file``)."""
    with tempfile.TemporaryDirectory(prefix="goldpath-host-") as tmp:
        path = Path(tmp) / "body.md"
        path.write_text(text, encoding="utf-8")
        yield path
