"""``goldpath update``: a 3-way update to a newer template version that keeps local edits."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import tools
from ..copier_api import copier_errors
from ..errors import DirtyTreeError, UserError
from ..project import GeneratedRepo, conflicted_files, latest_version, parse_version
from ..questions import check_known, coerce, read_questions
from ..settings import is_builtin_template

__all__ = ["UpdateResult", "update_project"]


@dataclass(frozen=True)
class UpdateResult:
    """What ``update_project`` did (or, with ``dry_run``, would do)."""

    path: Path
    from_version: str
    to_version: str
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    locked: bool = False
    diff: str | None = None

    @property
    def up_to_date(self) -> bool:
        """Return whether there was nothing to do."""
        return not self.changed and not self.conflicts


def _no_progress(_: str) -> None:
    return None


def update_project(
    *,
    path: Path,
    vcs_ref: str | None = None,
    data: Mapping[str, Any] | None = None,
    lock: bool = True,
    dry_run: bool = False,
    trust: bool = False,
    progress: Callable[[str], None] = _no_progress,
) -> UpdateResult:
    """Update a generated repository to ``vcs_ref`` or the newest template release.

    ``uv.lock`` is never merged as text: it is regenerated from the merged pyproject.toml.
    If anything fails midway the working tree is put back as it was; conflicts are left
    in place, marked, for the team to resolve.
    """
    repo = GeneratedRepo.open(path)
    trust = trust or is_builtin_template(repo.template)
    uv = tools.require("uv") if lock else None
    if repo.is_dirty():
        raise DirtyTreeError(repo.path)
    data = dict(data or {})
    questions = read_questions(repo.template)
    if questions is not None:
        check_known(data, questions)
        data = coerce(data, questions)

    progress("Looking up template versions")
    target = vcs_ref or latest_version(repo.template)
    if target is None:
        raise UserError(f"template {repo.template} has no release tags to update to")
    current = parse_version(repo.version)
    wanted = parse_version(target)
    if current is not None and wanted is not None and wanted < current:
        raise UserError(
            f"--vcs-ref {target} is older than the current template version {repo.version}"
        )
    if not data and wanted is not None and wanted == current and "-" not in repo.version:
        return UpdateResult(path=repo.path, from_version=repo.version, to_version=repo.version)

    if not dry_run:
        return _apply(repo, target=target, data=data, uv=uv, trust=trust, progress=progress)
    with tempfile.TemporaryDirectory(prefix="goldpath-dry-run-") as tmp:
        clone = Path(tmp) / repo.path.name
        tools.run(
            [
                tools.require("git"),
                "clone",
                "--quiet",
                "--no-hardlinks",
                str(repo.path),
                str(clone),
            ],
            cwd=Path(tmp),
            what="git clone",
        )
        copy = GeneratedRepo.open(clone)
        result = _apply(copy, target=target, data=data, uv=uv, trust=trust, progress=progress)
        copy.git("add", "--all", "--intent-to-add")
        diff = copy.git("diff", "--stat", "--patch", "HEAD", "--", ".")
    return UpdateResult(
        path=repo.path,
        from_version=repo.version,
        to_version=result.to_version,
        changed=result.changed,
        conflicts=result.conflicts,
        locked=result.locked,
        diff=diff,
    )


def _apply(
    repo: GeneratedRepo,
    *,
    target: str,
    data: dict[str, Any],
    uv: str | None,
    trust: bool,
    progress: Callable[[str], None],
) -> UpdateResult:
    from copier import run_update

    start = repo.head()
    try:
        progress(f"Merging template {target} into {repo.path.name}")
        with copier_errors():
            run_update(
                str(repo.path),
                data=data,
                vcs_ref=target,
                defaults=True,
                overwrite=True,
                skip_answered=True,
                unsafe=trust,
                quiet=True,
                conflict="inline",
            )
        conflicts = conflicted_files(repo)
        locked = False
        if uv is not None and "pyproject.toml" not in conflicts:
            progress("Re-locking dependencies (uv lock)")
            lock_command = [uv, "lock", "--quiet"]
            tools.run(lock_command, cwd=repo.path, what="uv lock", env=tools.project_env())
            locked = True
    except BaseException:
        repo.restore(start)
        raise
    updated = GeneratedRepo.open(repo.path)
    changed = sorted({line[3:].split(" -> ")[-1] for line in repo.status()})
    return UpdateResult(
        path=repo.path,
        from_version=repo.version,
        to_version=updated.version,
        changed=changed,
        conflicts=conflicts,
        locked=locked,
    )
