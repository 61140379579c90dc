"""Question metadata read from a template's copier.yml, and parsing of user-given answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

__all__ = ["check_known", "coerce", "parse_data_args", "read_data_file", "read_questions"]


def read_questions(template: str) -> dict[str, dict[str, Any]] | None:
    """Return the askable questions of a local template, or None when they cannot be read.

    Settings (``_``-prefixed keys) and computed values (``when: false``) are left out.
    A remote template, or a copier.yml using YAML tags such as ``!include``, yields None.
    """
    path = Path(template)
    config = next(
        (path / name for name in ("copier.yml", "copier.yaml") if (path / name).is_file()), None
    )
    if config is None:
        return None
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    return {
        name: spec if isinstance(spec, dict) else {"default": spec}
        for name, spec in data.items()
        if not name.startswith("_") and not (isinstance(spec, dict) and spec.get("when") is False)
    }


def parse_data_args(pairs: Iterable[str]) -> dict[str, str]:
    """Turn repeated ``--data key=value`` options into a mapping (copier casts the values)."""
    data: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--data expects key=value, got {pair!r}")
        data[key.strip()] = value
    return data


def read_data_file(path: Path) -> dict[str, Any]:
    """Read answers from a YAML (or JSON) file holding one mapping."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read data file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise UserError(f"data file {path} is not valid YAML: {error}") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UserError(f"data file {path} must hold a mapping of question: answer")
    return {str(key): value for key, value in loaded.items()}


def check_known(data: Mapping[str, Any], questions: Mapping[str, Any]) -> None:
    """Reject answers to questions the template does not ask."""
    unknown = sorted(set(data) - set(questions))
    if unknown:
        known = ", ".join(questions)
        raise UserError(f"unknown question {unknown[0]!r}; this template asks: {known}")


_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def coerce(data: Mapping[str, Any], questions: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Cast text answers to their question's type and check choices, naming the question."""
    result: dict[str, Any] = {}
    for name, value in data.items():
        spec = questions.get(name, {})
        kind = spec.get("type", "str")
        result[name] = _cast(name, kind, value) if isinstance(value, str) else value
        choices = spec.get("choices")
        if choices:
            allowed = list(choices.values()) if isinstance(choices, dict) else list(choices)
            if result[name] not in allowed:
                shown = ", ".join(str(choice) for choice in allowed)
                raise UserError(f"invalid {name!r}: {value!r} is not one of {shown}")
    return result


def _cast(name: str, kind: str, value: str) -> object:
    text = value.strip()
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise UserError(f"invalid {name!r}: expected a whole number, got {value!r}") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise UserError(f"invalid {name!r}: expected a number, got {value!r}") from None
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise UserError(f"invalid {name!r}: expected true or false, got {value!r}")
    if kind in {"yaml", "json"}:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            raise UserError(f"invalid {name!r}: not valid {kind}: {value!r}") from None
    return value
