"""Builders shared by the test modules: template metadata, rendering and tool lookup."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

__all__ = [
    "REPO_ROOT",
    "answer_combinations",
    "answers_of",
    "copy_template",
    "free_port",
    "invoke",
    "question_choices",
    "questions",
    "render",
    "require_tool",
    "run",
    "wait_until_ready",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIRE_TOOLS_ENV = "GOLDPATH_REQUIRE_TOOLS"


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the goldpath CLI in-process; return its exit code, stdout and stderr."""
    from typer.testing import CliRunner

    from goldpath.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def answers_of(project: Path) -> dict[str, Any]:
    """Return the answers file of a generated project."""
    loaded: dict[str, Any] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return loaded


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ready(
    process: subprocess.Popen[Any],
    base_url: str,
    *,
    what: str,
    seconds: float,
    output: Callable[[], str],
    give_up: Callable[[], object],
) -> None:
    """Poll ``base_url``/readyz until it answers 200; fail the test, with the process's
    output, when the process exits first or ``seconds`` pass (then ``give_up`` stops it)."""
    import httpx2 as httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited early:\n{output()}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    give_up()
    pytest.fail(f"{what} was not ready within {seconds:.0f} s:\n{output()}")


# The commands the generated quality jobs run, GitHub's and GitLab's alike (port in PORT).
QUALITY_EVALS = (
    "uv run --locked --group quality python -m evals run"
    ' --base-url "http://127.0.0.1:${PORT}/v1"'
    ' --api-key "$EVAL_API_KEY" --report-dir reports/evals'
)
QUALITY_LOAD = (
    "uv run --locked --group quality locust -f loadtest/locustfile.py --headless"
    ' --host "http://127.0.0.1:${PORT}" --users 8 --spawn-rate 4 --run-time 30s'
    " --csv reports/load/load --html reports/load/report.html"
)


class ServiceProcess:
    """A synced rendered project's service on the fake provider and a loopback port.

    It logs to a file, not a pipe: under load the service logs more than a pipe holds, and
    a writer blocked on a full pipe never exits on SIGTERM. ``settings`` (a mapping) and
    ``env`` add or override settings; ``port`` keeps one address across restarts.
    """

    def __init__(
        self,
        project: Path,
        log: Path,
        *,
        port: int | None = None,
        what: str = "the service",
        settings: Mapping[str, str] | None = None,
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
        environment = {
            "API_KEYS": "e2e-key",
            "LLM_PROVIDER": "fake",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            **(settings or {}),
            **env,
        }
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [str(project / ".venv" / "bin" / "python"), "-m", package],
                cwd=project,
                env={**os.environ, **environment},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_until_ready(
            self.process,
            self.base_url,
            what=what,
            seconds=30,
            output=lambda: log.read_text(errors="replace"),
            give_up=self.stop,
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited in 15 s."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def copy_template(repo: Path) -> None:
    """Copy this template (copier.yml and template/) into ``repo``, replacing what is there."""
    shutil.rmtree(repo / "template", ignore_errors=True)
    shutil.copy2(REPO_ROOT / "copier.yml", repo / "copier.yml")
    shutil.copytree(REPO_ROOT / "template", repo / "template")


def asked(spec: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """Whether copier asks (and records) a question, given the other answers (its ``when``)."""
    when = spec.get("when", True)
    if not isinstance(when, str):
        return bool(when)
    from jinja2 import Template

    return Template(when).render(**answers).strip().lower() not in {"false", ""}


def questions() -> dict[str, dict[str, Any]]:
    """Return the questions of copier.yml (settings and computed values left out)."""
    data = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
    return {
        name: spec
        for name, spec in data.items()
        if not name.startswith("_") and spec.get("when") is not False
    }


def _template_names() -> list[str]:
    """Every name the template's Jinja can use: copier.yml's keys and copier's own."""
    data = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
    return sorted({name for name in data if not name.startswith("_")} | {"_copier_conf"})


# Jinja syntax naming one of the template's variables. Prometheus' and Grafana's own
# templating ({{ $labels.pod }}, a legend's {{route}}) and GitHub's ${{ }} are not Jinja
# left unrendered: they name no template variable.
_UNRENDERED = re.compile(
    r"(?<!\$)\{\{-?\s*(?:" + "|".join(map(re.escape, _template_names())) + r")\b"
    r"|\{%-?\s*(?:if|elif|else|endif|for|endfor|set|raw|endraw|macro|include|import|filter)\b"
    r"|\{#"
)


def unrendered_jinja(text: str) -> str | None:
    """Return the first piece of unrendered template Jinja in ``text``, if any."""
    match = _UNRENDERED.search(text)
    return match.group(0) if match else None


def question_choices(name: str) -> list[Any]:
    """Return the values a choice question accepts, as copier.yml declares them."""
    choices = questions()[name]["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


def answer_combinations(*names: str) -> list[dict[str, Any]]:
    """Return every combination of the choices of the named questions."""
    combos: list[dict[str, Any]] = [{}]
    for name in names:
        combos = [{**combo, name: value} for combo in combos for value in question_choices(name)]
    return combos


def require_tool(name: str) -> str:
    """Return the path of a tool; skip locally when missing, fail when CI requires tools.

    Tools installed in the test environment (from the lock file) come first, so the
    pinned version is used, and a pyenv shim on PATH is never picked for them.
    """
    venv_bin = Path(sys.executable).parent / name
    path = str(venv_bin) if venv_bin.exists() else shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
            pytest.fail(f"{message} and {REQUIRE_TOOLS_ENV}=1 requires every tool")
        pytest.skip(message)
    return path


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command and fail the test with its output when it exits non-zero."""
    # PYENV_VERSION (set when uv is a pyenv shim) would override a project's .python-version.
    merged = {k: v for k, v in {**os.environ, **(env or {})}.items() if k != "PYENV_VERSION"}
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=merged,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def render(dst: Path, answers: Mapping[str, Any] | None = None) -> Path:
    """Render the working tree of this template into ``dst`` with copier's public API."""
    from copier import run_copy

    run_copy(
        str(REPO_ROOT),
        dst,
        data=dict(answers or {}),
        vcs_ref="HEAD",
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    return dst


# --- container and Kubernetes files of a rendered project -------------------------------

__all__ += [
    "DockerInstruction",
    "dockerfile_instructions",
    "load_yaml_documents",
    "require_module",
]


def require_module(name: str) -> Any:
    """Import a Python module; skip locally when missing, fail when CI requires tools."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        message = f"Python module {name} is not installed"
        if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
            pytest.fail(f"{message} and {REQUIRE_TOOLS_ENV}=1 requires every tool")
        pytest.skip(message)


def load_yaml_documents(text: str) -> list[dict[str, Any]]:
    """Return the non-empty documents of a multi-document YAML text."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


class DockerInstruction:
    """One Dockerfile instruction: its upper-case keyword and its arguments as written."""

    def __init__(self, keyword: str, arguments: str, stage: int) -> None:
        self.keyword = keyword
        self.arguments = arguments
        self.stage = stage

    def __repr__(self) -> str:
        return f"{self.keyword} {self.arguments}"


def dockerfile_instructions(path: Path) -> list[DockerInstruction]:
    """Parse a Dockerfile into instructions (continuations joined, comments dropped)."""
    instructions: list[DockerInstruction] = []
    logical = ""
    stage = -1
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if logical and line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1].strip() + " "
            continue
        logical += line
        keyword, _, arguments = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(DockerInstruction(keyword, arguments.strip(), stage))
        logical = ""
    return instructions


# --- Terraform: where the AWS provider comes from, offline ------------------------------

__all__ += ["TERRAFORM_MIRROR_ENV", "terraform_cli_config", "terraform_mirror"]

TERRAFORM_MIRROR_ENV = "GOLDPATH_TF_MIRROR"
_TERRAFORM_MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)


def terraform_mirror() -> Path | None:
    """Return the provider filesystem mirror that holds hashicorp/aws, or None.

    ``GOLDPATH_TF_MIRROR`` wins; otherwise the usual local mirror locations are tried.
    """
    override = os.environ.get(TERRAFORM_MIRROR_ENV)
    candidates = [override] if override else list(_TERRAFORM_MIRROR_CANDIDATES)
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path
    return None


def terraform_cli_config(path: Path, mirror: Path) -> Path:
    """Write a Terraform CLI config that installs hashicorp providers from ``mirror`` only."""
    import json

    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n",
        encoding="utf-8",
    )
    return path


__all__ += ["dockerfile_env"]


def dockerfile_env(path: Path) -> dict[str, str]:
    """Return the ENV settings of a Dockerfile's last stage (the runtime image)."""
    import shlex

    instructions = dockerfile_instructions(path)
    last = max(i.stage for i in instructions)
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV" and instruction.stage == last:
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


# --- a throwaway template with two releases, for update tests and benchmarks -------------

__all__ += [
    "CHANGELOG_UNRELEASED",
    "CHANGELOG_V1_0",
    "CHANGELOG_V1_1",
    "NEW_DOCSTRING",
    "OLD_DOCSTRING",
    "PACKAGE",
    "WORKFLOW_CHANGE",
    "commit_all",
    "git",
    "two_release_template",
]

PACKAGE = "my_genai_service"
OLD_DOCSTRING = '    """Liveness: the process serves requests."""'
NEW_DOCSTRING = '    """Liveness: the process is up; no dependency is checked."""'
_MIGRATION = """
  - version: v1.1.0
    when: "{{ _stage == 'before' }}"
    command: "test ! -f .env.example || git mv .env.example .env.sample"
"""


def git(repo: Path, *args: str) -> str:
    """Run git in a repository with a fixed test identity; return its output."""
    identity = ["-c", "user.name=goldpath-tests", "-c", "user.email=tests@goldpath.invalid"]
    return run(["git", *identity, *args], cwd=repo).stdout


def commit_all(repo: Path, message: str) -> None:
    """Commit everything in the working tree."""
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "-m", message)


def _release_v1_1(template: Path) -> None:
    """Apply the scripted changes of the second release: a changed line in the service, a
    new file, a removed file, a file renamed with a migration, and a new dependency."""
    tpl = template / "template"
    health = tpl / "src" / "{{package_name}}" / "api" / "routes" / "health.py"
    health.write_text(health.read_text().replace(OLD_DOCSTRING, NEW_DOCSTRING))
    (tpl / "docs").mkdir(exist_ok=True)
    (tpl / "docs" / "on-call.md").write_text("# On call\n\nPage the owner when /readyz fails.\n")
    (tpl / "src" / "{{package_name}}" / "py.typed").unlink()
    (tpl / ".env.example.jinja").rename(tpl / ".env.sample.jinja")
    pyproject = tpl / "pyproject.toml.jinja"
    dependency = '  "cachetools>=5.5",'
    pyproject.write_text(_insert_after(pyproject.read_text(), "dependencies = [", dependency))
    config = template / "copier.yml"
    config.write_text(_insert_after(config.read_text(), "_migrations:", _MIGRATION.strip("\n")))


def _insert_after(text: str, anchor_line: str, addition: str) -> str:
    """Insert lines after the one line that is ``anchor_line``; fail if it is not there."""
    lines = text.splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if line.rstrip("\n") == anchor_line]
    return "".join([*lines[: index + 1], addition + "\n", *lines[index + 1 :]])


CHANGELOG_V1_0 = "## v1.0.0 (2026-01-05)\n\n- First release: the service, its tests, CI.\n"
CHANGELOG_V1_1 = (
    "## v1.1.0 (2026-02-02)\n\n### Changed\n\n- The liveness docstring says no dependency "
    "is checked.\n- `.env.example` is now `.env.sample` (a migration renames it).\n"
)
CHANGELOG_UNRELEASED = "## Unreleased\n\n- Something still in review.\n"
WORKFLOW_CHANGE = "# Changed in template v1.1.0.\n"


def two_release_template(
    repo: Path, *, changelog: bool = False, workflow_change: bool = False
) -> Path:
    """Build a git repository holding this template as v1.0.0 and a scripted v1.1.0.

    ``changelog`` adds a CHANGELOG.md with an entry per release (and an Unreleased one in
    v1.1.0); ``workflow_change`` makes v1.1.0 change the generated ci.yml workflow too.
    """
    repo.mkdir(parents=True)
    copy_template(repo)
    if changelog:
        (repo / "CHANGELOG.md").write_text(f"# Changelog\n\n{CHANGELOG_V1_0}")
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_all(repo, "template v1.0.0")
    git(repo, "tag", "v1.0.0")
    _release_v1_1(repo)
    if changelog:
        (repo / "CHANGELOG.md").write_text(
            f"# Changelog\n\n{CHANGELOG_UNRELEASED}\n{CHANGELOG_V1_1}\n{CHANGELOG_V1_0}"
        )
    if workflow_change:
        github = "{% if ci == 'github' %}.github{% endif %}"
        ci = repo / "template" / github / "workflows" / "ci.yml.jinja"
        ci.write_text(ci.read_text() + WORKFLOW_CHANGE)
    commit_all(repo, "template v1.1.0")
    git(repo, "tag", "v1.1.0")
    return repo


# --- the generated project's own checks: test_generated runs them, ci.yml asks for them --

__all__ += ["PROJECT_CHECKS"]

# Each runs as `uv run --locked <check>` in the generated project.
PROJECT_CHECKS: list[list[str]] = [
    ["ruff", "check", "."],
    ["ruff", "format", "--check", "."],
    ["mypy"],
    ["pytest", "--cov", "--cov-report=term-missing"],
]


# --- a streamed completion read on a thread, to signal a server while it is open ----------

__all__ += ["BackgroundStream"]


class BackgroundStream:
    """Read one streamed chat completion on a thread; the test signals the server meanwhile."""

    def __init__(self, client: Any, content: str) -> None:
        import threading

        self.received: list[str] = []
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._consume, args=(client, content))

    def _consume(self, client: Any, content: str) -> None:
        messages = [{"role": "user", "content": content}]
        for chunk in client.chat.completions.create(
            model="fake-model", messages=messages, stream=True
        ):
            self._started.set()
            if chunk.choices:
                self.received.append(chunk.choices[0].delta.content or "")

    def start(self, *, timeout: float = 10) -> None:
        """Start reading and wait until the first chunk has arrived."""
        self._thread.start()
        assert self._started.wait(timeout), "no chunk arrived"

    def join(self, *, timeout: float) -> str:
        """Wait for the stream to end; return the text it carried."""
        self._thread.join(timeout=timeout)
        return "".join(self.received)


# --- one-line errors, stand-in programs and tiny templates, for the error-path tests -----

__all__ += [
    "GIT_NO_ACCESS",
    "UV_NO_SOLUTION",
    "assert_one_line_error",
    "build_file_tree",
    "small_template",
    "stand_in",
]

# What uv lock and git ls-remote print when they fail: the reason first, asides after.
UV_NO_SOLUTION = """\
  \u00d7 No solution found when resolving dependencies for split (python_full_version >= '3.13'):
  \u2570\u2500\u25b6 Because only cachetools<=5.5.2 is available and your project depends on
      cachetools>=99, we can conclude that your project's requirements are unsatisfiable.

      hint: While the active Python version is 3.12, the resolution failed for other Python
      versions supported by your project. Consider limiting your project's supported Python
      versions using `requires-python`.
"""
GIT_NO_ACCESS = """\
git@github.com: Permission denied (publickey).
fatal: Could not read from remote repository.

Please make sure you have the correct access rights
and the repository exists.
"""


def assert_one_line_error(code: int, stderr: str, fragment: str) -> None:
    """Assert exit 1 and exactly one ``error:`` line holding ``fragment``, no traceback."""
    assert code == 1, stderr
    lines = stderr.strip().splitlines()
    assert len([line for line in lines if not line.startswith("warning:")]) == 1, stderr
    assert lines[-1].startswith("error: ")
    assert fragment in lines[-1], lines[-1]
    assert "Traceback" not in stderr


def stand_in(bin_dir: Path, name: str, script: str) -> Path:
    """Write an executable shell script ``name`` into ``bin_dir`` (put it first on PATH)."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def build_file_tree(root: Path, files: Mapping[str, str]) -> None:
    """Write files (relative path -> text) under ``root``, as copier's tests do."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


_SMALL_TEMPLATE = {
    "copier.yml": "name:\n  type: str\n  default: demo\n  help: The project's name.\n",
    "{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers|to_nice_yaml }}",
    "README.md.jinja": "# {{ name }}\n",
}


def small_template(repo: Path, *releases: Mapping[str, str]) -> Path:
    """Build a git repository with a two-file copier template (README.md, the answers file)
    tagged v1.0.0, then each of ``releases`` (files to write) as v1.1.0, v1.2.0, ..."""
    build_file_tree(repo, _SMALL_TEMPLATE)
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_all(repo, "v1.0.0")
    git(repo, "tag", "v1.0.0")
    for minor, files in enumerate(releases, start=1):
        build_file_tree(repo, files)
        commit_all(repo, f"v1.{minor}.0")
        git(repo, "tag", f"v1.{minor}.0")
    return repo


# --- stand-in gh and glab: pull and merge requests without GitHub or GitLab ---------------

__all__ += ["FakeHosts"]

_FAKE_HOST_SCRIPT = r'''#!{python}
"""Stand-in {tool} for goldpath's tests (written by tests/helpers.py:FakeHosts)."""
import fcntl, json, os, subprocess, sys
from pathlib import Path

TOOL = {tool!r}
ROOT = Path({root!r})
STATE, LOG, LOCK = ROOT / "state.json", ROOT / "calls.jsonl", ROOT / "lock"
VALUED = {{"--json", "--base", "--head", "--title", "--body-file", "--source-branch",
          "--target-branch", "--description", "--message", "--output", "--per-page", "-F"}}


def repository_key():
    out = subprocess.run(["git", "config", "--get", "remote.origin.url"],
                         capture_output=True, text=True, check=False).stdout.strip()
    return out or str(Path.cwd().resolve())


def parse(args):
    flags, positional, i = {{}}, [], 0
    while i < len(args):
        arg = args[i]
        if arg in VALUED and i + 1 < len(args):
            flags[arg] = args[i + 1]
            i += 2
            continue
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
            flags[name] = value
        elif arg.startswith("-"):
            flags[arg] = True
        else:
            positional.append(arg)
        i += 1
    return flags, positional


def url_of(key, number):
    name = key.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "service"
    if TOOL == "gh":
        return f"https://github.com/acme/{{name}}/pull/{{number}}"
    return f"https://gitlab.com/acme/{{name}}/-/merge_requests/{{number}}"


def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)


def main(state, key, args):
    flags, positional = parse(args)
    command = " ".join([TOOL, *args[:2]])
    if command in state.get("failures", {{}}):
        fail(state["failures"][command])
    requests = state.setdefault("requests", {{}}).setdefault(key, [])
    entry = {{"tool": TOOL, "args": args, "cwd": os.getcwd(), "repository": key}}
    body = None
    if "--body-file" in flags:
        body = Path(flags["--body-file"]).read_text()
    for name in ("--description", "--message"):
        if name in flags and args[:2] != ["pr", "merge"]:
            body = flags[name]
    if body is not None:
        entry["body"] = body
    with open(LOG, "a") as log:
        log.write(json.dumps(entry) + "\n")

    def by_number(number):
        for request in requests:
            if request["number"] == int(number):
                return request
        fail(f"no request {{number}} in {{key}}")

    def of_branch(branch):
        mine = [r for r in requests if r["branch"] == branch]
        return max(mine, key=lambda r: r["number"]) if mine else None

    def create(branch, base, title):
        existing = of_branch(branch)
        if existing is not None and existing["state"] == "OPEN":
            fail(f'a pull request for branch "{{branch}}" into branch "{{base}}" already exists:\n'
                 + existing["url"])
        number = 1 + max((r["number"] for r in requests), default=0)
        request = {{"number": number, "url": url_of(key, number), "state": "OPEN",
                   "checks": "pending", "branch": branch, "base": base, "title": title,
                   "body": body, "comments": [], "auto_merge": None, "host": TOOL}}
        requests.append(request)
        return request

    if TOOL == "gh":
        if args[:2] == ["pr", "view"]:
            request = of_branch(positional[2])
            if request is None:
                fail(f'no pull requests found for branch "{{positional[2]}}"')
            rollup = {{
                "passed": [{{"__typename": "CheckRun", "name": "ci", "status": "COMPLETED",
                            "conclusion": "SUCCESS"}}],
                "failed": [{{"__typename": "CheckRun", "name": "ci", "status": "COMPLETED",
                            "conclusion": "FAILURE"}}],
                "pending": [{{"__typename": "CheckRun", "name": "ci", "status": "IN_PROGRESS",
                             "conclusion": ""}}],
                "none": [],
            }}[request["checks"]]
            data = {{"number": request["number"], "url": request["url"],
                    "state": request["state"], "title": request["title"],
                    "body": request["body"], "baseRefName": request["base"],
                    "headRefName": request["branch"], "statusCheckRollup": rollup,
                    "comments": [{{"body": c}} for c in request["comments"]]}}
            fields = flags.get("--json", "").split(",")
            print(json.dumps({{k: v for k, v in data.items() if k in fields}}))
        elif args[:2] == ["pr", "create"]:
            print(create(flags["--head"], flags["--base"], flags["--title"])["url"])
        elif args[:2] == ["pr", "edit"]:
            request = by_number(positional[2])
            request.update(title=flags.get("--title", request["title"]), body=body)
            print(request["url"])
        elif args[:2] == ["pr", "comment"]:
            request = by_number(positional[2])
            request["comments"].append(body)
            print(request["url"] + "#issuecomment-1")
        elif args[:2] == ["pr", "merge"] and "--auto" in flags:
            method = next((m for m in ("merge", "squash", "rebase") if "--" + m in flags), None)
            if method is None:
                fail("--merge, --rebase, or --squash required when not running interactively")
            by_number(positional[2])["auto_merge"] = method
        else:
            fail(f"stand-in gh does not know: {{' '.join(args)}}")
        return
    states = {{"OPEN": "opened", "CLOSED": "closed", "MERGED": "merged"}}
    pipelines = {{"passed": "success", "failed": "failed", "pending": "running", "none": None}}

    def as_gitlab(request):
        status = pipelines[request["checks"]]
        return {{"iid": request["number"], "id": 1000 + request["number"],
                "web_url": request["url"], "state": states[request["state"]],
                "title": request["title"], "description": request["body"],
                "source_branch": request["branch"], "target_branch": request["base"],
                "head_pipeline": None if status is None else {{"id": 1, "status": status}}}}

    if args[:2] == ["mr", "list"]:
        mine = [r for r in requests if r["branch"] == flags.get("--source-branch")]
        if "--all" not in flags:
            mine = [r for r in mine if r["state"] == "OPEN"]
        shown = [as_gitlab(r) for r in sorted(mine, key=lambda r: -r["number"])]
        for item in shown:
            item.pop("head_pipeline")  # the list API has no head pipeline
        print(json.dumps(shown))
    elif args[:2] == ["mr", "view"]:
        request = by_number(positional[2])
        data = as_gitlab(request)
        if "--comments" in flags:
            data["Notes"] = [{{"id": i, "body": c, "system": False}}
                             for i, c in enumerate(request["comments"])]
            data["Notes"].insert(0, {{"id": 99, "body": "added 1 commit", "system": True}})
        print(json.dumps(data))
    elif args[:2] == ["mr", "create"]:
        if "--yes" not in flags:
            fail("glab mr create would prompt: pass --yes")
        request = create(flags["--source-branch"], flags["--target-branch"], flags["--title"])
        print(f"\nCreating merge request for {{request['branch']}} into {{request['base']}}\n")
        print(f"!{{request['number']}} {{request['title']}} ({{request['branch']}})")
        print(f" {{request['url']}}\n")
    elif args[:2] == ["mr", "update"]:
        request = by_number(positional[2])
        request.update(title=flags.get("--title", request["title"]), body=body)
        print(f"- Updating merge request !{{request['number']}}\n{{request['url']}}")
    elif args[:2] == ["mr", "note"]:
        request = by_number(positional[2])
        request["comments"].append(body)
        print(request["url"] + "#note_1")
    elif args[:2] == ["mr", "merge"] and "--auto-merge" in flags:
        by_number(positional[2])["auto_merge"] = "auto-merge"
        print("Will merge when the pipeline succeeds")
    else:
        fail(f"stand-in glab does not know: {{' '.join(args)}}")


with open(LOCK, "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # 20 repositories at once: one call at a time
    state = json.loads(STATE.read_text()) if STATE.exists() else {{}}
    try:
        main(state, repository_key(), sys.argv[1:])
    finally:
        tmp = STATE.with_suffix(f".{{os.getpid()}}.tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(STATE)
'''


class FakeHosts:
    """Stand-in ``gh`` and ``glab`` first on PATH, sharing one record of requests.

    Requests are kept per repository (its ``origin`` URL, else its directory) and branch,
    numbered per repository from 1, so ``create`` then ``view`` see the same request with
    its number and URL, as on the hosts. A test sets a request's ``state`` (OPEN, CLOSED,
    MERGED) and ``checks`` (passed, failed, pending, none; new requests start pending), makes
    a command fail, and reads every call (``tool``, ``args``, ``cwd``, ``repository`` and
    the ``body`` sent, from a body file or an argument). Calls are serialised with a lock
    file, so many repositories may be updated at once.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        for tool in ("gh", "glab"):
            script = self.bin / tool
            script.write_text(
                _FAKE_HOST_SCRIPT.format(python=sys.executable, tool=tool, root=str(root))
            )
            script.chmod(0o755)

    @classmethod
    def install(cls, root: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHosts:
        """Write the stand-ins under ``root`` and put them first on PATH for the test."""
        fake = cls(root)
        monkeypatch.setenv("PATH", f"{fake.bin}{os.pathsep}{os.environ['PATH']}")
        return fake

    @staticmethod
    def key(project: Path) -> str:
        """Return how the stand-ins name a repository: its origin's URL, else its path."""
        result = subprocess.run(
            ["git", "config", "--get", "remote.origin.url"],
            cwd=project, capture_output=True, text=True, check=False,
        )  # fmt: skip
        return result.stdout.strip() or str(project.resolve())

    def _state(self) -> dict[str, Any]:
        path = self.root / "state.json"
        loaded: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return loaded

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """Read, change and write the record under the stand-ins' lock, atomically."""
        import fcntl

        with (self.root / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._state()
            yield state
            tmp = self.root / f"state.json.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(state, indent=1))
            tmp.replace(self.root / "state.json")

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        """Return every call, oldest first (only ``tool``'s when given)."""
        log = self.root / "calls.jsonl"
        entries = (
            [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        )
        return [entry for entry in entries if tool is None or entry["tool"] == tool]

    def commands(self, tool: str | None = None) -> list[list[str]]:
        """Return each call's first two arguments (``pr create``, ``mr note``, ...)."""
        return [call["args"][:2] for call in self.calls(tool)]

    def only(self, *command: str) -> dict[str, Any]:
        """Return the one call that starts with ``command``; fail unless exactly one."""
        matching = [c for c in self.calls() if c["args"][: len(command)] == list(command)]
        assert len(matching) == 1, f"{len(matching)} calls of {command}: {self.commands()}"
        return matching[0]

    def requests(self, project: Path) -> list[dict[str, Any]]:
        """Return a repository's requests (number, url, state, checks, branch, base, title,
        body, comments, auto_merge), oldest first."""
        found: list[dict[str, Any]] = self._state().get("requests", {}).get(self.key(project), [])
        return found

    def request(self, project: Path, branch: str) -> dict[str, Any] | None:
        """Return the newest request of a branch, or None."""
        mine = [r for r in self.requests(project) if r["branch"] == branch]
        return mine[-1] if mine else None

    def open_request(
        self, project: Path, branch: str, *, tool: str = "gh", base: str = "main"
    ) -> dict[str, Any]:
        """Record an open request of ``branch`` on ``tool``'s host, as if someone had opened it."""
        key = self.key(project)
        name = key.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "service"
        with self._changing() as state:
            requests = state.setdefault("requests", {}).setdefault(key, [])
            number = 1 + max((r["number"] for r in requests), default=0)
            url = (
                f"https://github.com/acme/{name}/pull/{number}"
                if tool == "gh"
                else f"https://gitlab.com/acme/{name}/-/merge_requests/{number}"
            )
            request = {
                "number": number, "url": url, "state": "OPEN", "checks": "pending",
                "branch": branch, "base": base, "title": "opened by hand", "body": "",
                "comments": [], "auto_merge": None, "host": tool,
            }  # fmt: skip
            requests.append(request)
        return request

    def set(
        self,
        project: Path,
        branch: str,
        *,
        state: str | None = None,
        checks: str | None = None,
    ) -> None:
        """Set the newest request of a branch to a state (OPEN, CLOSED, MERGED) and/or checks
        (passed, failed, pending, none)."""
        assert state in (None, "OPEN", "CLOSED", "MERGED"), state
        assert checks in (None, "passed", "failed", "pending", "none"), checks
        key = self.key(project)
        with self._changing() as data:
            mine = [r for r in data.get("requests", {}).get(key, []) if r["branch"] == branch]
            assert mine, f"no request of {branch} in {project}"
            if state is not None:
                mine[-1]["state"] = state
            if checks is not None:
                mine[-1]["checks"] = checks

    def fail(self, command: str, message: str) -> None:
        """Make every call of ``command`` (``"gh pr create"``, ``"glab mr view"``) print
        ``message`` on stderr and exit 1."""
        with self._changing() as data:
            data.setdefault("failures", {})[command] = message


# --- many copies of one project, each with its own bare origin (campaign tests, benchmark) --

__all__ += ["copies_with_origins"]


def copies_with_origins(base: Path, root: Path, count: int, *, prefix: str = "team") -> Path:
    """Copy ``base`` ``count`` times under ``root/repos``, each pushed to its own bare origin
    (``root/origins/<name>.git``, reached by a ``file://`` URL); return ``root/repos``."""
    repos = root / "repos"
    for index in range(count):
        name = f"{prefix}-{index:02d}"
        project = repos / name
        shutil.copytree(base, project, symlinks=True)
        origin = root / "origins" / f"{name}.git"
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
        git(project, "remote", "add", "origin", origin.as_uri())
        git(project, "push", "--quiet", "origin", "main")
    return repos
