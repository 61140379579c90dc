"""goldpath's errors: one base class, and the user-facing kinds printed as one line.

Errors that code tells apart (``fleet update`` sorting outcomes, ``update --json``) are
classes with fields, never matched on their message.
"""

from __future__ import annotations

from pathlib import Path

from .settings import APP_ID_VARIABLE, APP_KEY_SECRET

__all__ = ["DirtyTreeError", "GoldpathError", "UserError", "WorkflowPushError"]


class GoldpathError(Exception):
    """Base class of every error goldpath raises on purpose."""


class UserError(GoldpathError):
    """A problem the user can fix; printed as one line, exit code 1, no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DirtyTreeError(UserError):
    """The repository has uncommitted changes (untracked files included)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} has uncommitted changes; commit or stash them first")
        self.path = path


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
