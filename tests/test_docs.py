"""The docs stay true to copier.yml and the README keeps its two set-up commands."""

from __future__ import annotations

import re

from tests.helpers import REPO_ROOT, questions


def test_questions_page_lists_every_question_with_its_help() -> None:
    page = (REPO_ROOT / "docs" / "questions.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", page, re.M)}
    for name, spec in questions().items():
        assert name in rows, f"docs/questions.md does not list {name}"
        assert rows[name].strip() == spec["help"], f"help of {name} differs from copier.yml"
    assert set(rows) == set(questions()), "docs/questions.md lists a question copier.yml lacks"


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_same_tests() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^\$ (.+)$", quick_start, re.M)
    assert commands == ["uv run goldpath new ../my-service --defaults", "uv run pytest"]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^uv run pytest$", ci, re.M)
    assert "GOLDPATH_REQUIRE_TOOLS=1" in ci
