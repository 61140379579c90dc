"""Session fixtures: each combination of answers is rendered once per test session."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    REQUIRE_TOOLS_ENV,
    TERRAFORM_MIRROR_ENV,
    render,
    require_tool,
    terraform_cli_config,
    terraform_mirror,
)

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


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for offline Terraform: own CLI config, the mirror, one plugin cache."""
    require_tool("terraform")
    mirror = terraform_mirror()
    if mirror is None:
        message = f"no Terraform provider mirror with hashicorp/aws (set {TERRAFORM_MIRROR_ENV})"
        if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    home = tmp_path_factory.mktemp("terraform")
    cache = home / "plugin-cache"
    cache.mkdir()
    return {
        "TF_CLI_CONFIG_FILE": str(terraform_cli_config(home / "terraformrc", mirror)),
        "TF_PLUGIN_CACHE_DIR": str(cache),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }
