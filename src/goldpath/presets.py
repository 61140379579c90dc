"""Organization presets: answers pre-filled for teams (``defaults``) and enforced (``locked``).

A preset is a YAML file::

    template: https://git.example.com/platform/goldpath.git   # the canonical source
    defaults:              # pre-filled; a team may change them
      owner: payments-team
      python_version: "3.12"
    locked:                # enforced; a team may not change them
      aws_region: eu-central-1          # one value: the answer is fixed
      llm_provider: [openai, bedrock]   # a list: the answer must be one of these
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError
from .questions import check_known, coerce
from .settings import PRESET_ENV

__all__ = ["Preset", "load_preset"]


@dataclass(frozen=True)
class Preset:
    """Defaults a team may change and answers it may not."""

    source: str
    template: str | None = None
    """The organization's canonical template source ($GOLDPATH_TEMPLATE still wins)."""
    defaults: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    allowed: dict[str, list[Any]] = field(default_factory=dict)

    def apply(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check the team's answers against the locks; return (data, user defaults) for copier."""
        for name, value in data.items():
            if name in self.fixed and value != self.fixed[name]:
                raise UserError(
                    f"{name!r} is locked to {self.fixed[name]!r} by the preset {self.source}"
                )
            self.check_allowed(name, value)
        merged = {**data, **self.fixed}
        return merged, {k: v for k, v in self.defaults.items() if k not in merged}

    def mentions(self, message: str, *, but: set[str]) -> bool:
        """Return whether an error is about an answer this preset set (not one in ``but``)."""
        names = {*self.defaults, *self.fixed, *self.allowed} - but
        return any(f"'{name}'" in message for name in names)

    def checked(self, questions: Mapping[str, Mapping[str, Any]] | None) -> Preset:
        """Return the preset with its answers checked and cast against the template's questions."""
        defaults, fixed, allowed = self.defaults, self.fixed, self.allowed
        if questions is not None:
            try:
                check_known({**defaults, **fixed, **allowed}, questions)
                defaults = coerce(defaults, questions)
                fixed = coerce(fixed, questions)
                allowed = {
                    k: [coerce({k: v}, questions)[k] for v in vs] for k, vs in allowed.items()
                }
            except UserError as error:
                raise UserError(f"preset {self.source}: {error.message}") from error
        preset = replace(self, defaults=defaults, fixed=fixed, allowed=allowed)
        for name, value in defaults.items():
            preset.check_allowed(name, value)
        return preset

    def check_allowed(self, name: str, value: object) -> None:
        """Raise when an answer is not one of the values the preset allows."""
        if name in self.allowed and value not in self.allowed[name]:
            shown = ", ".join(str(v) for v in self.allowed[name])
            raise UserError(
                f"{name!r} must be one of {shown} (locked by the preset {self.source}), "
                f"not {value!r}"
            )


def load_preset(path: Path | None) -> Preset | None:
    """Read the preset named by ``path`` or $GOLDPATH_PRESET (see ``Preset.checked``)."""
    if path is None:
        from_env = os.environ.get(PRESET_ENV)
        if not from_env:
            return None
        path = Path(from_env)
    source = str(path)
    try:
        loaded = yaml.safe_load(path.expanduser().read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read preset {source}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise UserError(f"preset {source} is not valid YAML: {error}") from error
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict) or set(loaded) - {"defaults", "locked", "template"}:
        raise UserError(
            f"preset {source} must be a mapping with 'template', 'defaults' and/or 'locked'"
        )
    template = loaded.get("template")
    if template is not None and (not isinstance(template, str) or not template.strip()):
        raise UserError(f"preset {source}: 'template' must be a template path or git URL")
    sections: dict[str, dict[str, Any]] = {}
    for section in ("defaults", "locked"):
        value = loaded.get(section) or {}
        if not isinstance(value, dict):
            raise UserError(f"preset {source}: '{section}' must map questions to answers")
        sections[section] = {str(k): v for k, v in value.items()}
    return Preset(
        source=source,
        template=template,
        defaults=sections["defaults"],
        fixed={k: v for k, v in sections["locked"].items() if not isinstance(v, list)},
        allowed={k: list(v) for k, v in sections["locked"].items() if isinstance(v, list)},
    )
