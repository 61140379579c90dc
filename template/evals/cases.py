"""Eval cases: one JSON object a line in ``evals/datasets/*.jsonl``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["CHECK_TYPES", "DATASETS", "Case", "DatasetError", "load_cases", "parse_case"]

DATASETS = Path(__file__).parent / "datasets"
CHECK_TYPES = frozenset({"exact", "contains", "regex", "json_schema", "tool_call", "rubric"})
_CASE_KEYS = frozenset(
    {"id", "messages", "tools", "tool_choice", "response_format", "max_tokens", "stream"}
    | {"expect", "provider", "description"}
)

Provider = Literal["any", "fake", "real"]


class DatasetError(ValueError):
    """A dataset line that is not a valid case; the message names the file and line."""


@dataclass(frozen=True)
class Case:
    """One request to the service and the checks its answer must pass."""

    id: str
    dataset: str
    messages: list[dict[str, Any]]
    expect: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    stream: bool = False
    # "fake": only against the fake provider; "real": only against a real one.
    provider: Provider = "any"
    description: str = ""


def parse_case(raw: object, *, dataset: str) -> Case:
    """Return the case a decoded JSON line describes, or raise ``DatasetError``."""
    if not isinstance(raw, dict):
        raise DatasetError("a case must be a JSON object")
    unknown = sorted(set(raw) - _CASE_KEYS)
    if unknown:
        raise DatasetError(f"unknown keys: {', '.join(unknown)}")
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise DatasetError("'id' must be a non-empty string")
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DatasetError(f"{case_id}: 'messages' must be a non-empty list")
    expect = raw.get("expect")
    if not isinstance(expect, list) or not expect:
        raise DatasetError(f"{case_id}: 'expect' must be a non-empty list of checks")
    for check in expect:
        if not isinstance(check, dict) or check.get("type") not in CHECK_TYPES:
            raise DatasetError(
                f"{case_id}: every check needs a 'type' of {', '.join(sorted(CHECK_TYPES))}"
            )
    provider = raw.get("provider", "any")
    if provider not in ("any", "fake", "real"):
        raise DatasetError(f"{case_id}: 'provider' must be 'any', 'fake' or 'real'")
    return Case(
        id=case_id,
        dataset=dataset,
        messages=messages,
        expect=expect,
        tools=raw.get("tools"),
        tool_choice=raw.get("tool_choice"),
        response_format=raw.get("response_format"),
        max_tokens=raw.get("max_tokens"),
        stream=bool(raw.get("stream", False)),
        provider=provider,
        description=str(raw.get("description", "")),
    )


def load_cases(directory: Path = DATASETS) -> list[Case]:
    """Return every case of every ``*.jsonl`` file in ``directory``, in file then line order."""
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                case = parse_case(json.loads(line), dataset=path.stem)
            except (json.JSONDecodeError, DatasetError) as error:
                raise DatasetError(f"{where}: {error}") from error
            if case.id in seen:
                raise DatasetError(f"{where}: duplicate id {case.id!r} (first in {seen[case.id]})")
            seen[case.id] = where
            cases.append(case)
    if not cases:
        raise DatasetError(f"no cases in {directory}/*.jsonl")
    return cases
