"""``goldpath check``: is a generated repository behind the newest template release?"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.version import Version

from ..project import GeneratedRepo
from ..release import ReleaseTags, is_release_tag

__all__ = ["CheckResult", "Standing", "check_project", "standing"]

Status = Literal["current", "behind", "unknown"]
_DESCRIBE = re.compile(r"^(?P<tag>.+)-(?P<count>\d+)-g(?P<sha>[0-9a-f]+)$")


@dataclass(frozen=True)
class Standing:
    """Where a template version stands among the template's releases."""

    status: Status
    latest: str | None
    latest_commit: str | None
    reason: str


@dataclass(frozen=True)
class CheckResult:
    """Where a repository stands against its template."""

    path: str
    template: str
    current: str
    latest: str | None
    latest_commit: str | None
    status: Status
    reason: str
    behind: bool


def check_project(*, path: Path) -> CheckResult:
    """Compare the repository's template version with the template's newest release tag."""
    repo = GeneratedRepo.open(path)
    found = standing(repo.version, ReleaseTags.read(repo.template))
    return CheckResult(
        path=str(repo.path),
        template=repo.template,
        current=repo.version,
        latest=found.latest,
        latest_commit=found.latest_commit,
        status=found.status,
        reason=found.reason,
        behind=found.status == "behind",
    )


def standing(current: str, tags: ReleaseTags) -> Standing:
    """Place a recorded template version (tag, ``git describe`` output or commit) among releases.

    "unknown" whenever the answer cannot be told from the tags alone: never "current" by
    default.
    """
    latest = tags.latest()
    if latest is None:
        return Standing("unknown", None, None, f"template {tags.source} has no release tags")
    commit = tags.commits[latest]

    def against(base: str, how: str) -> Standing:
        if Version(latest) > Version(base):
            return Standing("behind", latest, commit, f"{how}; {latest} is newer")
        return Standing("current", latest, commit, f"{how}; no newer release")

    if is_release_tag(current):
        return against(current, f"at release {current}")
    described = _DESCRIBE.match(current)
    if described and is_release_tag(described["tag"]):
        base = described["tag"]
        return against(base, f"{described['count']} commits after release {base}")
    tag = tags.tag_at(current)
    if tag is not None:
        return against(tag, f"at commit {current[:12]}, released as {tag}")
    return Standing(
        "unknown", latest, commit,
        f"{current} is not a release, so whether {latest} contains it cannot be told",
    )  # fmt: skip
