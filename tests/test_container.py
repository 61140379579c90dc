"""The generated Dockerfile, .dockerignore and .hadolint.yaml: scanner-clean and consistent."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import (
    REPO_ROOT,
    DockerInstruction,
    answer_combinations,
    dockerfile_env,
    dockerfile_instructions,
    question_choices,
    require_tool,
    run,
)

Renderer = Callable[[Mapping[str, Any]], Path]

APP_UID = 10001
APP_PORT = 8000
SECURITY_DOC = REPO_ROOT / "docs" / "security.md"
DIGEST_REF = re.compile(r"^(?P<name>[\w./-]+):(?P<tag>[\w.-]+)@sha256:(?P<digest>[0-9a-f]{64})$")

# The defaults, and every python_version choice with the other answers at their defaults.
COMBINATIONS: list[dict[str, Any]] = [{}, *answer_combinations("python_version")]


def _ids(answers: Mapping[str, Any]) -> str:
    return "-".join(f"{key}={value}" for key, value in answers.items()) or "defaults"


@pytest.fixture(params=COMBINATIONS, ids=_ids)
def answers(request: pytest.FixtureRequest) -> dict[str, Any]:
    """One combination of answers that changes the container files."""
    return dict(request.param)


@pytest.fixture
def project(rendered: Renderer, answers: dict[str, Any]) -> Path:
    """The rendered project of that combination (shared: never mutate it)."""
    return rendered(answers)


def _instructions(project: Path, keyword: str) -> list[DockerInstruction]:
    return [i for i in dockerfile_instructions(project / "Dockerfile") if i.keyword == keyword]


def _exec_form(instruction: DockerInstruction) -> list[str]:
    arguments = instruction.arguments
    if instruction.keyword == "HEALTHCHECK":
        arguments = arguments[arguments.index("CMD ") + len("CMD ") :]
    value = json.loads(arguments)
    assert isinstance(value, list), f"{instruction} is not in exec form"
    return [str(item) for item in value]


def _option(command: list[str], name: str) -> str:
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def _runtime_stage(project: Path) -> int:
    return max(i.stage for i in dockerfile_instructions(project / "Dockerfile"))


# --- scanners ----------------------------------------------------------------------------


def test_hadolint_reports_nothing(project: Path) -> None:
    """hadolint, with the project's own config, finds nothing at any level."""
    hadolint = require_tool("hadolint")
    result = run([hadolint, "--config", ".hadolint.yaml", "--no-color", "Dockerfile"], cwd=project)
    assert result.stdout.strip() == ""


def test_trivy_reports_nothing_in_the_dockerfile(project: Path, tmp_path: Path) -> None:
    """Trivy's built-in Dockerfile checks, offline, find nothing at any severity."""
    trivy = require_tool("trivy")
    scan = tmp_path / "scan"
    scan.mkdir()
    shutil.copy(project / "Dockerfile", scan / "Dockerfile")
    result = run(
        [trivy, "config", "--skip-check-update", "--quiet", "--exit-code", "1",
         "--format", "json", "--cache-dir", tmp_path / "cache", scan],
        cwd=tmp_path,
    )  # fmt: skip
    summaries = {r["Target"]: r["MisconfSummary"] for r in json.loads(result.stdout)["Results"]}
    assert summaries["Dockerfile"]["Failures"] == 0
    assert summaries["Dockerfile"]["Successes"] > 0


def test_checkov_reports_nothing_in_any_dockerfile(rendered: Renderer, tmp_path: Path) -> None:
    """checkov's Dockerfile checks, offline, fail and skip none, for every Python version.

    One checkov run covers every combination (a directory each): its start-up dominates.
    """
    checkov = require_tool("checkov")
    scan = tmp_path / "scan"
    for combination in COMBINATIONS:
        (scan / _ids(combination)).mkdir(parents=True)
        shutil.copy(rendered(combination) / "Dockerfile", scan / _ids(combination))
    result = run(
        [checkov, "-d", scan, "--framework", "dockerfile", "--skip-download",
         "--compact", "-o", "json"],
        cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["check_type"] == "dockerfile"
    assert report["summary"]["failed"] == 0, report["results"]["failed_checks"]
    assert report["summary"]["skipped"] == 0
    assert report["summary"]["resource_count"] == len(COMBINATIONS)
    assert report["summary"]["passed"] > 0


# --- what the Dockerfile promises ----------------------------------------------------------


def test_base_images_are_pinned_by_tag_and_digest(project: Path) -> None:
    """Every FROM names an image by tag and sha256 digest, or an earlier stage."""
    stages: set[str] = set()
    python_tags: set[str] = set()
    for instruction in _instructions(project, "FROM"):
        image, _, alias = instruction.arguments.partition(" AS ")
        if image not in stages:
            match = DIGEST_REF.match(image)
            assert match, f"{image} is not pinned by tag and digest"
            if match["name"] == "python":
                python_tags.add(match["tag"])
        stages.add(alias.strip())
    python_version = _answer(project, "python_version")
    assert python_tags == {f"{python_version}-slim-trixie"}
    build_arg = next(i for i in _instructions(project, "ARG") if "PYTHON_VERSION" in i.arguments)
    assert build_arg.arguments == f"PYTHON_VERSION={python_version}"


def test_uv_comes_from_the_official_image_and_installs_the_lock(project: Path) -> None:
    """uv is copied from ghcr.io/astral-sh/uv; dependencies install locked, before the source."""
    froms = [i.arguments for i in _instructions(project, "FROM")]
    assert any(f.startswith("ghcr.io/astral-sh/uv:") and f.endswith(" AS uv") for f in froms)
    instructions = dockerfile_instructions(project / "Dockerfile")
    syncs = [i for i in instructions if i.keyword == "RUN" and "uv sync" in i.arguments]
    assert len(syncs) == 2
    deps, project_install = syncs
    for sync in syncs:
        assert "--locked" in sync.arguments
        assert "--no-dev" in sync.arguments
    assert "--no-install-project" in deps.arguments
    # Bind mounts need absolute targets: a relative one is resolved against WORKDIR only
    # by some builders.
    targets = re.findall(r"target=(\S+)", deps.arguments)
    assert targets
    assert all(target.startswith("/") for target in targets)
    copy_src = next(
        n
        for n, i in enumerate(instructions)
        if i.keyword == "COPY" and i.arguments.startswith("src")
    )
    assert instructions.index(deps) < copy_src < instructions.index(project_install)
    env = " ".join(i.arguments for i in _instructions(project, "ENV"))
    assert "UV_COMPILE_BYTECODE=1" in env
    assert "UV_LINK_MODE=copy" in env


def test_runtime_stage_gets_only_the_virtual_environment(project: Path) -> None:
    """The runtime stage copies the venv from the builder and nothing from the context."""
    runtime = _runtime_stage(project)
    copies = [i.arguments for i in _instructions(project, "COPY") if i.stage == runtime]
    assert copies == ["--from=builder /app/.venv /app/.venv"]


def test_runtime_code_is_owned_by_root_and_read_only_to_the_service(project: Path) -> None:
    """No instruction of the runtime stage hands files to the service user or loosens modes.

    COPY without --chown keeps the builder's owner, root; the builder's files are 0644 and
    directories 0755, so user 10001 can read and run the code but not change it.
    """
    runtime = _runtime_stage(project)
    instructions = [
        i for i in dockerfile_instructions(project / "Dockerfile") if i.stage == runtime
    ]
    for instruction in instructions:
        if instruction.keyword in {"COPY", "ADD"}:
            assert "--chown" not in instruction.arguments, instruction
            assert "--chmod" not in instruction.arguments, instruction
        if instruction.keyword == "RUN":
            assert not re.search(r"\b(chown|chmod)\b", instruction.arguments), instruction
    user_at = next(n for n, i in enumerate(instructions) if i.keyword == "USER")
    assert all(i.keyword != "COPY" for i in instructions[user_at:]), "code copied as the user"
    env = dockerfile_env(project / "Dockerfile")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_runs_as_the_numeric_non_root_user(project: Path) -> None:
    """USER is numeric 10001:10001, the last USER, and matches the created account."""
    users = _instructions(project, "USER")
    assert users[-1].arguments == f"{APP_UID}:{APP_UID}"
    assert users[-1].stage == _runtime_stage(project)
    created = " ".join(i.arguments for i in _instructions(project, "RUN"))
    assert f"--uid {APP_UID}" in created
    assert f"--gid {APP_UID}" in created


def test_cmd_runs_the_service_in_exec_form(project: Path) -> None:
    """CMD is exec form and runs the package: port 8000, proxy headers, bounded shutdown."""
    package = _answer(project, "package_name")
    command = _exec_form(_instructions(project, "CMD")[-1])
    assert command == ["python", "-m", package]
    env = dockerfile_env(project / "Dockerfile")
    assert env["HOST"] == "0.0.0.0"
    assert int(env["PORT"]) == APP_PORT
    assert 0 < int(env["SHUTDOWN_TIMEOUT_SECONDS"]) <= 60
    entry = (project / "src" / package / "__main__.py").read_text(encoding="utf-8")
    assert "proxy_headers=True" in entry
    assert "timeout_graceful_shutdown=settings.shutdown_timeout_seconds" in entry
    assert [i.arguments for i in _instructions(project, "EXPOSE")] == [str(APP_PORT)]


def test_healthcheck_uses_the_standard_library(project: Path) -> None:
    """HEALTHCHECK calls /healthz on the served port with Python, not curl or wget."""
    (healthcheck,) = _instructions(project, "HEALTHCHECK")
    command = _exec_form(healthcheck)
    assert command[:2] == ["python", "-c"]
    assert f"127.0.0.1:{APP_PORT}/healthz" in command[2]
    assert "urllib.request" in command[2]
    everything = " ".join(map(str, dockerfile_instructions(project / "Dockerfile")))
    assert "curl" not in everything
    assert "wget" not in everything


def test_no_secrets_in_build_args_or_env(project: Path) -> None:
    """No ARG or ENV name suggests a secret; secrets arrive at run time as files."""
    suspicious = re.compile(r"(SECRET|TOKEN|PASSWORD|API_KEY|CREDENTIAL)", re.IGNORECASE)
    for instruction in _instructions(project, "ARG") + _instructions(project, "ENV"):
        names = re.findall(r"(\w+)=", instruction.arguments) or [instruction.arguments]
        assert not [n for n in names if suspicious.search(n)], instruction


def test_oci_labels(project: Path) -> None:
    """The image carries the OCI labels, and base.digest matches the runtime base image."""
    (label,) = _instructions(project, "LABEL")
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[\w.]+)="([^"]*)"', label.arguments))
    for key in ("title", "description", "authors", "version", "revision", "base.name"):
        assert f"org.opencontainers.image.{key}" in labels
    runtime_from = _instructions(project, "FROM")[-1].arguments.partition(" AS ")[0]
    assert runtime_from.endswith("@" + labels["org.opencontainers.image.base.digest"])


# --- .dockerignore and .hadolint.yaml --------------------------------------------------------


def _dockerignored(patterns: list[str], path: str) -> bool:
    """Evaluate .dockerignore rules the way Docker does: the last matching rule wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")]
        if any(
            fnmatch.fnmatchcase(prefix, candidate)
            or (candidate != pattern and fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], candidate))
            for prefix in prefixes
            for candidate in candidates
        ):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_local_state_out_and_build_inputs_in(project: Path) -> None:
    """.venv, .git, tests, caches and env files stay out; everything COPY needs gets in."""
    lines = (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (
        ".venv/bin/python", ".git/config", "tests/test_api.py", ".pytest_cache/v",
        ".mypy_cache/x", ".ruff_cache/x", ".env", ".env.local", "src/pkg/.env",
        "src/pkg/__pycache__/main.cpython-312.pyc", "deploy/kustomize/base/deployment.yaml",
        "Dockerfile", ".github/workflows/ci.yml",
    ):  # fmt: skip
        assert _dockerignored(patterns, path), f"{path} would reach the build context"
    sources: list[str] = []
    for instruction in _instructions(project, "COPY"):
        if "--from=" not in instruction.arguments:
            sources += instruction.arguments.split()[:-1]
    sources += re.findall(r"source=([^,\s]+)", (project / "Dockerfile").read_text("utf-8"))
    assert sources
    for source in [*sources, "src/pkg/main.py"]:
        assert not _dockerignored(patterns, source.rstrip("/")), f"{source} is ignored"


def test_hadolint_config_fails_on_everything_and_trusts_only_used_registries(
    project: Path,
) -> None:
    """Threshold at the lowest level, no blanket ignores, registries limited to those used."""
    config = yaml.safe_load((project / ".hadolint.yaml").read_text(encoding="utf-8"))
    assert config["failure-threshold"] == "style"
    assert not config.get("ignored")
    registries = set()
    for instruction in _instructions(project, "FROM"):
        image = instruction.arguments.partition(" AS ")[0]
        if DIGEST_REF.match(image):
            first, slash, _ = image.partition("/")
            registries.add(first if slash and ("." in first or ":" in first) else "docker.io")
    assert set(config["trustedRegistries"]) == registries


# --- the template itself ---------------------------------------------------------------------


def test_every_pinned_image_is_documented() -> None:
    """docs/security.md lists each image reference the template pins, tag and digest."""
    template = (REPO_ROOT / "template" / "Dockerfile.jinja").read_text(encoding="utf-8")
    pinned = re.findall(r'"([\w./-]+:[\w.-]+@sha256:[0-9a-f]{64})"', template)
    assert len(pinned) == len(question_choices("python_version")) + 1
    documented = SECURITY_DOC.read_text(encoding="utf-8")
    for reference in pinned:
        assert reference in documented, f"{reference} is not listed in docs/security.md"


def _answer(project: Path, name: str) -> Any:
    """The answer a project was rendered with, from its .copier-answers.yml."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return answers[name]
