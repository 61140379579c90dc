"""The documentation site builds with no warnings, and its questions page is copier.yml's."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import pytest

from tests.conftest import Renderer
from tests.helpers import (
    REPO_ROOT,
    load_yaml_documents,
    question_choices,
    questions,
    require_tool,
    run,
)


class _TableRows(HTMLParser):
    """Collect the text of each table row's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in {"td", "th"}:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site the way a maintainer does, strict: any warning fails the build."""
    mkdocs = require_tool("mkdocs")
    out = tmp_path_factory.mktemp("site")
    result = run(
        [mkdocs, "build", "--strict", "--config-file", REPO_ROOT / "mkdocs.yml", "--site-dir", out],
        cwd=REPO_ROOT,
        env={"NO_MKDOCS_2_WARNING": "1"},
    )
    assert "WARNING" not in result.stderr, result.stderr
    return out


def test_every_docs_page_is_built(site: Path) -> None:
    pages = sorted(p.stem for p in (REPO_ROOT / "docs").glob("*.md"))
    missing = [
        page
        for page in pages
        if not (site / ("index.html" if page == "index" else f"{page}/index.html")).is_file()
    ]
    assert not missing, f"docs pages missing from the built site: {missing}"


def _question_rows(site: Path) -> dict[str, list[str]]:
    parser = _TableRows()
    parser.feed((site / "questions" / "index.html").read_text(encoding="utf-8"))
    rows = [row for row in parser.rows if row and row[0] != "question"]
    return {row[0].split("\n")[0].strip(): row for row in rows}


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_questions_page_lists_every_question_with_help_and_default(
    site: Path, rendered: Renderer
) -> None:
    rows = _question_rows(site)
    assert set(rows) == set(questions()), "the questions page and copier.yml disagree"
    # The defaults copier itself computes (templated ones included), as a user gets them.
    defaults = load_yaml_documents(
        (rendered({}) / ".copier-answers.yml").read_text(encoding="utf-8")
    )[0]
    for name, spec in questions().items():
        _, help_cell, default_cell, choices_cell = rows[name]
        assert help_cell.split("\n")[0] == spec["help"], f"help of {name}"
        shown_defaults = [line.split(" (")[0].strip() for line in default_cell.split("\n")]
        # A question not asked with the defaults (its when is false) shows its own default,
        # computed from the other defaults where it is templated (prometheus_url).
        default = defaults[name] if name in defaults else spec["default"]
        if name not in defaults and isinstance(default, str) and "{%" in default:
            default = jinja2.Template(default).render(**defaults)
        assert _shown(default) == shown_defaults[0], f"default of {name}: {default_cell}"
        if "choices" in spec:
            listed = [line.split(":")[0].split(", ") for line in choices_cell.split("\n")]
            flat = [value for line in listed for value in line]
            assert flat == [str(c) for c in question_choices(name)], f"choices of {name}"
        if isinstance(spec.get("when"), str):
            assert "Asked only when" in help_cell, f"{name} is conditional"
