"""The eval scorers and the baseline gate, without a service or a network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.cases import DatasetError, load_cases, parse_case
from evals.compare import Thresholds, baseline_of, compare, load_baseline, load_thresholds, p95
from evals.runner import CaseResult
from evals.scoring import Answer, ToolCallMade, run_check, schema_errors

TICKET = {
    "type": "object",
    "properties": {"priority": {"type": "string", "enum": ["low", "high"]}},
    "required": ["priority"],
    "additionalProperties": False,
}


def _check(check: dict[str, Any], answer: Answer) -> bool:
    return run_check(check, answer, question="q", judge=None).passed


@pytest.mark.parametrize(
    ("check", "text", "passed"),
    [
        ({"type": "exact", "value": "pong"}, " pong\n", True),
        ({"type": "exact", "value": "pong"}, "pong!", False),
        ({"type": "contains", "value": "Harbor", "ignore_case": True}, "blue harbor", True),
        ({"type": "contains", "value": "Harbor"}, "blue harbor", False),
        ({"type": "regex", "pattern": r"\b42\b"}, "it is 42.", True),
        ({"type": "regex", "pattern": r"\b42\b"}, "it is 420", False),
        ({"type": "json_schema", "schema": TICKET}, '{"priority": "low"}', True),
        ({"type": "json_schema", "schema": TICKET}, '{"priority": "urgent"}', False),
        ({"type": "json_schema", "schema": TICKET}, '{"priority": "low", "x": 1}', False),
        ({"type": "json_schema", "schema": TICKET}, "not json", False),
    ],
)
def test_text_checks(check: dict[str, Any], text: str, passed: bool) -> None:
    assert _check(check, Answer(text)) is passed


def test_tool_call_check_matches_name_and_arguments() -> None:
    check = {"type": "tool_call", "name": "get_weather", "arguments": {"unit": "celsius"}}
    check["required_arguments"] = ["city"]
    good = ToolCallMade("get_weather", '{"city": "Paris", "unit": "celsius"}')
    assert _check(check, Answer(None, (good,)))
    wrong_unit = ToolCallMade("get_weather", '{"city": "Paris", "unit": "fahrenheit"}')
    assert not _check(check, Answer(None, (wrong_unit,)))
    no_city = ToolCallMade("get_weather", '{"unit": "celsius"}')
    assert not _check(check, Answer(None, (no_city,)))
    assert not _check(check, Answer("It is sunny."))


def test_rubric_asks_the_judge_and_fails_without_one() -> None:
    prompts: list[str] = []

    def judge(prompt: str) -> tuple[bool, str]:
        prompts.append(prompt)
        return False, "rude"

    check = {"type": "rubric", "rubric": "Polite."}
    result = run_check(check, Answer("Go away."), question="Hi?", judge=judge)
    assert (result.passed, result.detail) == (False, "rude")
    assert "Polite." in prompts[0]
    assert "Go away." in prompts[0]
    assert not run_check(check, Answer("Hello!"), question="Hi?", judge=None).passed


def test_schema_keywords_outside_the_subset_are_errors() -> None:
    assert schema_errors("x", {"type": "string", "format": "email"})
    assert schema_errors(True, {"type": "integer"})
    assert not schema_errors([1, 2], {"type": "array", "items": {"type": "integer"}})


def test_shipped_datasets_parse_and_a_bad_case_is_refused(tmp_path: Path) -> None:
    cases = load_cases()
    assert len({case.id for case in cases}) == len(cases)
    with pytest.raises(DatasetError, match="expect"):
        parse_case({"id": "a", "messages": [{"role": "user", "content": "x"}]}, dataset="d")
    (tmp_path / "bad.jsonl").write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:1"):
        load_cases(tmp_path)


def _result(case_id: str, score: float, tokens: int = 10, latency: float = 5.0) -> CaseResult:
    status = "passed" if score == 1.0 else "failed"
    return CaseResult(case_id, "d", status, score, latency, tokens, 0)


BASELINE = {"a": {"score": 1.0, "tokens": 10}, "b": {"score": 0.5, "tokens": 10}}


def test_a_score_drop_is_a_regression_naming_the_case() -> None:
    comparison = compare([_result("a", 0.5), _result("b", 0.5)], BASELINE, Thresholds())
    assert comparison.failed
    assert comparison.failing_cases == ["a"]


def test_an_improvement_is_not_flagged() -> None:
    comparison = compare([_result("a", 1.0), _result("b", 1.0, tokens=5)], BASELINE, Thresholds())
    assert not comparison.failed
    assert comparison.improved == ["b"]


def test_tokens_latency_and_missing_cases_are_regressions() -> None:
    thresholds = Thresholds(latency_p95_ms=100, max_tokens_increase=0.5)
    more_tokens = compare([_result("a", 1.0, tokens=16), _result("b", 0.5)], BASELINE, thresholds)
    assert more_tokens.failing_cases == ["a"]
    within = compare([_result("a", 1.0, tokens=15), _result("b", 0.5)], BASELINE, thresholds)
    assert not within.failed
    slow = compare([_result("a", 1.0, latency=500), _result("b", 0.5)], BASELINE, thresholds)
    assert slow.failing_cases == ["a"]
    assert compare([_result("a", 1.0)], BASELINE, thresholds).failing_cases == ["b"]
    skipped = CaseResult("b", "d", "skipped")
    assert not compare([_result("a", 1.0), skipped], BASELINE, thresholds).failed


def test_a_new_case_must_pass() -> None:
    results = [_result("a", 1.0), _result("b", 0.5), _result("c", 0.0)]
    assert compare(results, BASELINE, Thresholds()).failing_cases == ["c"]


def test_thresholds_are_parsed_and_checked(tmp_path: Path) -> None:
    shipped = load_thresholds()
    assert shipped.max_score_drop == 0.0
    assert shipped.latency_p95_ms > 0
    path = tmp_path / "thresholds.toml"
    path.write_text("[score]\nmax_drop = 0.1\n[latency]\np95_ms = 250\n", encoding="utf-8")
    parsed = load_thresholds(path)
    assert (parsed.max_score_drop, parsed.latency_p95_ms) == (0.1, 250.0)
    assert parsed.max_tokens_increase == Thresholds().max_tokens_increase
    path.write_text("[latency]\np95_ms = -1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="p95_ms"):
        load_thresholds(path)
    path.write_text("[latncy]\np95_ms = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown"):
        load_thresholds(path)


def test_the_committed_baseline_covers_every_case_the_fake_runs() -> None:
    ids = {case.id for case in load_cases() if case.provider != "real"}
    assert set(load_baseline()) == ids


def test_update_baseline_keeps_what_ran(tmp_path: Path) -> None:
    cases = [
        {"id": "b", "status": "passed", "score": 1.0, "tokens": 7},
        {"id": "a", "status": "skipped", "score": 0.0, "tokens": 0},
    ]
    assert baseline_of(cases) == {"cases": {"b": {"score": 1.0, "tokens": 7}}}
    assert json.loads(json.dumps(baseline_of(cases)))["cases"]["b"]["tokens"] == 7


def test_p95_is_the_nearest_rank() -> None:
    assert p95([]) == 0.0
    assert p95(list(range(1, 101))) == 95
    assert p95([3.0]) == 3.0
