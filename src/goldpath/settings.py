"""Defaults in one place: environment variable names, template location, tool names."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ANSWERS_FILE",
    "APP_ID_VARIABLE",
    "APP_KEY_SECRET",
    "EXIT_BEHIND",
    "EXIT_CONFLICTS",
    "GIT_FALLBACK_IDENTITY",
    "PRESET_ENV",
    "TEMPLATE_ENV",
    "UPDATE_BRANCH",
    "UPDATE_TRAILER",
    "builtin_templates",
    "default_template",
    "is_builtin_template",
]

PRESET_ENV = "GOLDPATH_PRESET"
"""Environment variable that names the organization preset when ``--preset`` is not given."""

TEMPLATE_ENV = "GOLDPATH_TEMPLATE"
"""Environment variable that names the template when ``--template`` is not given."""

EXIT_CONFLICTS = 3
"""Exit code of ``goldpath update`` (and ``fleet update``) when conflicts are left to resolve."""

EXIT_BEHIND = 4
"""Exit code of ``goldpath check`` when the repository is behind the newest template release."""

ANSWERS_FILE = ".copier-answers.yml"
"""Where a generated repository records its answers and template version."""

GIT_FALLBACK_IDENTITY = ("goldpath", "goldpath@users.noreply.invalid")
"""Author of the first commit when git has no user.name/user.email configured."""

UPDATE_TRAILER = "Goldpath-Update"
"""Git trailer on every commit goldpath makes on an update branch; a commit without it is
someone else's, and goldpath never rewrites a branch that holds one."""

UPDATE_BRANCH = "goldpath/template-update"
"""Branch of the template-update pull request (``goldpath update-pr``)."""

APP_ID_VARIABLE = "GOLDPATH_APP_ID"
"""Repository variable the template-update workflow reads the GitHub App's ID from."""

APP_KEY_SECRET = "GOLDPATH_APP_PRIVATE_KEY"  # noqa: S105 (the name, not a key)
"""Repository secret holding that GitHub App's private key."""

_PACKAGE_DIR = Path(__file__).resolve().parent


def builtin_templates() -> list[Path]:
    """Return where goldpath's own template may live: this source checkout, the bundled copy."""
    return [_PACKAGE_DIR.parent.parent, _PACKAGE_DIR / "_template"]


def is_builtin_template(source: str) -> bool:
    """Return whether a template source is goldpath's own (trusted to run migrations)."""
    path = Path(source).expanduser()
    if not path.is_dir():
        return False
    resolved = path.resolve()
    return any(resolved == candidate.resolve() for candidate in builtin_templates())


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
