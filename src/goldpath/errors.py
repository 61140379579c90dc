"""goldpath's errors: one base class, and the user-facing kinds printed as one line.

Errors that code tells apart (``fleet update`` sorting outcomes, ``update --json``) are
classes with fields, never matched on their message.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DirtyTreeError", "GoldpathError", "UserError"]


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
