"""The docs stay true to copier.yml and the README keeps its two set-up commands."""

from __future__ import annotations

import html
import importlib.util
import re
from types import ModuleType

import yaml

from tests.helpers import REPO_ROOT, questions


def _questions_hook() -> ModuleType:
    """Import the MkDocs hook that renders the questions table (docs/hooks is no package)."""
    path = REPO_ROOT / "docs" / "hooks" / "questions.py"
    spec = importlib.util.spec_from_file_location("docs_hooks_questions", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_questions_page_is_generated_from_copier_yml() -> None:
    hook = _questions_hook()
    page = (REPO_ROOT / "docs" / "questions.md").read_text(encoding="utf-8")
    assert hook.MARKER in page, "docs/questions.md lost the marker the hook replaces"
    assert not re.search(r"^\| `\w+` \|", page, re.M), "a hand-written questions table is back"
    table = hook.questions_table(REPO_ROOT / "copier.yml")
    for name, spec in questions().items():
        assert f"<td><code>{name}</code>" in table, f"the generated table lacks {name}"
        assert html.escape(spec["help"], quote=False) in table, f"help of {name} is missing"
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert "docs/hooks/questions.py" in config["hooks"]


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_same_tests() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    installed, clone = quick_start.split("### In a clone of this repository", 1)
    assert "uv tool install goldpath" in installed, "the installed-tool path comes first"
    commands = re.findall(r"^\$ (.+)$", clone, re.M)
    assert commands == [
        "uv run goldpath new ../my-service --defaults --unreleased",
        "uv run pytest",
    ]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^uv run pytest$", ci, re.M)
    assert "GOLDPATH_REQUIRE_TOOLS=1" in ci
