"""Run eval cases against the service through the official ``openai`` client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import openai

from .cases import Case
from .scoring import JUDGE_SCHEMA, Answer, CheckResult, ToolCallMade, run_check

__all__ = ["CaseResult", "Prices", "Target", "detect_target", "run_case", "run_cases"]


@dataclass(frozen=True)
class Prices:
    """USD per million tokens, for the cost column; zero: no cost is reported."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Return the USD cost of a call."""
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


@dataclass(frozen=True)
class Target:
    """The service under test: its default model and whether it runs the fake provider."""

    model: str
    judge_model: str
    fake: bool


@dataclass
class CaseResult:
    """The outcome of one case: score (passed checks / checks), latency and tokens."""

    id: str
    dataset: str
    status: str  # "passed", "failed", "error" or "skipped"
    score: float = 0.0
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judge_tokens: int = 0
    cost_usd: float = 0.0
    answer: str = ""
    error: str = ""
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        """Return the tokens the case's own call used (the judge's are counted apart)."""
        return self.prompt_tokens + self.completion_tokens


def detect_target(client: openai.OpenAI, *, model: str | None, judge_model: str | None) -> Target:
    """Return the target; the first listed model is the service's ``DEFAULT_MODEL``."""
    models = list(client.models.list())
    if not models:
        raise RuntimeError("the service lists no models")
    chosen = model or models[0].id
    # The service reports its provider as each model's owner.
    return Target(chosen, judge_model or chosen, fake=models[0].owned_by == "fake")


def run_cases(
    client: openai.OpenAI, cases: Iterable[Case], *, target: Target, prices: Prices
) -> list[CaseResult]:
    """Run every case in order; a case for the other kind of provider is skipped."""
    results: list[CaseResult] = []
    for case in cases:
        wanted = case.provider
        if (wanted == "fake" and not target.fake) or (wanted == "real" and target.fake):
            results.append(CaseResult(case.id, case.dataset, "skipped"))
            continue
        results.append(run_case(client, case, target=target, prices=prices))
    return results


def run_case(client: openai.OpenAI, case: Case, *, target: Target, prices: Prices) -> CaseResult:
    """Call the service with the case's request and score the answer."""
    result = CaseResult(case.id, case.dataset, "error")
    started = time.perf_counter()
    try:
        answer, prompt_tokens, completion_tokens = _ask(client, case, target.model)
    except openai.OpenAIError as error:
        result.latency_ms = (time.perf_counter() - started) * 1000
        result.error = f"{type(error).__name__}: {error}"[:500]
        return result
    result.latency_ms = (time.perf_counter() - started) * 1000
    result.prompt_tokens, result.completion_tokens = prompt_tokens, completion_tokens
    result.cost_usd = prices.cost(prompt_tokens, completion_tokens)
    result.answer = answer.text if answer.text is not None else _calls_text(answer)
    question = next(
        (str(m.get("content", "")) for m in reversed(case.messages) if m.get("role") == "user"), ""
    )

    def judge(prompt: str) -> tuple[bool, str]:
        passed, reason, tokens = _judge(client, target.judge_model, prompt)
        result.judge_tokens += tokens
        return passed, reason

    result.checks = [run_check(c, answer, question=question, judge=judge) for c in case.expect]
    result.score = sum(check.passed for check in result.checks) / len(result.checks)
    result.status = "passed" if result.score == 1.0 else "failed"
    return result


def _calls_text(answer: Answer) -> str:
    return json.dumps([{"name": c.name, "arguments": c.arguments} for c in answer.tool_calls])


def _request(case: Case) -> dict[str, Any]:
    """Return the optional request fields the case sets; the rest keep the API's defaults."""
    request: dict[str, Any] = {}
    for key in ("tools", "tool_choice", "response_format", "max_tokens"):
        value = getattr(case, key)
        if value is not None:
            request[key] = value
    return request


def _ask(client: openai.OpenAI, case: Case, model: str) -> tuple[Answer, int, int]:
    """Return the answer and its prompt and completion tokens."""
    messages: Any = case.messages
    if not case.stream:
        completion = client.chat.completions.create(
            model=model, messages=messages, stream=False, **_request(case)
        )
        message = completion.choices[0].message
        calls = tuple(
            ToolCallMade(call.function.name, call.function.arguments)
            for call in message.tool_calls or []
            if call.type == "function"
        )
        usage = completion.usage
        tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        return Answer(message.content, calls), *tokens
    stream = client.chat.completions.create(
        model=model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        **_request(case),
    )
    text: list[str] = []
    names: dict[int, str] = {}
    arguments: dict[int, list[str]] = {}
    prompt_tokens = completion_tokens = 0
    for chunk in stream:
        if chunk.usage is not None:
            prompt_tokens, completion_tokens = (
                chunk.usage.prompt_tokens,
                chunk.usage.completion_tokens,
            )
        for choice in chunk.choices:
            if choice.delta.content:
                text.append(choice.delta.content)
            for delta in choice.delta.tool_calls or []:
                if delta.function is not None and delta.function.name:
                    names[delta.index] = delta.function.name
                if delta.function is not None and delta.function.arguments:
                    arguments.setdefault(delta.index, []).append(delta.function.arguments)
    calls = tuple(ToolCallMade(names[i], "".join(arguments.get(i, []))) for i in sorted(names))
    return Answer("".join(text) if text else None, calls), prompt_tokens, completion_tokens


def _judge(client: openai.OpenAI, model: str, prompt: str) -> tuple[bool, str, int]:
    """Ask the judge model for a verdict as JSON; return it, its reason and the tokens."""
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": JUDGE_SCHEMA, "strict": True},
    }
    completion = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        response_format=response_format,
        temperature=0,
    )
    tokens = completion.usage.total_tokens if completion.usage else 0
    content = completion.choices[0].message.content or ""
    try:
        verdict = json.loads(content)
    except json.JSONDecodeError:
        return False, f"the judge did not answer JSON: {content[:120]!r}", tokens
    if not isinstance(verdict, dict) or verdict.get("verdict") not in ("pass", "fail"):
        return False, f"the judge answered no verdict: {content[:120]!r}", tokens
    return verdict["verdict"] == "pass", str(verdict.get("reason", "")), tokens
