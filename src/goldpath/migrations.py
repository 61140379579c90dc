"""Which template migrations an update crosses, judged by git ancestry, against which ones
copier will run, judged by PEP 440 versions; an update goes ahead only when they agree."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from . import tools
from .errors import UserError
from .release import is_remote

__all__ = ["MigrationMismatchError", "TemplateHistory", "crossed_migrations"]


class MigrationMismatchError(UserError):
    """copier would skip a migration the update crosses (or run one it does not cross)."""

    def __init__(self, message: str, *, version: str) -> None:
        super().__init__(message)
        self.version = version


@dataclass(frozen=True)
class TemplateHistory:
    """A bare clone of a template repository, to read its history offline."""

    git_dir: Path

    def git(self, *args: str) -> str:
        """Run git on the clone."""
        return tools.run(
            [tools.require("git"), "--git-dir", str(self.git_dir), *args],
            cwd=self.git_dir,
            what=f"git {args[0]} in the template",
        )

    def commit(self, ref: str) -> str:
        """Return the commit a ref (tag, SHA, ``git describe`` output) names; one line if none."""
        try:
            return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
        except UserError:
            raise UserError(f"the template has no commit {ref}") from None

    def contains(self, ancestor: str, commit: str) -> bool:
        """Return whether ``ancestor`` is ``commit`` or one of its ancestors."""
        git_dir = str(self.git_dir)
        args = [tools.require("git"), "--git-dir", git_dir, "merge-base", "--is-ancestor"]
        result = subprocess.run([*args, ancestor, commit], capture_output=True, check=False)
        return result.returncode == 0

    def migrations(self, commit: str) -> list[dict[str, Any]]:
        """Return the ``_migrations`` of copier.yml at a commit."""
        try:
            text = self.git("show", f"{commit}:copier.yml")
        except UserError:
            return []
        config = yaml.safe_load(text) or {}
        entries = config.get("_migrations") or [] if isinstance(config, dict) else []
        return [m for m in entries if isinstance(m, dict) and "version" in m]

    def tags(self, *, merged_into: str | None = None) -> dict[str, str]:
        """Return each tag's commit (only the tags in ``merged_into``'s history, if given)."""
        merged = [f"--merged={merged_into}"] if merged_into else []
        output = self.git("for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)",
                          *merged, "refs/tags")  # fmt: skip
        found: dict[str, str] = {}
        for line in output.splitlines():
            name, sha, *peeled = line.split()
            found[name] = peeled[0] if peeled else sha
        return found

    def pep440(self, commit: str) -> Version:
        """Return the version copier gives a commit (dunamai's: ``<tag>.post<n>.dev0``)."""
        best: tuple[Version, str] | None = None
        for name, sha in self.tags(merged_into=commit).items():
            try:
                version = Version(name)
            except InvalidVersion:
                continue
            if best is None or version > best[0]:
                best = (version, sha)
        base = best[0] if best else Version("0.0.0")
        span = f"{best[1]}..{commit}" if best else commit
        distance = int(self.git("rev-list", "--count", span).strip())
        return base if best and distance == 0 else Version(f"{base}.post{distance}.dev0")


def clone_history(source: str, into: Path) -> TemplateHistory:
    """Clone a template repository bare (blobs fetched on demand from a remote)."""
    git_dir = into / "template.git"
    args = [tools.require("git"), "clone", "--quiet", "--bare", "--no-hardlinks"]
    args += ["--filter=blob:none"] if is_remote(source) else []
    tools.run([*args, source, str(git_dir)], cwd=into, what=f"cloning template {source}",
              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})  # fmt: skip
    return TemplateHistory(git_dir=git_dir)


def crossed_migrations(source: str, *, current: str, target: str) -> list[str]:
    """Return the versions of the migrations an update from ``current`` to ``target`` crosses.

    A migration is crossed when its release tag is in the target's history and not in the
    current one's (a migration whose tag does not exist yet is crossed when the current
    version's copier.yml lacks it). copier decides by PEP 440 versions instead, so an update
    from or to an untagged commit may skip a migration it crosses, and lose the files the
    migration would have moved: that is refused, with the update that would work.
    """
    with tempfile.TemporaryDirectory(prefix="goldpath-history-") as tmp:
        history = clone_history(source, Path(tmp))
        start, end = history.commit(current), history.commit(target)
        tags = history.tags()
        before = {str(m["version"]) for m in history.migrations(start)}
        from_version, to_version = history.pep440(start), history.pep440(end)
        crossed: list[str] = []
        for version in dict.fromkeys(str(m["version"]) for m in history.migrations(end)):
            tag = tags.get(version)
            if tag is not None:
                crosses = history.contains(tag, end) and not history.contains(tag, start)
            else:
                crosses = version not in before
            runs = from_version < Version(version) <= to_version
            if crosses and not runs:
                hint = f"update to {version} first (goldpath update --vcs-ref {version})"
                if tag is None:
                    hint = f"tag {version} in the template, then update to it"
                raise MigrationMismatchError(
                    f"updating from {current} to {target} crosses the migration {version}, "
                    f"which copier would not run ({from_version} -> {to_version}); {hint}",
                    version=version,
                )
            if runs and not crosses:
                raise MigrationMismatchError(
                    f"copier would run the migration {version} between {current} and {target}, "
                    "but the target's history does not hold that release; update to a release tag",
                    version=version,
                )
            if crosses:
                crossed.append(version)
        return crossed
