"""A generated repository: its answers file, template version and git state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from . import tools
from .errors import UserError
from .settings import ANSWERS_FILE, CANONICAL_TEMPLATE, GIT_FALLBACK_IDENTITY, UPDATE_TRAILER

__all__ = [
    "GeneratedRepo",
    "conflicted_files",
    "parse_version",
]

_DESCRIBE_SUFFIX = re.compile(r"-\d+-g[0-9a-f]+$")
_RELEASE_TAG = re.compile(r"v?\d+\.\d+")
_CONFLICT_MARKER = re.compile(rb"^(<<<<<<< |>>>>>>> )", re.MULTILINE)


def parse_version(ref: str | None) -> Version | None:
    """Return the PEP 440 version of a tag or ``git describe`` output, or None.

    A release tag has a dot (``v0.1.0``); an abbreviated commit hash never does, and some
    parse as versions (``24c7420`` would be ``24rc7420``), so they are not versions here.
    """
    if not ref or not _RELEASE_TAG.match(ref):
        return None
    try:
        return Version(_DESCRIBE_SUFFIX.sub("", ref))
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class GeneratedRepo:
    """A git repository generated from a template, as its answers file describes it."""

    path: Path
    answers: dict[str, Any]

    @classmethod
    def open(cls, path: Path) -> GeneratedRepo:
        """Read and check the answers file; raise a one-line error when it is unusable."""
        path = path.expanduser().absolute()
        if not path.is_dir():
            raise UserError(f"{path} is not a directory")
        answers_file = path / ANSWERS_FILE
        if not answers_file.is_file():
            raise UserError(f"{path} is not a generated repository (no {ANSWERS_FILE})")
        try:
            answers = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise UserError(f"{ANSWERS_FILE} is not valid YAML: {error}") from error
        if not isinstance(answers, dict):
            raise UserError(f"{ANSWERS_FILE} must hold a mapping of answers")
        source = answers.get("_src_path")
        if (
            isinstance(source, str)
            and Path(source).name == "_template"
            and not answers.get("_commit")
        ):
            raise UserError(
                f"{ANSWERS_FILE} names an installed copy of the template ({source}) and no "
                f"release: set _src_path to {CANONICAL_TEMPLATE} and _commit to the release "
                "it was generated from, and commit"
            )
        for key in ("_src_path", "_commit"):
            if not isinstance(answers.get(key), str) or not answers[key]:
                raise UserError(f"{ANSWERS_FILE} has no {key}: it was edited into an invalid state")
        if not (path / ".git").exists():
            raise UserError(f"{path} is not a git repository; updates need git history")
        return cls(path=path, answers=answers)

    @property
    def template(self) -> str:
        """Return where the template comes from (path or git URL)."""
        source: str = self.answers["_src_path"]
        return source

    @property
    def version(self) -> str:
        """Return the template version the repository is at (a tag or describe output)."""
        commit: str = self.answers["_commit"]
        return commit

    def git(self, *args: str) -> str:
        """Run git in the repository and return its output."""
        what = "git " + next((a for a in args if not a.startswith("-") and "=" not in a), "")
        return tools.run([tools.require("git"), *args], cwd=self.path, what=what.strip())

    def status(self) -> list[str]:
        """Return ``git status --porcelain`` lines, whatever the user's git configuration.

        Untracked files are always listed one by one (``status.showUntrackedFiles=no``
        would hide them) and submodules always count (``diff.ignoreSubmodules``).
        """
        output = self.git(
            "status", "--porcelain", "--untracked-files=all", "--ignore-submodules=none"
        )
        return [line for line in output.splitlines() if line.strip()]

    def is_dirty(self) -> bool:
        """Return whether the working tree has changes that are not committed (untracked too)."""
        return bool(self.status())

    def commit_all(self, message: str, *, update_to: str | None = None) -> str:
        """Commit everything in the working tree; return the new commit.

        ``update_to`` marks the commit as goldpath's update to that version with a trailer,
        so later runs can tell their own commits from a person's. Without a configured git
        identity the commit is made as goldpath.
        """
        self.git("add", "--all")
        identity: list[str] = []
        if not tools.run_ok([tools.require("git"), "config", "user.email"], cwd=self.path):
            name, email = GIT_FALLBACK_IDENTITY
            identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
        trailer = ["--trailer", f"{UPDATE_TRAILER}: {update_to}"] if update_to else []
        self.git(*identity, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message,
                 *trailer)  # fmt: skip
        return self.head()

    def foreign_commits(self, base: str, tip: str) -> list[str]:
        """Return the commits in ``base..tip`` that goldpath did not make (no update trailer)."""
        output = self.git(
            "log", "--format=%H%x00%(trailers:key=" + UPDATE_TRAILER + ",valueonly)%x01",
            f"{base}..{tip}",
        )  # fmt: skip
        foreign = []
        for record in output.split("\x01"):
            sha, _, trailer = record.strip().partition("\x00")
            if sha and not trailer.strip():
                foreign.append(sha)
        return foreign

    def head(self) -> str:
        """Return the commit checked out."""
        return self.git("rev-parse", "HEAD").strip()

    def restore(self, commit: str) -> None:
        """Put the working tree and index back to ``commit`` (untracked files removed)."""
        self.git("reset", "--quiet", "--hard", commit)
        self.git("clean", "--quiet", "-fd")


def conflicted_files(repo: GeneratedRepo) -> list[str]:
    """Return files an update left in conflict: unmerged, with markers, or with a .rej."""
    found: set[str] = set()
    for line in repo.git("ls-files", "--unmerged").splitlines():
        found.add(line.split("\t", 1)[1])
    changed = repo.git("ls-files", "--modified", "--others", "--exclude-standard").splitlines()
    for name in changed:
        if name.endswith(".rej"):
            found.add(name.removesuffix(".rej"))
            continue
        file = repo.path / name
        if file.is_file() and _CONFLICT_MARKER.search(file.read_bytes()):
            found.add(name)
    return sorted(found)
