"""goldpath's errors: one base class, and the user-facing kinds printed as one line.

Errors that code tells apart (``fleet update`` sorting outcomes, ``update --json``) are
classes with fields, never matched on their message.
"""

from __future__ import annotations

from pathlib import Path

from .settings import APP_ID_VARIABLE, APP_KEY_SECRET

__all__ = [
    "AbortedError",
    "CampaignSourceError",
    "DirtyTreeError",
    "GoldpathError",
    "ReportedError",
    "TemplateRenderError",
    "ToolError",
    "UserError",
    "WorkflowPushError",
]


class GoldpathError(Exception):
    """Base class of every error goldpath raises on purpose."""


class UserError(GoldpathError):
    """A problem the user can fix; printed as one line, exit code 1, no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReportedError(UserError):
    """An error that a goldpath command run in another process reported (``--json``).

    ``kind`` is the class it named in errors.py (``UserError`` when the name is unknown),
    so a caller tells outcomes apart by class, never by the message.
    """

    def __init__(self, kind: type[UserError], message: str) -> None:
        super().__init__(message)
        self.kind = kind


class AbortedError(UserError):
    """The user pressed Ctrl-C (or interrupted a prompt)."""

    def __init__(self) -> None:
        super().__init__("aborted")


class CampaignSourceError(UserError):
    """A campaign's list file or catalog file cannot be read; ``detail`` says why."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"cannot read {path}: {detail}")
        self.path = path
        self.detail = detail


class DirtyTreeError(UserError):
    """The repository has uncommitted changes (untracked files included)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} has uncommitted changes; commit or stash them first")
        self.path = path


class ToolError(UserError):
    """An external program (git, uv) failed; ``detail`` is the line that says why."""

    def __init__(self, what: str, detail: str, *, returncode: int | None = None) -> None:
        super().__init__(f"{what} failed: {detail}")
        self.what = what
        self.detail = detail
        self.returncode = returncode


class TemplateRenderError(UserError):
    """The template itself is broken: Jinja could not parse or render one of its files.

    ``file`` is relative to the template's root and ``line`` is the line in that file,
    when Jinja knows them.
    """

    def __init__(self, detail: str, *, file: str | None = None, line: int | None = None) -> None:
        where = f" in {file}" if file else ""
        where += f"{',' if file else ' at'} line {line}" if line is not None else ""
        super().__init__(f"template error{where}: {detail}")
        self.detail = detail
        self.file = file
        self.line = line


class WorkflowPushError(UserError):
    """An update changes workflow files and the token in use may not push them.

    GitHub refuses a push that changes ``.github/workflows/`` unless the token has the
    ``workflows`` permission, which the workflow's own GITHUB_TOKEN never has.
    """

    def __init__(self, files: list[str]) -> None:
        super().__init__(
            f"the update changes {', '.join(files)}, which this token may not push: give the "
            f"template-update workflow a GitHub App (repository variable {APP_ID_VARIABLE}, "
            f"secret {APP_KEY_SECRET}; see docs/updating.md) or pass --can-push-workflows "
            "with a token that has workflows: write; nothing was pushed"
        )
        self.files = list(files)
