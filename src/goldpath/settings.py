"""Defaults in one place: environment variable names, template location, tool names."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ANSWERS_FILE",
    "GIT_FALLBACK_IDENTITY",
    "TEMPLATE_ENV",
    "default_template",
]

TEMPLATE_ENV = "GOLDPATH_TEMPLATE"
"""Environment variable that names the template when ``--template`` is not given."""

ANSWERS_FILE = ".copier-answers.yml"
"""Where a generated repository records its answers and template version."""

GIT_FALLBACK_IDENTITY = ("goldpath", "goldpath@users.noreply.invalid")
"""Author of the first commit when git has no user.name/user.email configured."""

_PACKAGE_DIR = Path(__file__).resolve().parent


def default_template() -> str:
    """Return the template to use: $GOLDPATH_TEMPLATE, this source checkout, or the bundled copy.

    In a source checkout the repository root is the template (a git repository, so
    copier records the version and can update later); an installed wheel carries a copy
    of it under ``goldpath/_template``.
    """
    from_env = os.environ.get(TEMPLATE_ENV)
    if from_env:
        return from_env
    checkout = _PACKAGE_DIR.parent.parent
    if (checkout / "copier.yml").is_file() and (checkout / "template").is_dir():
        return str(checkout)
    return str(_PACKAGE_DIR / "_template")
