"""``goldpath check``: is a generated repository behind the newest template release?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..project import GeneratedRepo, latest_version, parse_version

__all__ = ["CheckResult", "check_project"]


@dataclass(frozen=True)
class CheckResult:
    """Where a repository stands against its template."""

    path: str
    template: str
    current: str
    latest: str | None
    behind: bool


def check_project(*, path: Path) -> CheckResult:
    """Compare the repository's template version with the template's newest release tag."""
    repo = GeneratedRepo.open(path)
    latest = latest_version(repo.template)
    current = parse_version(repo.version)
    newest = parse_version(latest)
    behind = newest is not None and (current is None or newest > current)
    return CheckResult(
        path=str(repo.path),
        template=repo.template,
        current=repo.version,
        latest=latest,
        behind=behind,
    )
