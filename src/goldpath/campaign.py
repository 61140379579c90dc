"""A fleet campaign's state: which repositories go to which release, in which wave, and
where each one stands. One human-readable YAML file that a platform team can commit."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from .errors import UserError
from .hosts import Checks, HostName

__all__ = [
    "GREEN",
    "STATUSES",
    "Campaign",
    "RepoState",
    "Status",
    "now",
]

Status = Literal[
    "behind",  # not updated yet (the campaign has not reached its wave)
    "updated",  # updated on its branch and pushed; no pull request yet (or --dry-run)
    "conflicted",  # pull request open, with conflicts for the team to resolve
    "verify-failed",  # no CI status: `goldpath verify` of the branch found problems
    "pr-open",  # pull request open, no conflicts; waiting for CI and review
    "merged",  # the pull request was merged, or the repository is at the release
    "skipped",  # left alone on purpose (see reason): dirty tree, a person's commits, closed PR
    "failed",  # something went wrong (see reason); a re-run tries again
]
STATUSES: tuple[str, ...] = get_args(Status)

GREEN = "green"
"""``RepoState.gate`` once the wave gate passed: CI passed, or local verify passed without CI."""

_HEADER = """\
# goldpath fleet campaign: bring these repositories to the template release below.
# Written by `goldpath fleet campaign`; safe to commit and to read. Statuses: behind,
# updated, conflicted, verify-failed, pr-open, merged, skipped, failed (see reason).
"""


def now() -> str:
    """Return the current UTC time as the state file writes it."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class RepoState:
    """One repository in the campaign."""

    name: str
    """How reports name it: the path relative to the state file, or the catalog entity."""
    path: str
    """Its local clone."""
    wave: int = 1
    """0 for the canary wave, 1 for the rest."""
    status: Status = "behind"
    from_version: str | None = None
    branch: str | None = None
    pull_request: str | None = None
    """The pull (merge) request's URL."""
    checks: Checks | None = None
    gate: str | None = None
    """``GREEN`` once this repository no longer holds its wave back."""
    reason: str = ""
    updated_at: str | None = None

    def mark(self, status: Status, reason: str = "") -> None:
        """Set the status and its reason, stamped with the time."""
        self.status = status
        self.reason = reason
        self.updated_at = now()


@dataclass
class Campaign:
    """Bring ``repositories`` to the template release ``to``, canaries first."""

    to: str
    host: HostName = "github"
    auto_merge: bool = False
    started_at: str = field(default_factory=now)
    repositories: list[RepoState] = field(default_factory=list)

    def wave(self, number: int) -> list[RepoState]:
        """Return the repositories of one wave."""
        return [r for r in self.repositories if r.wave == number]

    def waves(self) -> list[int]:
        """Return the wave numbers, in order."""
        return sorted({r.wave for r in self.repositories})

    def counts(self) -> dict[str, int]:
        """Return how many repositories are in each status (every status listed)."""
        return {s: sum(r.status == s for r in self.repositories) for s in STATUSES}

    def find(self, name: str) -> RepoState:
        """Return the repository of that name; a one-line error when there is none."""
        for repo in self.repositories:
            if repo.name == name:
                return repo
        raise UserError(f"the campaign has no repository {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the campaign as plain data (the state file's content, ``--json``)."""
        data = asdict(self)
        data["repositories"] = [
            {k: v for k, v in repo.items() if v not in (None, "")} for repo in data["repositories"]
        ]
        return data

    def save(self, path: Path) -> None:
        """Write the state file atomically (a crash never leaves half a file)."""
        text = _HEADER + yaml.safe_dump(self.to_dict(), sort_keys=False, width=100)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)

    @classmethod
    def load(cls, path: Path) -> Campaign:
        """Read a state file; a one-line error when it is missing or not a campaign."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise UserError(f"cannot read campaign {path}: {error.strerror}") from error
        except yaml.YAMLError as error:
            raise UserError(f"campaign {path} is not valid YAML: {error}") from error
        if not isinstance(data, dict) or not isinstance(data.get("to"), str):
            raise UserError(f"{path} is not a goldpath campaign (no 'to' release)")
        known = {f.name for f in fields(RepoState)}
        repositories = []
        for entry in data.get("repositories") or []:
            if not isinstance(entry, dict) or not {"name", "path"} <= set(entry):
                raise UserError(f"campaign {path}: every repository needs a name and a path")
            if entry.get("status", "behind") not in STATUSES:
                raise UserError(f"campaign {path}: unknown status {entry['status']!r}")
            repositories.append(RepoState(**{k: v for k, v in entry.items() if k in known}))
        return cls(
            to=data["to"],
            host=data.get("host", "github"),
            auto_merge=bool(data.get("auto_merge", False)),
            started_at=str(data.get("started_at") or now()),
            repositories=repositories,
        )
