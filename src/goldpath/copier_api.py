"""copier's public API behind one translation of its errors into goldpath's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import UserError

__all__ = ["copier_errors"]


@contextmanager
def copier_errors() -> Iterator[None]:
    """Turn copier's exceptions into one-line user errors (Ctrl-C stays a KeyboardInterrupt)."""
    from copier.errors import (
        CopierAnswersInterrupt,
        CopierError,
        UnsafeTemplateError,
        UserMessageError,
    )

    try:
        yield
    except CopierAnswersInterrupt as error:
        raise KeyboardInterrupt from error
    except UnsafeTemplateError as error:
        raise UserError(f"{error}; pass --trust if you trust this template") from error
    except UserMessageError as error:
        raise UserError(_first_line(error)) from error
    except ValueError as error:
        # copier raises ValueError for answers that fail a question's type or validator.
        message = _first_line(error).replace("Validation error for question ", "invalid ")
        raise UserError(message) from error
    except CopierError as error:
        raise UserError(f"copier failed: {_first_line(error)}") from error


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
