"""``goldpath fleet``: status and updates across many generated repositories."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import tools
from ..errors import DirtyTreeError, ReportedError, UserError
from ..project import GeneratedRepo
from ..release import ReleaseTags
from ..settings import ANSWERS_FILE, EXIT_CONFLICTS
from .check import standing

__all__ = [
    "FleetRepo",
    "UpdateOutcome",
    "find_repositories",
    "fleet_status",
    "fleet_update",
    "worst_exit_code",
]

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".terraform", ".tox", ".nox"}


@dataclass(frozen=True)
class FleetRepo:
    """One repository's standing against its template."""

    path: str
    template: str
    current: str
    latest: str | None
    behind: bool
    dirty: bool
    error: str | None = None
    status: str = "unknown"
    """current, behind or unknown, as ``goldpath check`` reports it."""


@dataclass(frozen=True)
class UpdateOutcome:
    """What ``fleet update`` did to one repository."""

    path: str
    outcome: str  # updated, conflicted, skipped, failed
    detail: str
    branch: str | None = None


def find_repositories(roots: Iterable[Path]) -> list[Path]:
    """Return the generated repositories (directories holding an answers file) under roots."""
    found: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            raise UserError(f"{root} is not a directory")
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS)
            if ANSWERS_FILE in files:
                found.add(Path(directory).absolute())
                subdirs[:] = []  # a generated repository does not nest another
    return sorted(found)


def fleet_status(roots: Iterable[Path], *, jobs: int = 4) -> list[FleetRepo]:
    """Look up every repository's version, the newest template release and dirtiness."""
    repos: list[GeneratedRepo | FleetRepo] = []
    for path in find_repositories(roots):
        try:
            repos.append(GeneratedRepo.open(path))
        except UserError as error:
            repos.append(FleetRepo(str(path), "?", "?", None, False, False, error.message))
    templates = sorted({r.template for r in repos if isinstance(r, GeneratedRepo)})

    def lookup(template: str) -> ReleaseTags | UserError:
        try:
            return ReleaseTags.read(template)
        except UserError as error:
            return error

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        latest = dict(zip(templates, pool.map(lookup, templates), strict=True))

        def one(repo: GeneratedRepo | FleetRepo) -> FleetRepo:
            if isinstance(repo, FleetRepo):
                return repo
            tags = latest[repo.template]
            if isinstance(tags, UserError):
                error = tags.message
                return FleetRepo(
                    str(repo.path), repo.template, repo.version, None, False, False, error
                )
            found = standing(repo.version, tags)
            behind, dirty = found.status == "behind", repo.is_dirty()
            return FleetRepo(
                str(repo.path), repo.template, repo.version, found.latest, behind, dirty,
                status=found.status,
            )  # fmt: skip

        return list(pool.map(one, repos))


def fleet_update(
    roots: Iterable[Path], *, jobs: int = 2, trust: bool = False, lock: bool = True
) -> list[UpdateOutcome]:
    """Update every clean repository that is behind, each on a new branch with one commit.

    Each update runs as its own ``goldpath update`` process (copier changes the working
    directory of its process, so updates cannot share one), ``jobs`` at a time.
    """
    statuses = fleet_status(roots, jobs=jobs)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda s: _update_one(s, trust=trust, lock=lock), statuses))


def _update_one(status: FleetRepo, *, trust: bool, lock: bool) -> UpdateOutcome:
    if status.error:
        return UpdateOutcome(status.path, "failed", status.error)
    if status.dirty:
        return UpdateOutcome(status.path, "skipped", "uncommitted changes")
    if not status.behind:
        return UpdateOutcome(status.path, "skipped", f"current ({status.current})")
    repo = GeneratedRepo.open(Path(status.path))
    start_branch = repo.git("rev-parse", "--abbrev-ref", "HEAD").strip()
    start = repo.head()
    branch = f"goldpath/update-{status.latest}"
    try:
        if repo.git("for-each-ref", "--format=%(refname)", f"refs/heads/{branch}").strip():
            foreign = repo.foreign_commits(start, branch)
            if foreign:
                count = f"{len(foreign)} commit" + ("s" if len(foreign) > 1 else "")
                detail = f"{branch} holds {count} goldpath did not make"
                return UpdateOutcome(status.path, "skipped", detail)
        repo.git("checkout", "--quiet", "-B", branch)
    except UserError as error:
        return UpdateOutcome(status.path, "failed", error.message)
    try:
        args = ["update", status.path, *(["--trust"] if trust else []),
                *([] if lock else ["--no-lock"])]  # fmt: skip
        try:
            result = tools.run_goldpath(args)
        except ReportedError as error:
            # A refusal (a tree that got dirty after the status) touched nothing: no restore.
            if issubclass(error.kind, DirtyTreeError):
                _abandon(repo, start_branch, start, branch, restore=False)
                return UpdateOutcome(status.path, "skipped", "uncommitted changes")
            _abandon(repo, start_branch, start, branch)
            return UpdateOutcome(status.path, "failed", error.message)
        conflicts = [str(name) for name in result["conflicts"]]
        if conflicts or result["up_to_date"]:
            _abandon(repo, start_branch, start, branch)
            if conflicts:
                return UpdateOutcome(status.path, "conflicted", ", ".join(conflicts))
            return UpdateOutcome(status.path, "skipped", f"current ({result['to_version']})")
        old, new = result["from_version"], result["to_version"]
        repo.commit_all(f"Update the goldpath template from {old} to {new}", update_to=new)
        repo.git("checkout", "--quiet", start_branch)
    except UserError as error:
        _abandon(repo, start_branch, start, branch)
        return UpdateOutcome(status.path, "failed", error.message)
    return UpdateOutcome(status.path, "updated", f"{old} -> {new}", branch)


def _abandon(
    repo: GeneratedRepo, branch: str, commit: str, new_branch: str, *, restore: bool = True
) -> None:
    """Put the repository back on its branch and drop the update branch."""
    if restore:
        repo.restore(commit)
    repo.git("checkout", "--quiet", branch)
    repo.git("branch", "--quiet", "-D", new_branch)


def worst_exit_code(outcomes: Iterable[UpdateOutcome]) -> int:
    """Return 1 if any update failed, 3 if any conflicted, else 0."""
    kinds = {o.outcome for o in outcomes}
    if "failed" in kinds:
        return 1
    if "conflicted" in kinds:
        return EXIT_CONFLICTS
    return 0
