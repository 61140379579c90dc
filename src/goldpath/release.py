"""Releases: the canonical template source, the release this goldpath carries, and the
release tags of a template repository."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from . import tools
from .errors import UserError
from .settings import CANONICAL_TEMPLATE, TEMPLATE_ENV, is_builtin_template

__all__ = [
    "LocalCopy",
    "NotAReleaseError",
    "ReleaseTags",
    "RenderSource",
    "canonical_template",
    "check_running_release",
    "is_release_tag",
    "is_remote",
    "local_copy",
    "own_version",
    "release_tag_of",
    "resolve_source",
]

_PACKAGE_DIR = Path(__file__).resolve().parent
_HEX_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_LOCAL_HASH = re.compile(r"^g([0-9a-f]{7,40})")


def canonical_template(*, preset_template: str | None = None) -> str:
    """Return where the template lives for everyone: $GOLDPATH_TEMPLATE, the preset, or the default.

    This is what a generated repository records as its template source, so that ``check``,
    ``update``, the template-update workflow, Renovate and teammates reach it from anywhere.
    """
    return os.environ.get(TEMPLATE_ENV) or preset_template or CANONICAL_TEMPLATE


def own_version() -> str:
    """Return this goldpath's version, as its build recorded it."""
    import importlib

    try:  # written by hatch-vcs when the package is built (gitignored)
        built: str = importlib.import_module("goldpath._version").__version__
        return built
    except ImportError:  # a source tree that was never built or installed
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("goldpath")
        except PackageNotFoundError:
            return "0.0.0"


def check_running_release(tag: str, *, asked_by: str) -> None:
    """Refuse to go on unless this goldpath is the release ``tag`` names.

    A goldpath installed for a release (by the template-update workflow, or by an older
    goldpath handing an update over) checks this before it changes anything, so a tag
    moved after it was resolved to a commit is caught rather than trusted.
    """
    from . import __version__ as own

    try:
        wanted = Version(tag)
    except InvalidVersion:
        raise UserError(f"{asked_by} {tag} is not a release tag (vX.Y.Z)") from None
    if release_tag_of(own) is None or Version(own) != wanted:
        raise UserError(
            f"goldpath {own} is running, but {asked_by} {tag} asks for goldpath {wanted}: "
            "run that release's own goldpath (uvx --from git+<template>@<commit>)"
        )


def release_tag_of(version: str) -> str | None:
    """Return the tag ``vX.Y.Z`` a version was built from, or None for a dev or local build."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return None
    if parsed.is_devrelease or parsed.local is not None or parsed.is_postrelease:
        return None
    return f"v{parsed}"


def is_release_tag(ref: str | None) -> bool:
    """Return whether a ref is a release tag (``v1.2.0``, ``v1.2.0rc1``), not a commit."""
    if not ref or _HEX_SHA.match(ref) or not re.match(r"^v?\d+\.\d+", ref):
        return False
    try:
        return release_tag_of(str(Version(ref))) is not None
    except InvalidVersion:
        return False


@dataclass(frozen=True)
class LocalCopy:
    """goldpath's own template on this machine: a source checkout's, or the installed package's."""

    path: Path
    version: str
    tag: str | None
    """The release tag this copy is exactly, or None (dev build, untagged or edited checkout)."""
    commit: str | None
    """The commit this copy was made from, when known (full in a checkout, short in a dev build)."""


def local_copy() -> LocalCopy | None:
    """Return the template that ships with this goldpath, or None when there is none."""
    checkout = _PACKAGE_DIR.parent.parent
    if (checkout / "copier.yml").is_file() and (checkout / "template").is_dir():
        return _checkout_copy(checkout) if (checkout / ".git").exists() else None
    bundled = _PACKAGE_DIR / "_template"
    if not (bundled / "copier.yml").is_file():
        return None
    version = own_version()
    local = Version(version).local if _valid(version) else None
    match = _LOCAL_HASH.match(local or "")
    return LocalCopy(
        path=bundled,
        version=version,
        tag=release_tag_of(version),
        commit=match.group(1) if match else None,
    )


def _valid(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def _checkout_copy(checkout: Path) -> LocalCopy:
    git = tools.require("git")

    def run(*args: str) -> str:
        return tools.run([git, *args], cwd=checkout, what=f"git {args[0]}").strip()

    commit = run("rev-parse", "HEAD")
    tags = [t for t in run("tag", "--points-at", "HEAD").split() if is_release_tag(t)]
    edited = run("status", "--porcelain", "--untracked-files=all", "--", "copier.yml", "template")
    tag = max(tags, key=Version) if tags and not edited else None
    version = str(Version(tag)) if tag else f"0.0.0+g{commit[:12]}"
    return LocalCopy(path=checkout, version=version, tag=tag, commit=commit)


@dataclass(frozen=True)
class ReleaseTags:
    """The tags of a template repository, with the commit each one points at."""

    source: str
    commits: dict[str, str]
    """Tag name -> commit SHA (annotated tags peeled)."""

    @classmethod
    def read(cls, source: str) -> ReleaseTags:
        """Read the tags with ``git ls-remote`` (a path or URL; nothing is cloned)."""
        output = tools.run(
            [tools.require("git"), "ls-remote", "--tags", source],
            cwd=Path.cwd(),
            what=f"reading the tags of template {source}",
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
            timeout=120,
        )
        commits: dict[str, str] = {}
        peeled: dict[str, str] = {}
        for line in output.splitlines():
            sha, _, ref = line.partition("\t")
            name = ref.removeprefix("refs/tags/")
            if name.endswith("^{}"):
                peeled[name.removesuffix("^{}")] = sha
            else:
                commits[name] = sha
        return cls(source=source, commits={**commits, **peeled})

    def releases(self, *, include_prereleases: bool = False) -> list[str]:
        """Return the release tags, oldest first."""
        tags = [t for t in self.commits if is_release_tag(t)]
        if not include_prereleases:
            tags = [t for t in tags if not Version(t).is_prerelease]
        return sorted(tags, key=Version)

    def latest(self, *, include_prereleases: bool = False) -> str | None:
        """Return the newest release tag, or None when the repository has none."""
        releases = self.releases(include_prereleases=include_prereleases)
        return releases[-1] if releases else None

    def tag_at(self, commit: str) -> str | None:
        """Return the newest release tag that points at ``commit`` (full or abbreviated SHA)."""
        if not _HEX_SHA.match(commit):
            return None
        tags = [t for t, sha in self.commits.items() if sha.startswith(commit)]
        releases = [t for t in tags if is_release_tag(t)]
        return max(releases, key=Version) if releases else None

    def commit_of(self, tag: str) -> str:
        """Return the commit a tag points at; a one-line error when there is no such tag."""
        try:
            return self.commits[tag]
        except KeyError:
            raise UserError(f"template {self.source} has no tag {tag}") from None


# --- what `goldpath new` renders, and what the repository records ------------------------

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|gh:|gl:)", re.IGNORECASE)


def is_remote(template: str) -> bool:
    """Return whether a template source is a URL rather than a local path."""
    return bool(_REMOTE.match(template))


@dataclass(frozen=True)
class RenderSource:
    """What ``goldpath new`` renders, and what the new repository records as its template."""

    render: str
    """The path or URL copier renders from."""
    vcs_ref: str | None
    """The ref copier renders (None: the copy as it is)."""
    release: str | None
    """The release tag rendered, or None when it is not a release."""
    unreleased_because: str = ""
    """Why it is not a release, for the error or the warning."""
    record_source: str | None = None
    """When set, the answers file records this source instead of ``render`` (a local copy of
    the canonical template was rendered)."""
    record_commit: str | None = None
    """With ``record_source``: the commit recorded when the copy is not a release."""

    def allow(self, *, unreleased: bool) -> None:
        """Refuse a template that is not a release unless asked for; then say what breaks."""
        if self.release is not None:
            return
        if not unreleased:
            raise NotAReleaseError(self.unreleased_because)
        warnings.warn(
            f"{self.unreleased_because}: 'goldpath check' cannot place the new repository "
            "among releases, and 'goldpath update' works only once its template commit is "
            "reachable from the template source",
            stacklevel=2,
        )

    def record(self, answers_file: Path, answers: dict[str, Any]) -> dict[str, Any]:
        """Write the canonical source and release (or commit) into a rendered answers file."""
        if self.record_source is None:
            return answers
        commit = self.release or self.record_commit
        values = {"_src_path": self.record_source, **({"_commit": commit} if commit else {})}
        lines = [
            line
            for line in answers_file.read_text(encoding="utf-8").splitlines()
            if not line.startswith(("_commit:", "_src_path:"))
        ]
        header = [line for line in lines if line.startswith("#")]
        body = [line for line in lines if not line.startswith("#")]
        recorded = yaml.safe_dump(values, sort_keys=True, width=1000).splitlines()
        answers_file.write_text("\n".join([*header, *recorded, *body]) + "\n", encoding="utf-8")
        return {**values, **{k: v for k, v in answers.items() if k not in values}}


class NotAReleaseError(UserError):
    """``goldpath new`` was pointed at something that is not a release."""

    def __init__(self, because: str) -> None:
        super().__init__(f"{because}; pass --unreleased to render it anyway")
        self.because = because


def resolve_source(
    template: str | None, *, vcs_ref: str | None, preset_template: str | None, git: str
) -> RenderSource:
    """Decide what to render for ``goldpath new`` and what the repository will record.

    With no ``template``, the canonical source is rendered: from the copy this goldpath
    carries when the canonical source is goldpath's own (no network), else from the source
    itself at its newest release. An explicit ``template`` is rendered and recorded as given.
    """
    if template is None:
        canonical = canonical_template(preset_template=preset_template)
        local = local_copy() if canonical == CANONICAL_TEMPLATE and vcs_ref is None else None
        if local is not None:
            return _from_local_copy(local)
        template = canonical
    elif is_builtin_template(template):
        local = local_copy()
        if local is not None and vcs_ref in (None, "HEAD"):
            return _from_local_copy(local)
        if local is not None and local.commit is not None and len(local.commit) == 40:
            return _from_git(template, vcs_ref=vcs_ref, git=git, record_source=CANONICAL_TEMPLATE)
    return _from_git(template, vcs_ref=vcs_ref, git=git, record_source=None)


def _from_local_copy(local: LocalCopy) -> RenderSource:
    is_checkout = local.path != _PACKAGE_DIR / "_template"
    if local.tag is not None:
        because = ""
    elif is_checkout:
        short = (local.commit or "")[:12]
        because = f"the template in {local.path} is not a release (commit {short} "
        because += "has no release tag, or its template is edited)"
    else:
        because = f"goldpath {local.version} is a development build, not a release"
    return RenderSource(
        render=str(local.path),
        vcs_ref="HEAD" if is_checkout else None,
        release=local.tag,
        unreleased_because=because,
        record_source=CANONICAL_TEMPLATE,
        record_commit=local.commit or local.version,
    )


def _from_git(
    template: str, *, vcs_ref: str | None, git: str, record_source: str | None
) -> RenderSource:
    if is_remote(template):
        try:
            tags = ReleaseTags.read(template)
        except UserError as error:
            raise UserError(f"template {template} is unreachable: {error.message}") from error
    else:
        path = Path(template).expanduser()
        if not (path / "copier.yml").is_file() and not (path / "copier.yaml").is_file():
            raise UserError(f"template {template} not found (no copier.yml there)")
        if not (path / ".git").exists():
            because = f"template {template} is not a git repository, so it has no releases"
            return RenderSource(render=template, vcs_ref=vcs_ref, release=None,
                                unreleased_because=because)  # fmt: skip
        tags = ReleaseTags.read(template)
    ref = vcs_ref or tags.latest()
    if ref is None:
        because = f"template {template} has no release tags"
        return RenderSource(render=template, vcs_ref=None, release=None,
                            unreleased_because=because, record_source=record_source,
                            record_commit=_resolve(template, "HEAD", git=git))  # fmt: skip
    commit = tags.commits.get(ref) if is_release_tag(ref) else None
    if commit is None:
        commit = _resolve(template, ref, git=git)
    release = ref if commit and is_release_tag(ref) else tags.tag_at(commit or "")
    return RenderSource(
        render=template,
        vcs_ref=ref,
        release=release,
        unreleased_because=f"{ref} of template {template} is not a release tag",
        record_source=record_source,
        record_commit=commit,
    )


def _resolve(template: str, ref: str, *, git: str) -> str | None:
    """Return the commit a ref names in a template repository (a SHA is taken as it is)."""
    if _HEX_SHA.match(ref):
        return ref
    if is_remote(template):
        output = tools.run([git, "ls-remote", template, ref], cwd=Path.cwd(),
                           what=f"resolving {ref} in template {template}", timeout=120)  # fmt: skip
        first = output.split("\t", 1)[0].strip()
        return first or None
    return tools.run([git, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                     cwd=Path(template), what=f"resolving {ref} in template {template}",
                     ).strip() or None  # fmt: skip
