"""goldpath's errors: one base class, and the user-facing kind printed as one line."""

from __future__ import annotations

__all__ = ["GoldpathError", "UserError"]


class GoldpathError(Exception):
    """Base class of every error goldpath raises on purpose."""


class UserError(GoldpathError):
    """A problem the user can fix; printed as one line, exit code 1, no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
