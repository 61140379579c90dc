"""``goldpath update``: a 3-way update to a newer template version that keeps local edits."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from .. import tools
from ..copier_api import copier_errors
from ..errors import DirtyTreeError, UserError
from ..migrations import crossed_migrations
from ..presets import load_preset
from ..project import GeneratedRepo, conflicted_files, parse_version
from ..questions import check_known, coerce, read_questions
from ..release import (
    ReleaseTags,
    canonical_template,
    check_running_release,
    is_release_tag,
    is_remote,
    own_version,
    release_tag_of,
)
from ..settings import CANONICAL_TEMPLATE, DELEGATED_ENV, is_builtin_template

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
    _check_expected_release()
    repo = GeneratedRepo.open(path)
    uv = tools.require("uv") if lock else None
    if repo.is_dirty():
        raise DirtyTreeError(repo.path)
    data = dict(data or {})
    questions = read_questions(repo.template)
    if questions is not None:
        check_known(data, questions)
        data = coerce(data, questions)

    progress("Looking up template versions")
    tags = ReleaseTags.read(repo.template)
    target = vcs_ref or tags.latest()
    if target is None:
        raise UserError(
            f"template {repo.template} has no release tags to update to "
            "(tag a release, or name a commit with --vcs-ref)"
        )
    current = parse_version(repo.version)
    wanted = parse_version(target)
    if current is not None and wanted is not None and wanted < current:
        raise UserError(
            f"--vcs-ref {target} is older than the current template version {repo.version}"
        )
    if not data and wanted is not None and wanted == current and "-" not in repo.version:
        return UpdateResult(path=repo.path, from_version=repo.version, to_version=repo.version)
    if _is_canonical(repo.template) and is_release_tag(target):
        own = release_tag_of(own_version())
        if own is None or Version(own) != Version(target):
            progress(f"Running goldpath {target} for the update")
            return _delegate(repo, target=target, commit=tags.commit_of(target), data=data,
                             lock=lock, dry_run=dry_run, trust=trust)  # fmt: skip
        # This goldpath is the target release: the migrations are the ones it ships.
        trust = True
    trust = trust or is_builtin_template(repo.template)
    progress("Checking the migrations between the versions")
    crossed_migrations(repo.template, current=repo.version, target=target)

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


def _is_canonical(template: str) -> bool:
    """Return whether a repository's template is the canonical source, as ``new`` decides it
    ($GOLDPATH_TEMPLATE, the $GOLDPATH_PRESET preset's ``template``, or goldpath's own)."""
    preset = load_preset(None)
    canonical = canonical_template(preset_template=preset.template if preset else None)
    return template in {canonical, CANONICAL_TEMPLATE}


def _check_expected_release() -> None:
    """In a goldpath started to do an update as a given release, check that it is that release."""
    expected = os.environ.get(DELEGATED_ENV)
    if expected:
        check_running_release(expected, asked_by=DELEGATED_ENV)


def _delegate(
    repo: GeneratedRepo,
    *,
    target: str,
    commit: str,
    data: Mapping[str, Any],
    lock: bool,
    dry_run: bool,
    trust: bool,
) -> UpdateResult:
    """Have the target release's goldpath do the update: installed by uv from the canonical
    source at the commit the tag points at, and checked to be that release before it acts."""
    source = repo.template if is_remote(repo.template) else Path(repo.template).as_uri()
    launcher = [tools.require("uv"), "tool", "run", "--isolated", "--from",
                f"git+{source}@{commit}", "goldpath"]  # fmt: skip
    args = ["update", str(repo.path), "--vcs-ref", target]
    args += [f"--data={k}={v}" for k, v in data.items()]
    args += ["--no-lock"] if not lock else []
    args += ["--dry-run"] if dry_run else []
    args += ["--trust"] if trust else []
    env = {**tools.project_env(), DELEGATED_ENV: target}
    report = tools.run_goldpath(args, cwd=repo.path, env=env, launcher=launcher)
    return UpdateResult(
        path=repo.path,
        from_version=str(report["from_version"]),
        to_version=str(report["to_version"]),
        changed=list(report["changed"]),
        conflicts=list(report["conflicts"]),
        locked=bool(report["locked"]),
        diff=report.get("diff"),
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
