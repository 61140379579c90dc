"""``goldpath new``: render the template into a new repository, lock it, commit it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import tools
from ..copier_api import copier_errors
from ..errors import UserError
from ..presets import load_preset
from ..questions import check_known, coerce, read_questions
from ..release import resolve_source
from ..settings import ANSWERS_FILE, GIT_FALLBACK_IDENTITY, is_builtin_template

__all__ = ["NewResult", "create_project"]


@dataclass(frozen=True)
class NewResult:
    """What ``create_project`` made."""

    path: Path
    answers: dict[str, Any]
    locked: bool
    committed: bool


def _no_progress(_: str) -> None:
    return None


def create_project(
    *,
    dest: Path,
    template: str | None = None,
    data: Mapping[str, Any] | None = None,
    defaults: bool = False,
    vcs_ref: str | None = None,
    lock: bool = True,
    force: bool = False,
    trust: bool = False,
    preset: Path | None = None,
    unreleased: bool = False,
    progress: Callable[[str], None] = _no_progress,
) -> NewResult:
    """Render a template release into ``dest``, write uv.lock, and make the first git commit.

    ``template`` None means the canonical template ($GOLDPATH_TEMPLATE, the preset's
    ``template``, or goldpath's own), rendered from the copy this goldpath carries when it
    is that release. The answers file records the canonical source and the release tag, so
    the repository can be checked and updated from any machine. A template that is not a
    release is refused unless ``unreleased``. Everything is built in a temporary sibling of
    ``dest`` and moved into place only when every step succeeded, so a failure or Ctrl-C
    never leaves a half-written project. ``preset`` (or $GOLDPATH_PRESET) pre-fills and
    locks answers for an organization.
    """
    dest = dest.expanduser().absolute()
    data = dict(data or {})
    _check_destination(dest, force=force)
    git = tools.require("git")
    uv = tools.require("uv") if lock else None
    organization = load_preset(preset)
    source = resolve_source(
        template,
        vcs_ref=vcs_ref,
        preset_template=organization.template if organization else None,
        git=git,
    )
    source.allow(unreleased=unreleased)
    template = source.render
    trust = trust or is_builtin_template(template)
    questions = read_questions(template)
    if questions is not None:
        check_known(data, questions)
        data = coerce(data, questions)
    if organization is not None:
        organization = organization.checked(questions)
    given = set(data)
    user_defaults: dict[str, Any] = {}
    if organization is not None:
        data, user_defaults = organization.apply(data)
        if defaults:
            # Passed as answers, preset defaults go through the questions' validators too.
            data, user_defaults = {**user_defaults, **data}, {}

    created_parents = _make_parents(dest.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.goldpath-", dir=dest.parent))
    try:
        if defaults:
            progress("Rendering the template")  # interactive prompts must not sit under a spinner
        try:
            answers = _render(
                template,
                staging,
                data=data,
                user_defaults=user_defaults,
                defaults=defaults,
                vcs_ref=source.vcs_ref,
                trust=trust,
            )
            answers = source.record(staging / ANSWERS_FILE, answers)
        except UserError as error:
            if organization is not None and organization.mentions(error.message, but=given):
                raise UserError(f"preset {organization.source}: {error.message}") from error
            raise
        if organization is not None:
            for name, value in answers.items():
                organization.check_allowed(name, value)
        if questions is None:
            # The template's questions were not readable up front: check against the answers.
            check_known(data, answers)
        if uv is not None:
            progress("Locking dependencies (uv lock)")
            lock_command = [uv, "lock", "--quiet"]
            tools.run(lock_command, cwd=staging, what="uv lock", env=tools.project_env())
        committed = not (dest / ".git").exists()
        if committed:
            progress("Creating the git repository")
            _git_init(git, staging, template=template, answers=answers)
        _move_into_place(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for parent in created_parents:
            shutil.rmtree(parent, ignore_errors=True)
        raise
    return NewResult(path=dest, answers=answers, locked=uv is not None, committed=committed)


def _check_destination(dest: Path, *, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise UserError(f"destination {dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise UserError(
            f"destination {dest} exists and is not empty (use --force to write into it)"
        )


def _make_parents(parent: Path) -> list[Path]:
    """Create missing parent directories; return the topmost one created, for cleanup."""
    missing = [p for p in [parent, *parent.parents] if not p.exists()]
    if missing:
        parent.mkdir(parents=True)
    return missing[-1:]


def _render(
    template: str,
    staging: Path,
    *,
    data: dict[str, Any],
    user_defaults: dict[str, Any],
    defaults: bool,
    vcs_ref: str | None,
    trust: bool,
) -> dict[str, Any]:
    from copier import run_copy

    with copier_errors():
        run_copy(
            template,
            staging,
            data=data,
            user_defaults=user_defaults,
            defaults=defaults,
            vcs_ref=vcs_ref,
            unsafe=trust,
            quiet=True,
            overwrite=True,
        )
    answers_path = staging / ANSWERS_FILE
    answers = yaml.safe_load(answers_path.read_text(encoding="utf-8")) or {}
    return {str(k): v for k, v in answers.items()}


def _git_init(git: str, repo: Path, *, template: str, answers: Mapping[str, Any]) -> None:
    tools.run([git, "init", "--quiet", "--initial-branch=main"], cwd=repo, what="git init")
    tools.run([git, "add", "--all"], cwd=repo, what="git add")
    identity: list[str] = []
    configured = tools.run_ok([git, "config", "user.email"], cwd=repo)
    if not configured:
        name, email = GIT_FALLBACK_IDENTITY
        identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    version = answers.get("_commit", "unversioned")
    message = f"Initial commit from the goldpath template ({version})"
    tools.run(
        [git, *identity, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message],
        cwd=repo,
        what="git commit",
    )


def _move_into_place(staging: Path, dest: Path) -> None:
    if not dest.exists():
        staging.rename(dest)
        return
    # An existing directory (empty, or --force): merge, replacing files of the same name.
    shutil.copytree(staging, dest, symlinks=True, dirs_exist_ok=True)
    shutil.rmtree(staging)
