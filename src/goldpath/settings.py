"""Defaults in one place: environment variable names, template location, tool names."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ANSWERS_FILE",
    "APP_ID_VARIABLE",
    "APP_KEY_SECRET",
    "CANONICAL_TEMPLATE",
    "DELEGATED_ENV",
    "EXIT_BEHIND",
    "EXIT_CONFLICTS",
    "EXIT_UNKNOWN",
    "GIT_FALLBACK_IDENTITY",
    "MANAGED_ANNOTATION",
    "PRESET_ENV",
    "TEMPLATE_ENV",
    "UPDATE_BRANCH",
    "UPDATE_TRAILER",
    "builtin_templates",
    "is_builtin_template",
]

PRESET_ENV = "GOLDPATH_PRESET"
"""Environment variable that names the organization preset when ``--preset`` is not given."""

CANONICAL_TEMPLATE = "https://github.com/goldpath-dev/goldpath.git"
"""Where goldpath's template is published: the source every generated repository records.

A fork changes this one line (or sets $GOLDPATH_TEMPLATE, or ``template:`` in a preset),
so that its own builds record, check and update against the fork.
"""

TEMPLATE_ENV = "GOLDPATH_TEMPLATE"
"""Environment variable naming the canonical template source (overrides the preset's)."""

DELEGATED_ENV = "GOLDPATH_RELEASE_EXPECTED"
"""Set by a goldpath that hands an update to the target release's goldpath: the release
that goldpath must be, checked before it changes anything."""

EXIT_CONFLICTS = 3
"""Exit code of ``goldpath update`` (and ``fleet update``) when conflicts are left to resolve."""

EXIT_BEHIND = 4
"""Exit code of ``goldpath check`` when the repository is behind the newest template release."""

EXIT_UNKNOWN = 5
"""Exit code of ``goldpath check`` when it cannot tell (no release tags, an unreleased commit)."""

ANSWERS_FILE = ".copier-answers.yml"
"""Where a generated repository records its answers and template version."""

GIT_FALLBACK_IDENTITY = ("goldpath", "goldpath@users.noreply.invalid")
"""Author of the first commit when git has no user.name/user.email configured."""

UPDATE_TRAILER = "Goldpath-Update"
"""Git trailer on every commit goldpath makes on an update branch; a commit without it is
someone else's, and goldpath never rewrites a branch that holds one."""

UPDATE_BRANCH = "goldpath/template-update"
"""Branch of the template-update pull request (``goldpath update-pr``)."""

MANAGED_ANNOTATION = "goldpath.dev/managed"
"""Backstage annotation (value ``"true"``) on every generated repository's Component: a
fleet campaign started from a catalog file updates the Components that carry it."""

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
