"""copier's public API behind one translation of its errors into goldpath's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from .errors import TemplateRenderError, UserError

__all__ = ["copier_errors"]


@contextmanager
def copier_errors() -> Iterator[None]:
    """Turn copier's exceptions into one-line user errors (Ctrl-C stays a KeyboardInterrupt).

    Jinja's errors are translated too: copier lets a broken template file's
    ``TemplateSyntaxError`` (or ``UndefinedError``) through as it is.
    """
    from copier.errors import (
        CopierAnswersInterrupt,
        CopierError,
        UnsafeTemplateError,
        UserMessageError,
    )
    from jinja2 import TemplateError, TemplateSyntaxError

    try:
        yield
    except CopierAnswersInterrupt as error:
        raise KeyboardInterrupt from error
    except TemplateSyntaxError as error:
        raise TemplateRenderError(
            _first_line(error.message or error), file=error.name, line=error.lineno
        ) from error
    except TemplateError as error:
        raise TemplateRenderError(
            _first_line(error), line=_template_line(error.__traceback__)
        ) from error
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


def _first_line(error: Exception | str) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _template_line(tb: TracebackType | None) -> int | None:
    """Return the template line of the innermost frame Jinja put in a traceback, if any.

    Jinja rewrites the traceback of a rendering error so that its frames are the
    template's lines (https://jinja.palletsprojects.com/en/stable/api/#jinja2.TemplateError).
    """
    line = None
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
