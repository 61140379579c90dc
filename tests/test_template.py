"""The template renders every combination of answers cleanly (no copier CLI, no goldpath)."""

from __future__ import annotations

import keyword
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Renderer
from tests.helpers import (
    REPO_ROOT,
    answer_combinations,
    asked,
    question_choices,
    questions,
    unrendered_jinja,
)

MATRIX = answer_combinations("llm_provider", "python_version")
SDK_BY_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "bedrock": "boto3"}


def _ids(combo: dict[str, Any]) -> str:
    return "-".join(f"{value}" for value in combo.values())


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]


@pytest.mark.parametrize("combo", MATRIX, ids=_ids)
def test_every_combination_renders_cleanly(rendered: Renderer, combo: dict[str, Any]) -> None:
    project = rendered(combo)
    files = _files(project)
    assert not [f for f in files if f.suffix == ".jinja"], "leftover .jinja files"
    for path in files:
        text = path.read_text(encoding="utf-8")
        leftover = unrendered_jinja(text)
        assert leftover is None, f"unrendered Jinja {leftover!r} in {path.relative_to(project)}"

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    expected = {name for name, spec in questions().items() if asked(spec, answers)}
    assert expected <= set(answers), "every question asked is recorded in the answers file"
    assert answers["llm_provider"] == combo["llm_provider"]

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == answers["project_slug"]
    assert pyproject["project"]["requires-python"] == f">={combo['python_version']}"
    assert (project / ".python-version").read_text().strip() == combo["python_version"]
    deps = " ".join(pyproject["project"]["dependencies"])
    for provider, sdk in SDK_BY_PROVIDER.items():
        assert (f'"{sdk}' in f'"{deps}' or f" {sdk}>" in deps) == (
            provider == combo["llm_provider"]
        )

    providers = project / "src" / answers["package_name"] / "providers"
    modules = {p.stem for p in providers.glob("*.py") if not p.stem.startswith("_")}
    adapters = modules - {"base", "fake", "resilience"}
    assert len(adapters) == 1
    assert adapters.pop().startswith(combo["llm_provider"])


@pytest.mark.parametrize("backend", question_choices("state_backend"))
def test_state_backend_answer_adds_or_leaves_out_redis(rendered: Renderer, backend: str) -> None:
    project = rendered({"state_backend": backend})
    redis = backend == "redis"
    package = (
        project
        / "src"
        / yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    )
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.startswith("redis>=") for d in pyproject["project"]["dependencies"]) == redis
    assert (package / "limits" / "redis.py").exists() == redis
    assert (package / "limits" / "memory.py").exists(), "memory stays for local runs and tests"
    assert (project / "tests" / "redis_server.py").exists() == redis
    config = (package / "config.py").read_text(encoding="utf-8")
    assert f'default="{backend}"' in config
    env_example = (project / ".env.example").read_text(encoding="utf-8")
    assert ("REDIS_URL=redis://127.0.0.1:6379/0" in env_example) == redis
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert ("redis-server" in readme) == redis
    workflow = (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert ("apt-get install" in workflow and "redis-server" in workflow) == redis


@pytest.mark.parametrize("otel", [True, False])
def test_otel_answer_adds_or_leaves_out_opentelemetry(rendered: Renderer, otel: bool) -> None:
    project = rendered({"otel": otel})
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert ("opentelemetry-sdk" in pyproject) == otel
    telemetry = (project / "src" / "my_genai_service" / "telemetry.py").read_text()
    assert ("from opentelemetry import trace" in telemetry) == otel


def test_defaults_derive_names_from_the_project_name(rendered: Renderer) -> None:
    project = rendered({"project_name": "Claims Assistant (EU) v2!"})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["project_slug"] == "claims-assistant-eu-v2"
    assert answers["package_name"] == "claims_assistant_eu_v2"
    assert (project / "src" / "claims_assistant_eu_v2" / "main.py").is_file()


def test_default_model_follows_the_provider(rendered: Renderer) -> None:
    models = set()
    for provider in SDK_BY_PROVIDER:
        project = rendered({"llm_provider": provider})
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
        models.add(answers["default_model"])
        config = (project / "src" / "my_genai_service" / "config.py").read_text()
        assert f'default_model: str = "{answers["default_model"]}"' in config
    assert len(models) == len(SDK_BY_PROVIDER)


def test_reserved_names_cover_keywords_and_this_pythons_stdlib() -> None:
    spec = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
    reserved = set(spec["reserved_python_names"]["default"])
    expected = {
        name
        for name in {*sys.stdlib_module_names, *keyword.kwlist, *keyword.softkwlist}
        if re.fullmatch(r"[a-z][a-z0-9_]*", name)
    }
    assert expected <= reserved, sorted(expected - reserved)


def test_every_question_has_help_and_a_default() -> None:
    for name, spec in questions().items():
        assert spec.get("help"), f"{name} has no help"
        assert "default" in spec, f"{name} has no default"
