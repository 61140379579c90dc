"""The template's CHANGELOG.md: read it at a release and pick the entries an update brings."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from . import tools
from .project import parse_version

__all__ = ["Section", "entries_between", "read_changelog"]

CHANGELOG_FILE = "CHANGELOG.md"

# A release heading: "## v1.2.0 (2026-05-04)". Any other level-2 heading ("## Unreleased")
# ends the section before it and starts one that is ignored.
_RELEASE_HEADING = re.compile(
    r"^## +(?P<tag>v?\d+\.\d+\.\d+\S*) +\((?P<date>\d{4}-\d{2}-\d{2})\)\s*$"
)


@dataclass(frozen=True)
class Section:
    """One release's entry in the changelog."""

    tag: str
    version: str
    date: str
    body: str


def read_changelog(source: str, ref: str) -> str | None:
    """Return the template's CHANGELOG.md at ``ref`` (tag or commit), or None without one.

    Only the one commit is fetched (``--depth 1``) into a throwaway repository, so this
    works for local paths, ``file://`` and remote URLs alike, without cloning the history.
    """
    git = tools.require("git")
    with tempfile.TemporaryDirectory(prefix="goldpath-changelog-") as tmp:
        where = Path(tmp)
        tools.run([git, "init", "--quiet", "."], cwd=where, what="git init")
        tools.run(
            [git, "fetch", "--quiet", "--depth", "1", source, ref],
            cwd=where,
            what=f"fetching {ref} of template {source}",
            timeout=120,
        )
        listed = tools.run(
            [git, "ls-tree", "--name-only", "FETCH_HEAD", CHANGELOG_FILE],
            cwd=where,
            what="git ls-tree",
        )
        if not listed.strip():
            return None
        return tools.run([git, "show", f"FETCH_HEAD:{CHANGELOG_FILE}"], cwd=where, what="git show")


def entries_between(text: str, from_version: str | None, to_version: str | None) -> list[Section]:
    """Return the sections newer than ``from_version``, up to and including ``to_version``.

    Versions are tags or ``git describe`` output compared as PEP 440 versions; a bound that
    is None or no version (a commit hash) does not limit that side. Sections keep the file's
    order (newest first, as changelogs are written).
    """
    lower = parse_version(from_version)
    upper = parse_version(to_version)
    sections: list[Section] = []
    current: tuple[str, Version, str] | None = None
    lines: list[str] = []

    def close() -> None:
        if current is None:
            return
        tag, version, date = current
        if (lower is None or version > lower) and (upper is None or version <= upper):
            body = "\n".join(lines).strip("\n")
            sections.append(Section(tag=tag, version=str(version), date=date, body=body))

    for line in text.splitlines():
        if line.startswith("## "):
            close()
            current, lines = None, []
            match = _RELEASE_HEADING.match(line)
            if match:
                try:
                    current = (match["tag"], Version(match["tag"]), match["date"])
                except InvalidVersion:
                    current = None
            continue
        if line.startswith("# "):  # the document's title
            close()
            current, lines = None, []
            continue
        lines.append(line)
    close()
    return sections
