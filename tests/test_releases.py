"""The life-cycle as a team lives it, offline: goldpath installed from release wheels.

A throwaway canonical repository (a bare git repository reached by a ``file://`` URL)
holds this goldpath with its canonical source pointed there, released as v1.0.0 and
v1.1.0 (v1.1.0 changes a service file, a workflow and pyproject.toml, and adds a
migration). Each release's wheel is built at its tag and installed in a fresh virtual
environment; no clone of goldpath is on the path when the installed tool runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from goldpath.settings import EXIT_BEHIND, EXIT_CONFLICTS, EXIT_UNKNOWN
from tests.helpers import (
    NEW_DOCSTRING,
    PACKAGE,
    REPO_ROOT,
    _release_v1_1,
    answers_of,
    commit_all,
    git,
    require_tool,
    run,
)

pytestmark = pytest.mark.slow

_SETTINGS = "src/goldpath/settings.py"
_SOURCES = ["pyproject.toml", "uv.lock", "README.md", "CHANGELOG.md", "copier.yml"]
_CI_WORKFLOW = "template/{% if ci == 'github' %}.github{% endif %}/workflows/ci.yml.jinja"
_WORKFLOW_LINE = "# Lint, types and tests on every push and pull request (template v1.1.0).\n"


@dataclass(frozen=True)
class Canonical:
    """The canonical repository and a goldpath installed from each release's wheel."""

    url: str
    bare: Path
    tools: dict[str, Path]
    """Release tag -> the installed goldpath executable."""
    work: Path


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a user's shell: no goldpath settings, no source tree on the path."""
    drop = {"GOLDPATH_TEMPLATE", "GOLDPATH_PRESET", "PYTHONPATH", "VIRTUAL_ENV", "PYENV_VERSION"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, **(extra or {})}


def _goldpath(tool: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool), *map(str, args)],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _copy_goldpath(dst: Path, canonical_url: str) -> None:
    """Copy this goldpath (package, template, lock) with its canonical source set to the URL."""
    dst.mkdir(parents=True)
    for name in _SOURCES:
        shutil.copy2(REPO_ROOT / name, dst / name)
    ignore = shutil.ignore_patterns("__pycache__", "_version.py", "*.pyc")
    shutil.copytree(REPO_ROOT / "src", dst / "src", ignore=ignore)
    shutil.copytree(REPO_ROOT / "template", dst / "template", ignore=ignore)
    settings = dst / _SETTINGS
    text = settings.read_text()
    line = next(x for x in text.splitlines() if x.startswith("CANONICAL_TEMPLATE = "))
    settings.write_text(text.replace(line, f'CANONICAL_TEMPLATE = "{canonical_url}"'))
    (dst / ".gitignore").write_text("dist/\n.venv/\nsrc/goldpath/_version.py\n__pycache__/\n")


def _install(wheel_dir: Path, venv: Path) -> Path:
    uv = require_tool("uv")
    run([uv, "venv", "--quiet", "--python", "3.11", str(venv)], cwd=venv.parent)
    (wheel,) = wheel_dir.glob("goldpath-*.whl")
    run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel)],
        cwd=venv.parent)  # fmt: skip
    return venv / "bin" / "goldpath"


def _build(bare: Path, ref: str, into: Path) -> Path:
    """Clone the canonical repository at ``ref`` and build its wheel there."""
    uv = require_tool("uv")
    checkout = into / "checkout"
    run(["git", "clone", "--quiet", bare.as_uri(), str(checkout)], cwd=into)
    git(checkout, "checkout", "--quiet", ref)
    run([uv, "build", "--wheel", "--quiet", "--out-dir", str(into / "dist")], cwd=checkout,
        env={"UV_NO_CONFIG": "1"})  # fmt: skip
    return into / "dist"


@pytest.fixture(scope="module")
def canonical(tmp_path_factory: pytest.TempPathFactory) -> Canonical:
    """Release v1.0.0 and v1.1.0 to a bare canonical repository; install each one's wheel."""
    require_tool("uv")
    work = tmp_path_factory.mktemp("releases")
    bare = work / "canonical.git"
    run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(bare)], cwd=work)
    dev = work / "dev"
    _copy_goldpath(dev, bare.as_uri())
    git(dev, "init", "--quiet", "--initial-branch=main")
    commit_all(dev, "goldpath 1.0.0")
    git(dev, "tag", "-a", "v1.0.0", "-m", "goldpath 1.0.0")
    _release_v1_1(dev)
    workflow = dev / _CI_WORKFLOW
    workflow.write_text(workflow.read_text() + _WORKFLOW_LINE)
    changelog = dev / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace(
        "## Unreleased", "## v1.1.0 (2026-11-30)\n\n- The on-call page arrives; .env.sample.\n\n"
        "## v1.0.0 (2026-11-01)", 1))  # fmt: skip
    commit_all(dev, "goldpath 1.1.0")
    git(dev, "tag", "v1.1.0")  # a lightweight tag works as well as an annotated one
    git(dev, "remote", "add", "origin", bare.as_uri())
    git(dev, "push", "--quiet", "origin", "main", "--tags")
    tools = {}
    for tag in ("v1.0.0", "v1.1.0"):
        build = work / f"build-{tag}"
        build.mkdir()
        tools[tag] = _install(_build(bare, tag, build), work / f"venv-{tag}")
    return Canonical(url=bare.as_uri(), bare=bare, tools=tools, work=work)


@pytest.fixture(scope="module")
def v1_project(canonical: Canonical) -> Path:
    """A repository made by the installed v1.0.0 goldpath, with the team's edits committed."""
    home = canonical.work / "home"
    home.mkdir()
    result = _goldpath(canonical.tools["v1.0.0"], "new", "svc", "--defaults", cwd=home)
    assert result.returncode == 0, result.stderr
    project = home / "svc"
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Team notes\n\nOn call: #genai-oncall\n")
    commit_all(project, "team notes")
    return project


@pytest.fixture
def project(v1_project: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "svc"
    shutil.copytree(v1_project, copy, symlinks=True)
    return copy


def test_the_wheel_built_at_a_tag_reports_that_release(canonical: Canonical) -> None:
    for tag, tool in canonical.tools.items():
        result = _goldpath(tool, "--version", cwd=canonical.work)
        assert result.stdout.strip() == f"goldpath {tag.removeprefix('v')}"
        bundled = tool.parent.parent / "lib"
        (copier_yml,) = bundled.glob("python3*/site-packages/goldpath/_template/copier.yml")
        assert ("version: v1.1.0" in copier_yml.read_text()) == (tag == "v1.1.0")


def test_new_from_the_wheel_records_the_canonical_source_and_release(
    v1_project: Path,
    canonical: Canonical,
) -> None:
    answers = answers_of(v1_project)
    assert answers["_src_path"] == canonical.url
    assert answers["_commit"] == "v1.0.0"
    assert (v1_project / "uv.lock").is_file()
    assert git(v1_project, "status", "--porcelain") == ""


def test_check_update_check_with_the_new_release_installed(
    project: Path,
    canonical: Canonical,
) -> None:
    v1, v2 = canonical.tools["v1.0.0"], canonical.tools["v1.1.0"]
    result = _goldpath(v1, "check", "--json", cwd=project)
    assert result.returncode == EXIT_BEHIND, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["current"], report["latest"]) == ("behind", "v1.0.0", "v1.1.0")
    assert report["latest_commit"] == git(canonical.bare, "rev-parse", "v1.1.0^{commit}").strip()

    result = _goldpath(v2, "update", cwd=project)

    assert result.returncode == 0, result.stderr
    assert "from v1.0.0 to v1.1.0" in result.stdout
    assert "On call: #genai-oncall" in (project / "README.md").read_text()
    assert NEW_DOCSTRING in (project / "src" / PACKAGE / "api" / "routes" / "health.py").read_text()
    assert (project / ".env.sample").is_file(), "the v1.1.0 migration ran"
    assert not (project / ".env.example").exists()
    assert (project / ".github" / "workflows" / "ci.yml").read_text().endswith(_WORKFLOW_LINE)
    run([require_tool("uv"), "lock", "--check"], cwd=project)
    assert answers_of(project) | {"_src_path": canonical.url} == answers_of(project)
    assert answers_of(project)["_commit"] == "v1.1.0"
    commit_all(project, "update the template to v1.1.0")
    result = _goldpath(v2, "check", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "current" in result.stdout


def test_an_older_goldpath_hands_the_update_to_the_target_release(
    project: Path,
    canonical: Canonical,
) -> None:
    """goldpath 1.0.0 does not update to v1.1.0 itself: uv installs goldpath from the
    canonical source at the commit of v1.1.0, which checks it is that release and updates."""
    result = _goldpath(canonical.tools["v1.0.0"], "update", "--no-lock", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "from v1.0.0 to v1.1.0" in result.stdout
    assert (project / ".env.sample").is_file(), "v1.1.0's migration ran"
    assert answers_of(project)["_commit"] == "v1.1.0"


def test_a_goldpath_that_is_not_the_release_it_was_started_for_refuses(
    project: Path, canonical: Canonical
) -> None:
    head = git(project, "rev-parse", "HEAD")
    tool = canonical.tools["v1.0.0"]
    result = subprocess.run(
        [str(tool), "update", "--vcs-ref", "v1.1.0"], cwd=project, capture_output=True,
        text=True, env=_env({"GOLDPATH_RELEASE_EXPECTED": "v1.1.0"}), check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: goldpath 1.0.0 is running, but GOLDPATH_RELEASE_EXPECTED v1.1.0 asks for "
        "goldpath 1.1.0: run that release's own goldpath (uvx --from git+<template>@<commit>)"
    )
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain") == ""


def test_a_development_build_is_refused_unless_asked_for(
    canonical: Canonical,
    tmp_path: Path,
) -> None:
    dev = tmp_path / "dev"
    run(["git", "clone", "--quiet", canonical.url, str(dev)], cwd=tmp_path)
    (dev / "NOTES.md").write_text("after the release\n")
    commit_all(dev, "work after v1.1.0")
    run(["git", "push", "--quiet", "origin", "main"], cwd=dev)
    build = tmp_path / "build"
    build.mkdir()
    tool = _install(_build(canonical.bare, "main", build), tmp_path / "venv")
    short = git(dev, "rev-parse", "--short=9", "HEAD").strip()

    result = _goldpath(tool, "new", "svc", "--defaults", "--no-lock", cwd=tmp_path)

    assert result.returncode == 1
    assert "is a development build, not a release; pass --unreleased" in result.stderr
    assert not (tmp_path / "svc").exists()
    result = _goldpath(tool, "new", "svc", "--defaults", "--no-lock", "--unreleased", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: goldpath 1.1.1.dev1" in result.stderr
    answers = answers_of(tmp_path / "svc")
    assert answers["_src_path"] == canonical.url
    assert str(answers["_commit"]).startswith(short[:7])
    result = _goldpath(tool, "check", "--json", cwd=tmp_path / "svc")
    assert result.returncode == EXIT_UNKNOWN, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == "unknown"


def test_conflicts_exit_3_from_the_installed_tool(project: Path, canonical: Canonical) -> None:
    health = project / "src" / PACKAGE / "api" / "routes" / "health.py"
    text = health.read_text()
    line = next(x for x in text.splitlines() if x.startswith('    """Liveness'))
    health.write_text(text.replace(line, '    """Liveness, our way."""'))
    commit_all(project, "our docstring")
    result = _goldpath(canonical.tools["v1.1.0"], "update", "--no-lock", cwd=project)
    assert result.returncode == EXIT_CONFLICTS, result.stderr
    assert f"src/{PACKAGE}/api/routes/health.py" in result.stderr
