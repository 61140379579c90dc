"""Where a campaign's repositories come from: clones under roots, a list file, or a
Backstage catalog whose managed Components are cloned (or fetched) into a work directory."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml

from . import tools
from .commands.fleet import find_repositories
from .errors import CampaignSourceError, ToolError, UserError
from .settings import MANAGED_ANNOTATION

__all__ = [
    "SOURCE_LOCATION",
    "CatalogEntry",
    "SourceFailure",
    "SourceRepo",
    "Sources",
    "catalog_entries",
    "clone_url",
    "collect",
    "from_catalog",
    "from_list",
    "from_roots",
]

SOURCE_LOCATION = "backstage.io/source-location"
"""The Backstage annotation that says where an entity's repository lives."""

# The part of a Backstage source-location that points into a repository rather than at
# it: GitHub's /tree/<ref>/<path>, GitLab's /-/tree/<ref>/<path>.
_TREE_SUFFIX = re.compile(r"(?:/-)?/tree(?:/.*)?$")
# Backstage's own rule for metadata.name; it also keeps the clone inside the workdir.
_ENTITY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
# A comment runs from a # at the start of a line or after a space to the end of the line.
_COMMENT = re.compile(r"(?:^|\s)#.*$")
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_GIT_TIMEOUT = 600.0


class SourceRepo(NamedTuple):
    """One repository of a campaign: how reports name it, and its local clone."""

    name: str
    path: Path


@dataclass(frozen=True)
class SourceFailure:
    """A repository the campaign should hold but could not get (a clone or fetch failed)."""

    name: str
    path: Path
    message: str


@dataclass(frozen=True)
class Sources:
    """The repositories found, and those that could not be got; a failure never hides the
    others."""

    repositories: list[SourceRepo]
    failures: list[SourceFailure]


@dataclass(frozen=True)
class CatalogEntry:
    """A managed Component of a catalog file: its name and where to clone it from.

    ``url`` is None when the entity gives no usable source-location; ``problem`` says why.
    """

    name: str
    url: str | None
    problem: str = ""


def collect(
    *,
    roots: Sequence[Path] = (),
    list_file: Path | None = None,
    catalog: Path | None = None,
    workdir: Path | None = None,
    jobs: int = 4,
) -> Sources:
    """Return the repositories of exactly one source: roots, a list file, or a catalog."""
    given = [what for what, value in (("ROOT", roots), ("--list", list_file),
                                      ("--catalog", catalog)) if value]  # fmt: skip
    if not given:
        raise UserError("name the repositories: ROOT..., --list FILE or --catalog FILE")
    if len(given) > 1:
        raise UserError(f"name the repositories one way, not with {' and '.join(given)}")
    if (catalog is None) != (workdir is None):
        raise UserError("--catalog and --workdir go together (the clones live in --workdir)")
    if catalog is not None and workdir is not None:
        return from_catalog(catalog, workdir=workdir, jobs=jobs)
    if list_file is not None:
        return from_list(list_file)
    return from_roots(roots)


def from_roots(roots: Sequence[Path]) -> Sources:
    """Return the generated repositories under roots (clones with an answers file), named
    relative to the roots' common directory."""
    found = find_repositories(roots)
    return Sources(_named(found, [root.absolute() for root in roots]), [])


def from_list(list_file: Path) -> Sources:
    """Return the repositories a list file names, one path a line (``#`` comments).

    Relative paths are relative to the list file; names are relative to the entries'
    common directory. A path that is not a directory is that entry's failure.
    """
    here = list_file.expanduser().absolute().parent
    paths: list[Path] = []
    for line in _read(list_file).splitlines():
        entry = _COMMENT.sub("", line).strip()
        path = Path(os.path.normpath(here / Path(entry).expanduser())) if entry else None
        if path is not None and path not in paths:
            paths.append(path)
    named = _named(paths, [path.parent for path in paths])
    return Sources(
        [repo for repo in named if repo.path.is_dir()],
        [SourceFailure(name, path, f"{path} is not a directory")
         for name, path in named if not path.is_dir()],
    )  # fmt: skip


def from_catalog(catalog: Path, *, workdir: Path, jobs: int = 4) -> Sources:
    """Clone (or fetch) every managed Component of a catalog file into ``workdir/<name>``.

    Each repository succeeds or fails on its own: a failure is returned with the others.
    """
    entries = catalog_entries(catalog)
    workdir = workdir.expanduser().absolute()
    workdir.mkdir(parents=True, exist_ok=True)

    def get(entry: CatalogEntry) -> SourceRepo | SourceFailure:
        path = workdir / entry.name
        if entry.url is None:
            return SourceFailure(entry.name, path, entry.problem)
        try:
            _clone_or_fetch(entry.url, path)
        except UserError as error:
            return SourceFailure(entry.name, path, _without_credentials(error.message))
        return SourceRepo(entry.name, path)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(get, entries))
    return Sources(
        [r for r in results if isinstance(r, SourceRepo)],
        [r for r in results if isinstance(r, SourceFailure)],
    )


def catalog_entries(catalog: Path) -> list[CatalogEntry]:
    """Return the Components of a catalog file annotated ``goldpath.dev/managed: "true"``."""
    try:
        documents = list(yaml.safe_load_all(_read(catalog)))
    except yaml.YAMLError as error:
        raise CampaignSourceError(catalog, f"not valid YAML: {error}") from error
    entries: list[CatalogEntry] = []
    seen: set[str] = set()
    for document in documents:
        if not _is_managed_component(document):
            continue
        name = str(document["metadata"].get("name", ""))
        if not _ENTITY_NAME.match(name) or name.lower() in seen:
            problem = "a duplicate" if name.lower() in seen else "not a valid entity name"
            entries.append(CatalogEntry(name or "?", None, f"{name!r} is {problem}"))
            continue
        seen.add(name.lower())
        location = document["metadata"]["annotations"].get(SOURCE_LOCATION)
        url = clone_url(location) if isinstance(location, str) else None
        problem = "" if url else f"no usable {SOURCE_LOCATION} annotation (url:<git URL>)"
        entries.append(CatalogEntry(name, url, problem))
    return entries


def clone_url(source_location: str) -> str | None:
    """Return the git URL of a ``url:`` source-location, without its /tree/<ref> part."""
    kind, _, target = source_location.strip().partition(":")
    if kind != "url" or not target:
        return None
    return _TREE_SUFFIX.sub("", target.rstrip("/")).rstrip("/") or None


def _is_managed_component(document: object) -> bool:
    if not isinstance(document, dict) or str(document.get("kind", "")).lower() != "component":
        return False
    metadata = document.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return isinstance(annotations, dict) and str(annotations.get(MANAGED_ANNOTATION)) in {
        "true",
        "True",  # YAML's unquoted true; Backstage itself would want the string
    }


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise CampaignSourceError(path, error.strerror or str(error)) from error
    except UnicodeDecodeError as error:
        raise CampaignSourceError(path, "not UTF-8 text") from error


def _named(paths: Sequence[Path], roots: Sequence[Path]) -> list[SourceRepo]:
    """Name each path relative to the common directory of ``roots``.

    When a path is that directory itself, names start one level up, so none is ``.``.
    """
    if not paths:
        return []
    base = Path(os.path.commonpath([*roots, *paths]))
    if base in paths:
        base = base.parent
    return [SourceRepo(path.relative_to(base).as_posix(), path) for path in sorted(paths)]


def _git(*args: str, cwd: Path, what: str) -> str:
    # Never wait for a password prompt: a repository without access fails, the rest go on.
    env = {**tools.project_env(), "GIT_TERMINAL_PROMPT": "0"}
    return tools.run(
        [tools.require("git"), *args], cwd=cwd, what=what, env=env, timeout=_GIT_TIMEOUT
    )


def _without_credentials(text: str) -> str:
    """Return the text with no user or token in its URLs, as messages and the state file
    show them."""
    return _USERINFO.sub(r"\1", text)


def _clone_or_fetch(url: str, path: Path) -> None:
    """Clone ``url`` into ``path``; when ``path`` is its clone, fetch and fast-forward.

    A directory that is not a clone of ``url`` is left alone (an error), so a name clash
    never updates the wrong repository.
    """
    shown = _without_credentials(url)
    if not path.exists():
        _git("clone", "--quiet", "--", url, str(path), cwd=path.parent, what=f"git clone {shown}")
        return
    if not (path / ".git").exists():
        raise UserError(f"{path} exists and is not a git clone of {shown}")
    origin = _git("remote", "get-url", "origin", cwd=path, what="git remote").strip()
    if origin != url:
        raise UserError(f"{path} is a clone of {_without_credentials(origin)}, not {shown}")
    _git("fetch", "--quiet", "--prune", "origin", cwd=path, what=f"git fetch {shown}")
    # Bring the branch checked out to what the remote has now, so the update starts there;
    # a detached HEAD or a branch without upstream stays as it is.
    try:
        upstream = _git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}",
                        cwd=path, what="git rev-parse").strip()  # fmt: skip
    except ToolError:
        return
    _git(
        "merge", "--ff-only", "--quiet", upstream, cwd=path, what=f"git merge --ff-only {upstream}"
    )
