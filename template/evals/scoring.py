"""Checks of an answer: exact, contains, regex, JSON schema, tool call and rubric."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JUDGE_SCHEMA",
    "Answer",
    "CheckResult",
    "Judge",
    "ToolCallMade",
    "judge_prompt",
    "run_check",
    "schema_errors",
]


@dataclass(frozen=True)
class ToolCallMade:
    """A tool call in an answer, its arguments as the JSON text the model sent."""

    name: str
    arguments: str


@dataclass(frozen=True)
class Answer:
    """What the service answered: text (or None) and tool calls."""

    text: str | None
    tool_calls: tuple[ToolCallMade, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """Whether one check passed, and why not."""

    type: str
    passed: bool
    detail: str = ""


Judge = Callable[[str], tuple[bool, str]]
"""Ask the judge model a prompt; return its verdict and reason."""

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # "pass" first: the fake provider answers a schema's first enum value, so a
        # rubric judged by the fake passes; it proves the judge round trip, not quality.
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "reason": {"type": "string"},
    },
    "required": ["verdict", "reason"],
    "additionalProperties": False,
}


def judge_prompt(*, rubric: str, question: str, answer: str) -> str:
    """Return the prompt that asks the judge whether an answer meets a rubric."""
    return (
        "You grade an assistant's answer against a rubric. Reply with JSON: "
        '{"verdict": "pass" or "fail", "reason": one sentence}.\n\n'
        f"Rubric:\n{rubric}\n\nQuestion:\n{question}\n\nAnswer:\n{answer}"
    )


def run_check(
    check: Mapping[str, Any], answer: Answer, *, question: str, judge: Judge | None
) -> CheckResult:
    """Return the result of one check of an answer."""
    kind = str(check["type"])
    try:
        passed, detail = _CHECKS[kind](check, answer, question, judge)
    except (KeyError, TypeError, ValueError, re.error) as error:
        return CheckResult(kind, False, f"bad check: {error!r}")
    return CheckResult(kind, passed, detail)


def _text(answer: Answer) -> str:
    return answer.text or ""


def _exact(check: Mapping[str, Any], answer: Answer, _q: str, _j: Judge | None) -> tuple[bool, str]:
    expected = str(check["value"])
    got = _text(answer).strip()
    return got == expected.strip(), "" if got == expected.strip() else f"got {got[:120]!r}"


def _contains(
    check: Mapping[str, Any], answer: Answer, _q: str, _j: Judge | None
) -> tuple[bool, str]:
    needle, text = str(check["value"]), _text(answer)
    if check.get("ignore_case", False):
        needle, text = needle.casefold(), text.casefold()
    return needle in text, "" if needle in text else f"{check['value']!r} not in the answer"


def _regex(check: Mapping[str, Any], answer: Answer, _q: str, _j: Judge | None) -> tuple[bool, str]:
    found = re.search(str(check["pattern"]), _text(answer)) is not None
    return found, "" if found else f"no match for {check['pattern']!r}"


def _json_schema(
    check: Mapping[str, Any], answer: Answer, _q: str, _j: Judge | None
) -> tuple[bool, str]:
    try:
        value = json.loads(_text(answer))
    except json.JSONDecodeError as error:
        return False, f"not JSON: {error}"
    errors = schema_errors(value, check["schema"])
    return not errors, "; ".join(errors[:3])


def _tool_call(
    check: Mapping[str, Any], answer: Answer, _q: str, _j: Judge | None
) -> tuple[bool, str]:
    name = str(check["name"])
    calls = [call for call in answer.tool_calls if call.name == name]
    if not calls:
        made = ", ".join(call.name for call in answer.tool_calls) or "none"
        return False, f"no call of {name!r} (calls: {made})"
    expected: Mapping[str, Any] = check.get("arguments", {})
    required: list[str] = list(check.get("required_arguments", []))
    problems: list[str] = []
    for call in calls:
        try:
            arguments = json.loads(call.arguments)
        except json.JSONDecodeError:
            problems.append(f"arguments are not JSON: {call.arguments[:80]!r}")
            continue
        if not isinstance(arguments, dict):
            problems.append("arguments are not a JSON object")
            continue
        missing = [key for key in required if key not in arguments]
        wrong = [key for key, value in expected.items() if arguments.get(key) != value]
        if not missing and not wrong:
            return True, ""
        problems.append(f"missing {missing}, different {wrong} in {arguments}")
    return False, "; ".join(problems)


def _rubric(
    check: Mapping[str, Any], answer: Answer, question: str, judge: Judge | None
) -> tuple[bool, str]:
    if judge is None:
        return False, "no judge"
    shown = _text(answer) or json.dumps([call.__dict__ for call in answer.tool_calls])
    return judge(judge_prompt(rubric=str(check["rubric"]), question=question, answer=shown))


_CHECKS: dict[str, Callable[[Mapping[str, Any], Answer, str, Judge | None], tuple[bool, str]]] = {
    "exact": _exact,
    "contains": _contains,
    "regex": _regex,
    "json_schema": _json_schema,
    "tool_call": _tool_call,
    "rubric": _rubric,
}

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
}
SUPPORTED_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum", "const"}
    | {"minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern"}
    | {"title", "description"}
)


def schema_errors(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Return why ``value`` does not match ``schema`` (a JSON Schema subset); empty: it does.

    A keyword outside the subset is an error, never silently ignored.
    """
    unsupported = sorted(set(schema) - SUPPORTED_KEYWORDS)
    if unsupported:
        return [f"{path}: unsupported schema keywords {unsupported}"]
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        if not any(_TYPES[name](value) for name in names):
            return [f"{path}: expected {'/'.join(names)}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str):
        errors.extend(_string_errors(value, schema, path))
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for index, item in enumerate(value):
                errors.extend(schema_errors(item, schema["items"], f"{path}[{index}]"))
    if isinstance(value, dict):
        errors.extend(_object_errors(value, schema, path))
    return errors


def _string_errors(value: str, schema: Mapping[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if len(value) < schema.get("minLength", 0):
        errors.append(f"{path}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']}")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        errors.append(f"{path}: does not match {schema['pattern']!r}")
    return errors


def _object_errors(value: dict[str, Any], schema: Mapping[str, Any], path: str) -> list[str]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    errors = [f"{path}: missing {key!r}" for key in schema.get("required", []) if key not in value]
    for key, item in value.items():
        if key in properties:
            errors.extend(schema_errors(item, properties[key], f"{path}.{key}"))
        elif schema.get("additionalProperties", True) is False:
            errors.append(f"{path}: unexpected {key!r}")
    return errors
