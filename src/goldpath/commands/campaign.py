"""``goldpath fleet campaign``: bring many repositories to one release, in waves, with
pull requests, and keep the state in one file so that a re-run continues where it stopped."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import tools
from ..campaign import GREEN, Campaign, RepoState
from ..campaign_sources import SourceFailure
from ..errors import DirtyTreeError, ReportedError, UserError
from ..hosts import HostName, host_for
from ..project import GeneratedRepo
from ..release import is_release_tag
from .verify import verify_project

__all__ = [
    "CampaignRun",
    "default_state_path",
    "find_state",
    "run_campaign",
    "start_campaign",
]

_DONE = {"merged", "skipped"}
_CONFLICT_MARKER = "<<<<<<< before updating"


@dataclass(frozen=True)
class CampaignRun:
    """What one start or run did: the campaign as saved, and where the waves stand."""

    campaign: Campaign
    state: Path
    waiting: int | None
    """The wave whose gate holds the next wave back (not green yet), or None."""
    dry_run: bool = False


@dataclass(frozen=True)
class _Options:
    jobs: int
    trust: bool
    lock: bool
    dry_run: bool
    verify_checks: tuple[str, ...]
    advance: Callable[[RepoState], None]


def _nothing(_: RepoState) -> None:
    return None


def default_state_path(to: str) -> Path:
    """Return the state file a campaign to ``to`` uses when none is named."""
    return Path.cwd() / f"goldpath-campaign-{to}.yml"


def find_state(state: Path | None) -> Path:
    """Return the state file named, or the one campaign state file in the current directory."""
    if state is not None:
        return state
    found = sorted(Path.cwd().glob("goldpath-campaign-*.yml"))
    if len(found) != 1:
        where = "none" if not found else ", ".join(p.name for p in found)
        raise UserError(f"name the campaign with --state FILE (here: {where})")
    return found[0]


def start_campaign(
    *,
    to: str,
    repositories: Iterable[tuple[str, Path]],
    failures: Iterable[SourceFailure] = (),
    state: Path | None = None,
    canary: int = 0,
    canary_names: Iterable[str] = (),
    host: HostName = "github",
    auto_merge: bool = False,
    dry_run: bool = False,
    jobs: int = 2,
    trust: bool = False,
    lock: bool = True,
    verify_checks: Iterable[str] = (),
    proceed: bool = False,
    advance: Callable[[RepoState], None] = _nothing,
) -> CampaignRun:
    """Create the campaign (or add to the one in ``state``) and run it as far as it may go.

    The canary wave is ``canary_names``, or else the first ``canary`` repositories by name;
    every other repository is in the second wave, which starts once every canary is green.
    """
    if not is_release_tag(to):
        raise UserError(f"--to {to} is not a release tag (vX.Y.Z)")
    state = state or default_state_path(to)
    found = sorted((name, Path(path)) for name, path in repositories)
    broken = list(failures)
    if not found and not broken:
        raise UserError("no repositories to update: name roots, --list or --catalog")
    campaign = Campaign.load(state) if state.exists() else Campaign(to=to, host=host)
    if campaign.to != to:
        raise UserError(f"{state} is a campaign to {campaign.to}; name another --state for {to}")
    canaries = set(canary_names)
    unknown = sorted(canaries - {name for name, _ in found})
    if unknown:
        raise UserError(f"--canary-repo {unknown[0]!r} is not among the repositories")
    if not canaries:
        canaries = {name for name, _ in found[:canary]}
    known = {r.name for r in campaign.repositories}
    for name, path in found:
        if name not in known:
            wave = 0 if name in canaries else 1
            campaign.repositories.append(RepoState(name=name, path=str(path), wave=wave))
    for failure in broken:
        if failure.name not in known:
            lost = RepoState(name=failure.name, path=str(failure.path), wave=1)
            lost.mark("failed", failure.message)
            campaign.repositories.append(lost)
    campaign.auto_merge = campaign.auto_merge or auto_merge
    options = _Options(jobs, trust, lock, dry_run, tuple(verify_checks), advance)
    return _run(campaign, state=state, proceed=proceed, options=options)


def run_campaign(
    *,
    state: Path,
    proceed: bool = False,
    dry_run: bool = False,
    jobs: int = 2,
    trust: bool = False,
    lock: bool = True,
    verify_checks: Iterable[str] = (),
    advance: Callable[[RepoState], None] = _nothing,
) -> CampaignRun:
    """Continue a campaign: refresh each pull request, pass the wave gate, run the next wave.

    ``proceed`` lets the next wave start although the wave before it is not green.
    """
    campaign = Campaign.load(state)
    options = _Options(jobs, trust, lock, dry_run, tuple(verify_checks), advance)
    return _run(campaign, state=state, proceed=proceed, options=options)


def _run(campaign: Campaign, *, state: Path, proceed: bool, options: _Options) -> CampaignRun:
    saver = _Saver(campaign, state, enabled=not options.dry_run)
    saver.save()
    waiting: int | None = None
    waves = campaign.waves()
    for wave in waves:
        members = campaign.wave(wave)
        _each(members, options, saver, lambda repo: _step(campaign, repo, options))
        if wave == waves[-1] or all(_ready(repo) for repo in members):
            continue
        if proceed and not options.dry_run:
            proceed = False  # once: the gate of this wave only
            continue
        waiting = wave
        break
    return CampaignRun(campaign=campaign, state=state, waiting=waiting, dry_run=options.dry_run)


def _ready(repo: RepoState) -> bool:
    """Return whether a repository no longer holds its wave back."""
    return repo.status in _DONE or (repo.status == "pr-open" and repo.gate == GREEN)


def _each(
    members: list[RepoState],
    options: _Options,
    saver: _Saver,
    step: Callable[[RepoState], None],
) -> None:
    """Run ``step`` on every repository, ``jobs`` at a time; one failure stops no other."""

    def one(repo: RepoState) -> None:
        try:
            step(repo)
        except UserError as error:
            repo.mark("failed", error.message)
        except Exception as error:
            repo.mark("failed", f"{type(error).__name__}: {error}")
        saver.save()
        options.advance(repo)

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        list(pool.map(one, members))


def _step(campaign: Campaign, repo: RepoState, options: _Options) -> None:
    """Move one repository on: update and open its pull request, or refresh where it stands."""
    if repo.status in ("behind", "failed", "updated"):
        if options.dry_run:
            _preview(campaign, repo, options)
            return
        _update(campaign, repo, options)
    if repo.status in ("pr-open", "conflicted", "verify-failed") and not options.dry_run:
        _refresh(campaign, repo, options)


def _preview(campaign: Campaign, repo: RepoState, options: _Options) -> None:
    """--dry-run: what the update would change; nothing is pushed or written."""
    args = ["update", repo.path, "--dry-run", "--vcs-ref", campaign.to]
    args += ["--trust"] if options.trust else []
    args += [] if options.lock else ["--no-lock"]
    report = tools.run_goldpath(args)
    repo.from_version = str(report["from_version"])
    changed = report.get("changed") or []
    conflicts = report.get("conflicts") or []
    assert isinstance(changed, list)
    assert isinstance(conflicts, list)
    if report.get("up_to_date"):
        repo.mark("merged", f"already at {campaign.to}")
        return
    detail = f"would change {len(changed)} files"
    detail += (
        f", {len(conflicts)} in conflict: {', '.join(map(str, conflicts))}" if conflicts else ""
    )
    repo.mark("behind", detail)


def _update(campaign: Campaign, repo: RepoState, options: _Options) -> None:
    """Update the repository on its branch, push it and open or refresh its pull request."""
    opened = GeneratedRepo.open(Path(repo.path))
    repo.from_version = repo.from_version or opened.version
    repo.branch = f"goldpath/update-{campaign.to}"
    args = ["update-pr", repo.path, "--vcs-ref", campaign.to, "--branch", repo.branch,
            "--host", campaign.host, "--can-push-workflows"]  # fmt: skip
    args += ["--trust"] if options.trust else []
    args += [] if options.lock else ["--no-lock"]
    try:
        result = tools.run_goldpath(args)
    except ReportedError as error:
        if issubclass(error.kind, DirtyTreeError):
            repo.mark("skipped", "uncommitted changes; commit or stash them, then run again")
            return
        raise
    status = result.get("status")
    url = result.get("pull_request_url")
    repo.pull_request = str(url) if url else repo.pull_request
    conflicts = result.get("conflicts") or []
    assert isinstance(conflicts, list)
    if status == "current":
        repo.mark("merged", f"at {campaign.to}")
    elif status == "kept":
        foreign = result.get("foreign_commits") or []
        assert isinstance(foreign, list)
        repo.mark("skipped", f"{repo.branch} holds {len(foreign)} commit(s) goldpath did not "
                  "make; left as is")  # fmt: skip
    elif conflicts:
        repo.mark("conflicted", "conflicts in " + ", ".join(map(str, conflicts)))
    elif repo.pull_request is None:
        repo.mark("updated", "pushed; no pull request was opened")
    else:
        repo.mark("pr-open")
        number = result.get("pull_request")
        if campaign.auto_merge and isinstance(number, int):
            host_for(campaign.host).enable_auto_merge(Path(repo.path), number)
            repo.reason = "auto-merge enabled"


def _refresh(campaign: Campaign, repo: RepoState, options: _Options) -> None:
    """Read the pull request's state and CI; without CI, verify the branch locally."""
    assert repo.branch is not None
    request = host_for(campaign.host).view(Path(repo.path), repo.branch)
    if request is None:
        repo.mark("failed", f"no pull request for {repo.branch} any more")
        return
    repo.pull_request = request.url or repo.pull_request
    repo.checks = request.checks
    if request.state == "MERGED":
        repo.gate = GREEN
        repo.mark("merged")
        return
    if request.state == "CLOSED":
        repo.mark("skipped", "the pull request was closed without merging")
        return
    tip = _fetch(repo)
    if repo.status == "conflicted":
        if _has_markers(repo, tip):
            return  # still waiting for the team
        repo.mark("pr-open", "conflicts resolved")
    if request.checks == "passed":
        repo.gate = GREEN
        repo.mark("pr-open", "CI passed")
    elif request.checks == "failed":
        repo.gate = None
        repo.mark("pr-open", "CI failed")
    elif request.checks == "pending":
        repo.gate = None
        repo.mark("pr-open", "CI running")
    else:
        _verify(repo, tip, options)


def _fetch(repo: RepoState) -> str:
    """Fetch the update branch from origin; return its commit."""
    opened = _clone(repo)
    tracking = f"refs/remotes/origin/{repo.branch}"
    opened.git("fetch", "--quiet", "--no-tags", "origin", f"+refs/heads/{repo.branch}:{tracking}")
    return opened.git("rev-parse", "--verify", tracking).strip()


def _clone(repo: RepoState) -> GeneratedRepo:
    """The repository's local clone, for git commands (its answers are not needed)."""
    return GeneratedRepo(path=Path(repo.path), answers={})


def _has_markers(repo: RepoState, commit: str) -> bool:
    git = tools.require("git")
    result = subprocess.run(
        [git, "grep", "--quiet", "--fixed-strings", _CONFLICT_MARKER, commit],
        cwd=repo.path, capture_output=True, check=False,
    )  # fmt: skip
    return result.returncode == 0


def _verify(repo: RepoState, commit: str, options: _Options) -> None:
    """No CI status: run ``goldpath verify`` on the branch's commit in a scratch worktree."""
    opened = _clone(repo)
    with tempfile.TemporaryDirectory(prefix="goldpath-campaign-") as tmp:
        tree = Path(tmp) / "tree"
        opened.git("worktree", "add", "--quiet", "--detach", str(tree), commit)
        try:
            outcomes = verify_project(path=tree, only=list(options.verify_checks) or None)
        finally:
            opened.git("worktree", "remove", "--force", str(tree))
    failed = [o for o in outcomes if o.status == "failed"]
    missing = [o for o in outcomes if o.status == "not run"]
    if failed:
        repo.gate = None
        detail = "; ".join(f"{o.check}: {o.detail}" for o in failed)
        repo.mark("verify-failed", f"no CI status; goldpath verify: {detail}")
    elif missing:
        repo.gate = None
        names = ", ".join(o.check for o in missing)
        repo.mark("pr-open", f"no CI status; goldpath verify could not run {names}")
    else:
        repo.gate = GREEN
        repo.mark("pr-open", "no CI status; goldpath verify passed")


class _Saver:
    """Saves the state file after every repository, one writer at a time."""

    def __init__(self, campaign: Campaign, path: Path, *, enabled: bool) -> None:
        self._campaign = campaign
        self._path = path
        self._enabled = enabled
        self._lock = threading.Lock()

    def save(self) -> None:
        if self._enabled:
            with self._lock:
                self._campaign.save(self._path)
