"""Session fixtures: each combination of answers is rendered once per test session."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import render

Renderer = Callable[[Mapping[str, Any]], Path]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    """Return a function that renders a combination of answers once and reuses it."""
    cache: dict[str, Path] = {}

    def _render(answers: Mapping[str, Any]) -> Path:
        key = json.dumps(dict(answers), sort_keys=True)
        if key not in cache:
            dst = tmp_path_factory.mktemp("project") / "service"
            cache[key] = render(dst, answers)
        return cache[key]

    return _render
