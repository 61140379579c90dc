"""The generated Kubernetes files: they build, validate, pass the scanners and agree."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from goldpath import helm_chart
from tests.helpers import (
    REPO_ROOT,
    answer_combinations,
    dockerfile_env,
    dockerfile_instructions,
    load_yaml_documents,
    question_choices,
    require_module,
    require_tool,
    run,
    unrendered_jinja,
)

Renderer = Callable[[Mapping[str, Any]], Path]
Manifest = dict[str, Any]

# The oldest Kubernetes the files support (preStop sleep needs 1.30) and the newest the
# validator ships; objects must be valid for both.
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
ENVIRONMENTS = ("dev", "staging", "prod")
ARGO_KINDS = {"Application", "AppProject"}
# Custom resources: kubernetes-validate knows only built-in kinds; ScaledObjects are checked
# against KEDA's CRD schema (tests/data/keda) and the Prometheus Operator's kinds against its
# CRD schemas (tests/data/prometheus-operator) instead.
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}
CUSTOM_KINDS = {*ARGO_KINDS, "ScaledObject", *OPERATOR_KINDS}
KEDA_SCHEMA = REPO_ROOT / "tests" / "data" / "keda" / "scaledobject.schema.json"
OPERATOR_SCHEMAS = REPO_ROOT / "tests" / "data" / "prometheus-operator"
# What kube-prometheus-stack's default selectors match, and the Secret key /metrics needs.
RELEASE_LABEL = {"release": "kube-prometheus-stack"}
METRICS_TOKEN_KEY = "metrics_token"
MUTABLE_TAGS = {"main", "master", "latest", "dev", "edge"}
SECURITY_DOC = REPO_ROOT / "docs" / "security.md"
# Environment variables the service reads (pydantic-settings field names, upper-cased).
SERVICE_SETTINGS = {
    "LLM_PROVIDER", "DEFAULT_MODEL", "DAILY_TOKEN_BUDGET", "DAILY_TOKEN_BUDGET_PER_KEY",
    "PROVIDER_TIMEOUT_SECONDS", "LOG_LEVEL", "OPENAI_BASE_URL", "AWS_REGION",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "SECRETS_DIR", "STATE_BACKEND",
}  # fmt: skip
DEPRECATED_KUSTOMIZE_FIELDS = {
    "bases", "commonLabels", "patchesStrategicMerge", "patchesJson6902", "vars", "imageTags",
}  # fmt: skip


def _ids(answers: Mapping[str, Any]) -> str:
    """A test id that is also a directory name (the scanners get one per combination)."""
    text = "-".join(f"{key}={value}" for key, value in answers.items()) or "defaults"
    return re.sub(r"[/:]+", "_", text)


# Every kubernetes x gitops combination, each with KEDA too, the defaults, and each provider
# with otel on (they change the ConfigMap, the ServiceAccount and the NetworkPolicy).
COMBINATIONS: list[dict[str, Any]] = [
    {},
    *answer_combinations("kubernetes", "gitops"),
    *(
        {**combo, "k8s_autoscaler": "keda"}
        for combo in answer_combinations("kubernetes", "gitops")
        if combo["kubernetes"] != "none"
    ),
    *({**combo, "otel": True} for combo in answer_combinations("llm_provider")),
    # Flux image automation changes the dev overlay (setter markers, a digest field).
    {"gitops": "flux", "flux_image_automation": True},
    # Redis state adds STATE_BACKEND and an egress rule (every layout; the chart with otel too).
    *({"kubernetes": layout, "state_backend": "redis"} for layout in ("kustomize", "manifests")),
    {"kubernetes": "helm", "state_backend": "redis", "otel": True, "llm_provider": "bedrock"},
    # A plain Prometheus: pod annotations instead of the Operator's objects (every layout),
    # and its own default prometheus_url for KEDA.
    {"kubernetes": "kustomize", "k8s_monitoring": "prometheus"},
    {"kubernetes": "manifests", "k8s_monitoring": "prometheus", "k8s_autoscaler": "keda"},
    {"kubernetes": "helm", "k8s_monitoring": "prometheus", "k8s_autoscaler": "keda"},
    # A Prometheus elsewhere: the KEDA trigger must follow the answer.
    {"k8s_autoscaler": "keda", "prometheus_url": "https://prometheus.example.internal:9443"},
]
WITH_KUBERNETES = [c for c in COMBINATIONS if c.get("kubernetes") != "none"]
# The default for kubernetes is kustomize and for gitops none (copier.yml).
WITH_KUSTOMIZE = [c for c in WITH_KUBERNETES if c.get("kubernetes", "kustomize") == "kustomize"]
WITH_ARGOCD = [c for c in WITH_KUBERNETES if c.get("gitops") == "argocd"]
WITH_KEDA = [c for c in WITH_KUBERNETES if c.get("k8s_autoscaler") == "keda"]
# The default for k8s_monitoring is prometheus-operator (copier.yml).
WITH_OPERATOR = [
    c for c in WITH_KUBERNETES if c.get("k8s_monitoring", "prometheus-operator") != "prometheus"
]


@pytest.fixture(params=WITH_KUBERNETES, ids=_ids)
def project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project with Kubernetes files (shared: never mutate it)."""
    return rendered(request.param)


@pytest.fixture(params=WITH_KUSTOMIZE, ids=_ids)
def kustomize_project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project with kustomize overlays."""
    return rendered(request.param)


@pytest.fixture(params=WITH_ARGOCD, ids=_ids)
def argocd_project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project with Argo CD Applications."""
    return rendered(request.param)


def _answer(project: Path, name: str) -> Any:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    default = {
        "gitops": "none",
        "k8s_autoscaler": "hpa",
        "flux_image_automation": False,
        "state_backend": "memory",
        "k8s_monitoring": "prometheus-operator",
    }.get(name)
    return answers.get(name, default)


_BUILT: dict[Path, str] = {}


def _kustomize(overlay: Path) -> list[Manifest]:
    """Build an overlay once per test process; each caller gets its own parsed copy."""
    if overlay not in _BUILT:
        kubectl = require_tool("kubectl")
        _BUILT[overlay] = run([kubectl, "kustomize", overlay], cwd=overlay).stdout
    return load_yaml_documents(_BUILT[overlay])


_HELM_RENDERED: dict[tuple[Path, str], str] = {}


def helm_render(chart: Path, env: str) -> list[Manifest]:
    """Render a chart for an environment once per test process (``helm template``)."""
    if (chart, env) not in _HELM_RENDERED:
        require_module(helm_chart.MODULE)
        _HELM_RENDERED[chart, env] = helm_chart.render_chart(chart, environment=env)
    return load_yaml_documents(_HELM_RENDERED[chart, env])


def manifest_sets(project: Path) -> dict[str, list[Manifest]]:
    """What would be applied, by source: each built overlay or rendered chart, or the manifests."""
    if _answer(project, "kubernetes") == "kustomize":
        overlays = project / "deploy" / "kustomize" / "overlays"
        return {env: _kustomize(overlays / env) for env in ENVIRONMENTS}
    if _answer(project, "kubernetes") == "helm":
        (chart,) = helm_chart.chart_dirs(project)
        return {env: helm_render(chart, env) for env in ENVIRONMENTS}
    files = sorted((project / "deploy" / "manifests").glob("*.yaml"))
    return {"manifests": [doc for f in files for doc in load_yaml_documents(f.read_text())]}


def _one(objects: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _container(objects: list[Manifest]) -> Manifest:
    containers = _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: Manifest = containers[0]
    return result


def _each_set(project: Path) -> Iterator[tuple[str, list[Manifest]]]:
    yield from manifest_sets(project).items()


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity as a number (cores or bytes)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _resolve_port(port: str | int, container: Manifest) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    return int(named[port])


# --- layout --------------------------------------------------------------------------------


@pytest.mark.parametrize("gitops", question_choices("gitops"))
def test_no_deploy_directory_without_kubernetes(rendered: Renderer, gitops: str) -> None:
    """kubernetes=none renders no deploy/ at all, whatever gitops says."""
    project = rendered({"kubernetes": "none", "gitops": gitops})
    assert not (project / "deploy").exists()
    assert (project / "Dockerfile").is_file()


def test_layout_follows_the_answers(project: Path) -> None:
    """Only the chosen variant and, with Argo CD or Flux, its objects are rendered."""
    kubernetes = _answer(project, "kubernetes")
    deploy = project / "deploy"
    assert (deploy / "kustomize").is_dir() == (kubernetes == "kustomize")
    assert (deploy / "manifests").is_dir() == (kubernetes == "manifests")
    assert (deploy / "helm").is_dir() == (kubernetes == "helm")
    assert (deploy / "argocd").is_dir() == (_answer(project, "gitops") == "argocd")
    assert (deploy / "flux").is_dir() == (_answer(project, "gitops") == "flux")
    assert (deploy / "README.md").is_file()
    if kubernetes == "kustomize":
        overlays = sorted(p.name for p in (deploy / "kustomize" / "overlays").iterdir())
        assert overlays == sorted(ENVIRONMENTS)
    leftovers = [p for p in deploy.rglob("*") if p.suffix == ".jinja" or "{{" in p.name]
    assert not leftovers
    for path in deploy.rglob("*.yaml"):
        assert unrendered_jinja(path.read_text()) is None, path


def test_kustomizations_use_current_fields(kustomize_project: Path) -> None:
    """Kustomizations use labels: and patches:, none of the deprecated fields."""
    project = kustomize_project
    assert _answer(project, "kubernetes") == "kustomize"
    for path in (project / "deploy" / "kustomize").rglob("kustomization.yaml"):
        kustomization = yaml.safe_load(path.read_text())
        assert not DEPRECATED_KUSTOMIZE_FIELDS & kustomization.keys(), path
    for env in ENVIRONMENTS:
        overlay = project / "deploy" / "kustomize" / "overlays" / env / "kustomization.yaml"
        kustomization = yaml.safe_load(overlay.read_text())
        assert kustomization["labels"]
        assert kustomization["patches"]
        assert kustomization["images"]


# --- build, schema, scanners -----------------------------------------------------------------


def test_every_object_passes_strict_schema_validation(project: Path) -> None:
    """Every object of every overlay (or manifest) is valid for each pinned Kubernetes."""
    validator = require_module("kubernetes_validate")
    checked = 0
    for source, objects in _each_set(project):
        for obj in objects:
            if obj["kind"] in CUSTOM_KINDS:
                continue
            for version in KUBERNETES_VERSIONS:
                try:
                    validator.validate(obj, version, strict=True)
                except validator.ValidationError as error:
                    pytest.fail(f"{source}: {obj['kind']}/{obj['metadata']['name']}: {error}")
                checked += 1
    # ServiceAccount, ConfigMap, Deployment, Service, PDB, two NetworkPolicies, and but for the
    # chart (its namespace is the release's) the Namespace, in every set.
    per_set = 7 if _answer(project, "kubernetes") == "helm" else 8
    assert checked >= per_set * len(KUBERNETES_VERSIONS) * len(manifest_sets(project))


@pytest.fixture(params=WITH_KEDA, ids=_ids)
def keda_project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project whose Deployment KEDA scales."""
    return rendered(request.param)


def _keda_validator() -> Any:
    jsonschema = require_module("jsonschema")
    schema = json.loads(KEDA_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_scaled_objects_pass_the_keda_crd_schema(keda_project: Path) -> None:
    """Every ScaledObject is valid for KEDA's CRD, unknown fields rejected; no HPA beside it."""
    validator = _keda_validator()
    for source, objects in _each_set(keda_project):
        assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"], source
        scaled = _one(objects, "ScaledObject")
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(scaled)
        ]
        assert not errors, f"{source}: {errors}"
        spec = scaled["spec"]
        # The CRD's CEL rule, which jsonschema does not evaluate.
        assert spec["minReplicaCount"] <= spec["maxReplicaCount"], source


def test_the_keda_schema_rejects_what_the_crd_rejects() -> None:
    """The vendored schema is closed where the CRD is: an HPA field name or a number fails."""
    validator = _keda_validator()
    good = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x", "namespace": "x"},
        "spec": {
            "scaleTargetRef": {"name": "x"},
            "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}],
        },
    }
    assert not list(validator.iter_errors(good))
    misspelt = json.loads(json.dumps(good))
    misspelt["spec"]["minReplicas"] = 1
    assert list(validator.iter_errors(misspelt))
    numeric = json.loads(json.dumps(good))
    numeric["spec"]["triggers"][0]["metadata"]["value"] = 70
    assert list(validator.iter_errors(numeric))


@pytest.fixture(params=WITH_OPERATOR, ids=_ids)
def operator_project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project with the Prometheus Operator's objects."""
    return rendered(request.param)


def _operator_validators() -> dict[str, Any]:
    """The vendored CRD schema validator of each Prometheus Operator kind, by kind."""
    jsonschema = require_module("jsonschema")
    validators: dict[str, Any] = {}
    for kind in OPERATOR_KINDS:
        path = OPERATOR_SCHEMAS / f"{kind.lower()}.schema.json"
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        validators[kind] = jsonschema.Draft202012Validator(schema)
    return validators


def test_operator_objects_pass_the_prometheus_operator_crd_schemas(operator_project: Path) -> None:
    """Every ServiceMonitor and PrometheusRule is valid for its CRD, unknown fields rejected."""
    validators = _operator_validators()
    for source, objects in _each_set(operator_project):
        found = [o for o in objects if o["kind"] in OPERATOR_KINDS]
        assert sorted(o["kind"] for o in found) == sorted(OPERATOR_KINDS), source
        for obj in found:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            errors = [
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validators[obj["kind"]].iter_errors(obj)
            ]
            assert not errors, f"{source}: {obj['kind']}: {errors}"


def test_the_operator_schemas_reject_what_the_crds_reject() -> None:
    """The vendored schemas are closed where the CRDs are: an invented field or a bad duration."""
    validators = _operator_validators()
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x", "namespace": "x"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "endpoints": [{"port": "http", "interval": "30s"}]},
    }  # fmt: skip
    assert not list(validators["ServiceMonitor"].iter_errors(monitor))
    invented = json.loads(json.dumps(monitor))
    invented["spec"]["endpoints"][0]["bearerToken"] = "secret"
    assert list(validators["ServiceMonitor"].iter_errors(invented))
    duration = json.loads(json.dumps(monitor))
    duration["spec"]["endpoints"][0]["interval"] = "30 seconds"
    assert list(validators["ServiceMonitor"].iter_errors(duration))
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "x", "namespace": "x"},
        "spec": {"groups": [{"name": "g", "rules": [{"record": "r", "expr": "up"}]}]},
    }
    assert not list(validators["PrometheusRule"].iter_errors(rule))
    misspelt = json.loads(json.dumps(rule))
    misspelt["spec"]["groups"][0]["rules"][0]["expression"] = "up"
    assert list(validators["PrometheusRule"].iter_errors(misspelt))


def _scan_dir(project: Path, scan: Path) -> Path:
    """Copy the container and Kubernetes files as written, plus every built overlay."""
    shutil.copytree(project / "deploy", scan / "deploy")
    shutil.copy(project / "Dockerfile", scan / "Dockerfile")
    built = scan / "built"
    built.mkdir()
    for source, objects in _each_set(project):
        (built / f"{source}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return scan


def _documented_suppressions() -> set[str]:
    table = SECURITY_DOC.read_text(encoding="utf-8").split("## Suppressions", 1)[1]
    table = table.split("\n## ", 1)[0]
    return set(re.findall(r"^\| \w+ \| `([A-Z0-9_-]+)`", table, flags=re.MULTILINE))


def test_checkov_fails_no_check(rendered: Renderer, tmp_path: Path) -> None:
    """checkov (dockerfile, kubernetes; offline) fails nothing, skips only documented checks.

    One checkov run covers every combination (a directory each): its start-up dominates.
    """
    checkov = require_tool("checkov")
    scan = tmp_path / "scan"
    for answers in WITH_KUBERNETES:
        _scan_dir(rendered(answers), scan / _ids(answers))
    result = run(
        [checkov, "-d", scan, "--framework", "dockerfile", "kubernetes", "--skip-download",
         "--compact", "-o", "json"],
        cwd=tmp_path,
    )  # fmt: skip
    reports = {report["check_type"]: report for report in json.loads(result.stdout)}
    assert set(reports) == {"dockerfile", "kubernetes"}
    failed: dict[str, list[str]] = {}
    scanned: set[str] = set()
    for report in reports.values():
        results = report["results"]
        for outcome in ("passed_checks", "failed_checks", "skipped_checks"):
            for check in results.get(outcome, []):
                combination = check["file_path"].strip("/").split("/")[0]
                scanned.add(combination)
                if outcome == "failed_checks":
                    failed.setdefault(combination, []).append(
                        f"{check['check_id']} {check['file_path']} {check['resource']}"
                    )
        skipped = {c["check_id"] for c in results.get("skipped_checks", [])}
        assert skipped <= _documented_suppressions(), skipped
    assert not failed, failed
    assert scanned == {_ids(answers) for answers in WITH_KUBERNETES}


def test_trivy_finds_nothing(rendered: Renderer, tmp_path: Path) -> None:
    """Trivy's config scan (built-in checks, offline) finds nothing at any severity.

    One Trivy run covers every combination (a directory each), like checkov above.
    """
    trivy = require_tool("trivy")
    scan = tmp_path / "scan"
    expected: set[str] = set()
    for answers in WITH_KUBERNETES:
        project = rendered(answers)
        _scan_dir(project, scan / _ids(answers))
        expected |= {f"{_ids(answers)}/built/{source}.yaml" for source in manifest_sets(project)}
        expected.add(f"{_ids(answers)}/Dockerfile")
    result = run(
        [trivy, "config", "--skip-check-update", "--quiet", "--exit-code", "1",
         "--format", "json", "--cache-dir", tmp_path / "cache", scan],
        cwd=tmp_path,
    )  # fmt: skip
    summaries = {r["Target"]: r["MisconfSummary"] for r in json.loads(result.stdout)["Results"]}
    assert expected <= set(summaries)
    assert not {t: s for t, s in summaries.items() if s["Failures"]}
    assert all(summary["Successes"] > 0 for summary in summaries.values())


def test_every_inline_suppression_is_documented(project: Path) -> None:
    """Suppression markers in rendered files name only checks listed in docs/security.md."""
    marker = re.compile(
        r"(?:checkov\.io/skip\d+:\s*>?-?\s*|checkov:skip=|hadolint ignore=|trivy:ignore:)"
        r"([A-Z][A-Z0-9_-]+)"
    )
    found: set[str] = set()
    for path in [project / "Dockerfile", *(project / "deploy").rglob("*.yaml")]:
        found |= set(marker.findall(path.read_text(encoding="utf-8")))
    assert found <= _documented_suppressions()


# --- properties the scanners do not check ----------------------------------------------------


def _replica_bounds(objects: list[Manifest]) -> tuple[int, int, int]:
    """(floor at any hour, floor in working hours, maximum) of the autoscaler in a set."""
    hpas = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    if hpas:
        (hpa,) = hpas
        return hpa["spec"]["minReplicas"], hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
    spec = _one(objects, "ScaledObject")["spec"]
    cron = [int(t["metadata"]["desiredReplicas"]) for t in spec["triggers"] if t["type"] == "cron"]
    floor = spec["minReplicaCount"]
    return floor, max([floor, *cron]), spec["maxReplicaCount"]


def test_autoscaler_owns_the_replica_count(project: Path) -> None:
    """The Deployment sets no replicas; an HPA or a KEDA ScaledObject scales it on CPU and
    in-flight requests (KEDA also on a working-hours schedule)."""
    for source, objects in _each_set(project):
        deployment = _one(objects, "Deployment")
        assert "replicas" not in deployment["spec"], source
        target = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment["metadata"]["name"],
        }
        floor, working, maximum = _replica_bounds(objects)
        assert 0 <= floor <= working <= maximum, source
        assert working >= 1, f"{source}: no pod even in working hours"
        if _answer(project, "k8s_autoscaler") == "hpa":
            hpa = _one(objects, "HorizontalPodAutoscaler")
            assert not [o for o in objects if o["kind"] == "ScaledObject"], source
            assert hpa["apiVersion"] == "autoscaling/v2"
            assert hpa["spec"]["scaleTargetRef"] == target
            metrics = {
                (m["type"], m[m["type"][0].lower() + m["type"][1:]].get("name"))
                if m["type"] == "Resource"
                else (m["type"], m["pods"]["metric"]["name"])
                for m in hpa["spec"]["metrics"]
            }
            assert metrics == {("Resource", "cpu"), ("Pods", "http_requests_in_flight")}
            continue
        scaled = _one(objects, "ScaledObject")
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        assert scaled["spec"]["scaleTargetRef"] == target
        triggers = {t["type"]: t for t in scaled["spec"]["triggers"]}
        assert set(triggers) == {"cron", "prometheus", "cpu"}, source
        cron = triggers["cron"]["metadata"]
        assert cron["timezone"]
        assert cron["start"] != cron["end"]
        # The query must count this environment's pods, not another overlay's, nor another
        # job's series of the same name.
        namespace = scaled["metadata"]["namespace"]
        prometheus = triggers["prometheus"]["metadata"]
        query = prometheus["query"]
        assert "http_requests_in_flight" in query
        assert re.findall(r'namespace="([^"]+)"', query) == [namespace], (source, query)
        assert re.findall(r'job="([^"]+)"', query) == [_answer(project, "project_slug")]
        assert float(prometheus["threshold"]) > 0
        # One setting: the answer, unchanged by any overlay.
        assert prometheus["serverAddress"] == _answer(project, "prometheus_url"), source


def test_pdb_agrees_with_the_hpa_minimum(project: Path) -> None:
    """At the HPA minimum the PDB allows one eviction, and keeps a pod when there are two."""
    for source, objects in _each_set(project):
        deployment = _one(objects, "Deployment")
        pdb = _one(objects, "PodDisruptionBudget")
        minimum = _replica_bounds(objects)[0]
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"], source
        if "maxUnavailable" in pdb["spec"]:
            allowed = int(pdb["spec"]["maxUnavailable"])
        else:
            allowed = minimum - int(pdb["spec"]["minAvailable"])
        assert allowed >= 1, f"{source}: the PDB blocks every drain at {minimum} replicas"
        if minimum >= 2:
            assert allowed < minimum, f"{source}: the PDB lets every pod go at once"


def test_probes_differ_and_hit_the_service_endpoints(project: Path) -> None:
    """Startup, readiness (/readyz) and liveness (/healthz) probes exist and differ."""
    for source, objects in _each_set(project):
        container = _container(objects)
        startup = container["startupProbe"]
        readiness = container["readinessProbe"]
        liveness = container["livenessProbe"]
        assert readiness["httpGet"]["path"] == "/readyz", source
        assert liveness["httpGet"]["path"] == "/healthz", source
        assert readiness != liveness
        assert startup not in (readiness, liveness)
        # The startup probe must leave time to boot before liveness can kill the pod.
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 30


def test_ports_agree_across_dockerfile_service_probes_and_network_policy(project: Path) -> None:
    """One port everywhere: EXPOSE, CMD, containerPort, Service target, probes, policy."""
    exposed = {
        int(i.arguments)
        for i in dockerfile_instructions(project / "Dockerfile")
        if i.keyword == "EXPOSE"
    }
    assert exposed == {int(dockerfile_env(project / "Dockerfile")["PORT"])}
    (port,) = exposed
    for source, objects in _each_set(project):
        container = _container(objects)
        assert [p["containerPort"] for p in container["ports"]] == [port], source
        service = _one(objects, "Service")
        assert (
            service["spec"]["selector"]
            == _one(objects, "Deployment")["spec"]["selector"]["matchLabels"]
        )
        targets = {_resolve_port(p["targetPort"], container) for p in service["spec"]["ports"]}
        assert targets == {port}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert _resolve_port(container[probe]["httpGet"]["port"], container) == port
        app_policy = _one(objects, "NetworkPolicy", _one(objects, "Deployment")["metadata"]["name"])
        ingress_ports = {
            _resolve_port(p["port"], container)
            for rule in app_policy["spec"]["ingress"]
            for p in rule["ports"]
        }
        assert ingress_ports == {port}
        # Only a plain Prometheus discovers pods by annotation; the Operator reads the
        # ServiceMonitor, and an annotation-driven scraper would hit /metrics without the token.
        annotations = _one(objects, "Deployment")["spec"]["template"]["metadata"].get(
            "annotations", {}
        )
        if _answer(project, "k8s_monitoring") == "prometheus":
            assert int(annotations["prometheus.io/port"]) == port
            assert annotations["prometheus.io/path"] == "/metrics"
        else:
            assert not {k for k in annotations if k.startswith("prometheus.io/")}, source


def test_user_matches_the_dockerfile_and_the_pod_is_restricted(project: Path) -> None:
    """runAsUser/Group equal the Dockerfile's USER; the pod meets the restricted profile."""
    user = [i for i in dockerfile_instructions(project / "Dockerfile") if i.keyword == "USER"]
    uid, gid = (int(part) for part in user[-1].arguments.split(":"))
    for source, objects in _each_set(project):
        pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
        container = _container(objects)
        for context in (pod["securityContext"], container["securityContext"]):
            assert context["runAsUser"] == uid, source
            assert context["runAsGroup"] == gid, source
            assert context["runAsNonRoot"] is True
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
        if _answer(project, "kubernetes") == "helm":
            # The release's namespace; whoever creates it labels it (test_helm.py checks how).
            name = helm_chart.release_namespace(
                project / "deploy" / "helm" / _answer(project, "project_slug"), source
            )
            assert not [o for o in objects if o["kind"] == "Namespace"], source
        else:
            namespace = _one(objects, "Namespace")
            labels = namespace["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
            name = namespace["metadata"]["name"]
        for obj in objects:
            if obj["kind"] not in {"Namespace", *ARGO_KINDS}:
                assert obj["metadata"]["namespace"] == name, source


def test_shutdown_outlasts_prestop_plus_the_uvicorn_timeout(project: Path) -> None:
    """terminationGracePeriodSeconds > preStop pause + the service's graceful-shutdown timeout."""
    shutdown = int(dockerfile_env(project / "Dockerfile")["SHUTDOWN_TIMEOUT_SECONDS"])
    for source, objects in _each_set(project):
        pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
        pre_stop = _container(objects)["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pod["terminationGracePeriodSeconds"] > pre_stop + shutdown, source


def test_identity_resources_and_placement(project: Path) -> None:
    """Dedicated ServiceAccount without a token; requests <= limits; pods spread; pull policy."""
    for source, objects in _each_set(project):
        deployment = _one(objects, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        account = _one(objects, "ServiceAccount", pod["serviceAccountName"])
        assert account["automountServiceAccountToken"] is False, source
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] != "default"
        container = _container(objects)
        resources = container["resources"]
        for resource in ("cpu", "memory", "ephemeral-storage"):
            request = _quantity(resources["requests"][resource])
            assert 0 < request <= _quantity(resources["limits"][resource]), (source, resource)
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        assert container["imagePullPolicy"]


def test_settings_come_from_config_and_secrets_from_files(project: Path) -> None:
    """Env names are the service's settings; the Secret is referenced and mounted, never stored."""
    slug = _answer(project, "project_slug")
    for source, objects in _each_set(project):
        assert not [o for o in objects if o["kind"] == "Secret"], source
        container = _container(objects)
        (config_ref,) = container["envFrom"]
        config = _one(objects, "ConfigMap", config_ref["configMapRef"]["name"])
        env = {e["name"]: e for e in container["env"]}
        assert not [e for e in env.values() if "valueFrom" in e], "secrets must be files"
        assert set(config["data"]) | set(env) <= SERVICE_SETTINGS, source
        assert not set(config["data"]) & set(env), "a setting defined twice"
        assert config["data"]["LLM_PROVIDER"] in {"auto", "fake", _answer(project, "llm_provider")}
        pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/run/secrets/app")
        assert env["SECRETS_DIR"]["value"] == mount["mountPath"]
        assert mount["readOnly"] is True
        assert volumes[mount["name"]]["secret"]["secretName"] == f"{slug}-secrets"


# The Prometheus Operator's objects, by file: kustomize base, plain manifests, chart templates.
OPERATOR_FILES = {
    "kustomize": ("servicemonitor.yaml", "prometheusrule.yaml", "grafana-dashboard.yaml"),
    "manifests": ("80-servicemonitor.yaml", "81-prometheusrule.yaml", "82-grafana-dashboard.yaml"),
    "helm": ("servicemonitor.yaml", "prometheusrule.yaml", "grafana-dashboard.yaml"),
}


def _dashboards(objects: list[Manifest]) -> list[Manifest]:
    return [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"].get("labels", {}).get("grafana_dashboard")
    ]


def test_operator_objects_follow_the_monitoring_answer(project: Path) -> None:
    """prometheus-operator renders a ServiceMonitor, a PrometheusRule and a dashboard
    ConfigMap (in the base's resources); a plain Prometheus gets none of them."""
    layout = _answer(project, "kubernetes")
    operator = _answer(project, "k8s_monitoring") == "prometheus-operator"
    directory = (
        project
        / "deploy"
        / layout
        / {
            "kustomize": "base",
            "helm": f"{_answer(project, 'project_slug')}/templates",
        }.get(layout, "")
    )
    for name in OPERATOR_FILES[layout]:
        assert (directory / name).is_file() == operator, name
    if layout == "kustomize":
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        listed = set(OPERATOR_FILES[layout]) & set(kustomization["resources"])
        assert listed == (set(OPERATOR_FILES[layout]) if operator else set())
    for source, objects in _each_set(project):
        kinds = [o["kind"] for o in objects if o["kind"] in OPERATOR_KINDS]
        assert sorted(kinds) == (sorted(OPERATOR_KINDS) if operator else []), source
        assert len(_dashboards(objects)) == (1 if operator else 0), source
        operator_objects = [o for o in objects if o["kind"] in OPERATOR_KINDS]
        for obj in [*operator_objects, *_dashboards(objects)]:
            # kube-prometheus-stack's default selectors only pick up its release's objects.
            assert RELEASE_LABEL.items() <= obj["metadata"]["labels"].items(), source


def test_service_monitor_scrapes_the_service_with_the_mounted_token(
    operator_project: Path,
) -> None:
    """The ServiceMonitor selects the Service by its labels and port name, scrapes /metrics
    every 30 s as job <slug>, and sends the token of the Secret key the pod mounts."""
    project = operator_project
    slug = _answer(project, "project_slug")
    for source, objects in _each_set(project):
        monitor = _one(objects, "ServiceMonitor")
        service = _one(objects, "Service")
        spec = monitor["spec"]
        # The Secret and the Service must be in the ServiceMonitor's own namespace.
        assert "namespaceSelector" not in spec, source
        assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
        assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert "matchExpressions" not in spec["selector"]
        # The rules and the dashboard select job="<slug>" in every environment.
        assert service["metadata"]["labels"][spec.get("jobLabel", "")] == slug, source
        (endpoint,) = spec["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["path"] == "/metrics"
        assert endpoint["interval"] == "30s"
        credentials = endpoint["authorization"]["credentials"]
        assert endpoint["authorization"].get("type", "Bearer") == "Bearer"
        assert credentials["key"] == METRICS_TOKEN_KEY
        pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
        secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert credentials["name"] in secrets, source


def test_the_documented_secret_holds_the_metrics_token(project: Path) -> None:
    """deploy/README.md creates the Secret with metrics_token, so /metrics needs a token."""
    readme = (project / "deploy" / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"kubectl .*create secret generic (?:.*\\\n)*.*", readme)
    assert f"--from-literal={METRICS_TOKEN_KEY}=" in command
    assert f"secretKey: {METRICS_TOKEN_KEY}" in readme


def test_prometheus_rule_and_dashboard_carry_the_monitoring_sources(
    operator_project: Path,
) -> None:
    """The PrometheusRule's spec is monitoring/prometheus/rules.yml and the dashboard
    ConfigMap holds monitoring/grafana/dashboard.json, as the Grafana sidecar loads it."""
    project = operator_project
    slug = _answer(project, "project_slug")
    rules = yaml.safe_load((project / "monitoring" / "prometheus" / "rules.yml").read_text())
    dashboard = json.loads((project / "monitoring" / "grafana" / "dashboard.json").read_text())
    assert rules["groups"]
    for source, objects in _each_set(project):
        assert _one(objects, "PrometheusRule")["spec"] == rules, source
        (config,) = _dashboards(objects)
        assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert set(config["data"]) == {f"{slug}.json"}
        assert json.loads(config["data"][f"{slug}.json"]) == dashboard, source


def test_network_policy_denies_by_default_and_allows_dns_and_https(project: Path) -> None:
    """A default deny for the namespace; the app may reach DNS and HTTPS (and OTLP with otel)."""
    for source, objects in _each_set(project):
        policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
        deny = [p for p in policies if p["spec"]["podSelector"] == {}]
        assert len(deny) == 1, source
        assert deny[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert "ingress" not in deny[0]["spec"]
        assert "egress" not in deny[0]["spec"]
        app = _one(objects, "NetworkPolicy", _one(objects, "Deployment")["metadata"]["name"])
        egress = {
            (p["port"], p["protocol"]) for rule in app["spec"]["egress"] for p in rule["ports"]
        }
        expected = {(53, "UDP"), (53, "TCP"), (443, "TCP")}
        if _answer(project, "otel"):
            expected |= {(4317, "TCP"), (4318, "TCP")}
        if _answer(project, "state_backend") == "redis":
            expected |= {(6379, "TCP")}
        assert egress == expected


# What the NetworkPolicy must never let the pod reach, and who may call it, by default.
METADATA_ADDRESS = "169.254.169.254/32"
API_ADDRESS_RANGE = "10.96.0.0/12"
INGRESS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
}
MONITORING_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}


def test_network_policy_admits_only_the_ingress_controller_and_prometheus(project: Path) -> None:
    """Ingress comes from the ingress controller's namespace and from Prometheus in
    monitoring, each a rule of its own on the HTTP port only; nothing else may call in."""
    port = int(dockerfile_env(project / "Dockerfile")["PORT"])
    for source, objects in _each_set(project):
        container = _container(objects)
        app = _one(objects, "NetworkPolicy", _one(objects, "Deployment")["metadata"]["name"])
        peers = []
        for rule in app["spec"]["ingress"]:
            assert rule.get("from") in ([INGRESS_PEER], [MONITORING_PEER]), (
                f"{source}: ingress open to {rule.get('from')}"
            )
            ports = [(_resolve_port(p["port"], container), p["protocol"]) for p in rule["ports"]]
            assert ports == [(port, "TCP")], source
            peers += rule["from"]
        assert sorted(map(json.dumps, peers)) == sorted(
            map(json.dumps, [INGRESS_PEER, MONITORING_PEER])
        ), source


def test_network_policy_egress_excludes_the_api_and_the_metadata_address(project: Path) -> None:
    """Egress other than DNS goes to ipBlocks that except the API range and 169.254.169.254."""
    for source, objects in _each_set(project):
        app = _one(objects, "NetworkPolicy", _one(objects, "Deployment")["metadata"]["name"])
        for rule in app["spec"]["egress"]:
            ports = {p["port"] for p in rule["ports"]}
            assert rule.get("to"), f"{source}: egress on {ports} to any address"
            if ports == {53}:
                (peer,) = rule["to"]
                assert peer["namespaceSelector"]["matchLabels"] == {
                    "kubernetes.io/metadata.name": "kube-system"
                }
                assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
                continue
            for peer in rule["to"]:
                assert set(peer) == {"ipBlock"}, f"{source}: {peer} is not an ipBlock"
                excepted = set(peer["ipBlock"]["except"])
                assert {METADATA_ADDRESS, API_ADDRESS_RANGE} <= excepted, (source, ports)


def _build_with_documented_patch(
    project: Path, tmp_path: Path, marker: str, values: Mapping[str, str] | None = None
) -> list[Manifest]:
    """Build the dev overlay with the patches of the deploy/README.md block naming ``marker``.

    ``values`` fills the block's placeholders, as a reader would.
    """
    readme = (project / "deploy" / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    (block,) = [textwrap.dedent(b) for b in blocks if marker in b]
    for placeholder, value in (values or {}).items():
        block = block.replace(placeholder, value)
    documented = yaml.safe_load(block)
    kustomize = tmp_path / "kustomize"
    shutil.copytree(project / "deploy" / "kustomize", kustomize)
    overlay = kustomize / "overlays" / "dev"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text(encoding="utf-8"))
    kustomization["patches"] += documented["patches"]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    kubectl = require_tool("kubectl")
    return load_yaml_documents(run([kubectl, "kustomize", overlay], cwd=overlay).stdout)


def test_documented_network_policy_patch_builds(kustomize_project: Path, tmp_path: Path) -> None:
    """The patch deploy/README.md shows changes the ingress and Prometheus peers and the API
    range."""
    objects = _build_with_documented_patch(kustomize_project, tmp_path, "kind: NetworkPolicy")
    app = _one(objects, "NetworkPolicy", _one(objects, "Deployment")["metadata"]["name"])
    ingress = app["spec"]["ingress"]
    assert ingress[0]["from"] != [INGRESS_PEER]
    assert ingress[1]["from"] != [MONITORING_PEER]
    assert [len(rule["from"]) for rule in ingress] == [1, 1]
    assert API_ADDRESS_RANGE not in app["spec"]["egress"][1]["to"][0]["ipBlock"]["except"]


def test_documented_release_label_patch_builds(rendered: Renderer, tmp_path: Path) -> None:
    """The release-label patch deploy/README.md shows relabels the Operator's objects only."""
    objects = _build_with_documented_patch(
        rendered({}), tmp_path, "/metadata/labels/release", {"<your release>": "prometheus"}
    )
    # The dashboard ConfigMap keeps its label: Grafana's sidecar reads grafana_dashboard only.
    labelled = {o["kind"] for o in objects if o["metadata"]["labels"].get("release")}
    assert labelled == OPERATOR_KINDS | {"ConfigMap"}
    for obj in objects:
        if obj["kind"] in OPERATOR_KINDS:
            assert obj["metadata"]["labels"]["release"] == "prometheus", obj["kind"]


def test_overlays_differ_where_environments_should(kustomize_project: Path) -> None:
    """Namespaces, image tags, replica bounds and resources differ between environments."""
    project = kustomize_project
    sets = manifest_sets(project)
    slug = _answer(project, "project_slug")
    namespaces = {env: _one(sets[env], "Namespace")["metadata"]["name"] for env in ENVIRONMENTS}
    assert namespaces == {env: f"{slug}-{env}" for env in ENVIRONMENTS}
    bounds = [_replica_bounds(sets[env]) for env in ENVIRONMENTS]
    minimums = [working for _, working, _ in bounds]
    assert minimums == sorted(minimums)
    assert len(set(minimums)) == len(ENVIRONMENTS)
    assert len({maximum for _, _, maximum in bounds}) == len(ENVIRONMENTS)
    # Off hours nothing but prod may keep pods it does not need (a floor of two in two zones).
    floors = {env: floor for env, (floor, _, _) in zip(ENVIRONMENTS, bounds, strict=True)}
    if _answer(project, "k8s_autoscaler") == "keda":
        assert floors["dev"] == floors["staging"] == 0
        assert floors["prod"] >= 2
    images = {env: _container(sets[env])["image"] for env in ENVIRONMENTS}
    assert all(image.split(":")[0] == slug for image in images.values())
    # No environment tracks a mutable tag: the CKV_K8S_43 reason says each is pinned by digest.
    assert not {env for env, image in images.items() if image.split(":")[1] in MUTABLE_TAGS}
    resources = [json.dumps(_container(sets[env])["resources"]) for env in ENVIRONMENTS]
    assert len(set(resources)) == len(ENVIRONMENTS)


def _normalized(objects: list[Manifest]) -> dict[tuple[str, str], Manifest]:
    """Objects keyed by kind and name, minus what kustomize adds (labels, name hashes)."""
    added = {"app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"}
    result: dict[tuple[str, str], Manifest] = {}
    for original in objects:
        obj = json.loads(json.dumps(original))
        name = re.sub(r"-config-[a-z0-9]{10}$", "-config", obj["metadata"]["name"])
        obj["metadata"]["name"] = name
        for holder in (obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata")):
            if holder and "labels" in holder:
                holder["labels"] = {k: v for k, v in holder["labels"].items() if k not in added}
                if not holder["labels"]:
                    del holder["labels"]
        if obj["kind"] == "Deployment":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                for source in container.get("envFrom", []):
                    ref = source["configMapRef"]
                    ref["name"] = re.sub(r"-config-[a-z0-9]{10}$", "-config", ref["name"])
        result[(obj["kind"], name)] = obj
    return result


@pytest.mark.parametrize(
    "answers",
    [{}, {"k8s_autoscaler": "keda"}, {"k8s_monitoring": "prometheus"},
     *({"llm_provider": p, "otel": True} for p in question_choices("llm_provider"))],
    ids=_ids,
)  # fmt: skip
def test_plain_manifests_match_the_kustomize_base(
    rendered: Renderer, answers: dict[str, Any]
) -> None:
    """deploy/manifests holds the same objects as the kustomize base, so neither drifts."""
    base = rendered({**answers, "kubernetes": "kustomize"}) / "deploy" / "kustomize" / "base"
    manifests = manifest_sets(rendered({**answers, "kubernetes": "manifests"}))["manifests"]
    assert _normalized(_kustomize(base)) == _normalized(manifests)


def test_argocd_applications_point_at_what_builds(argocd_project: Path) -> None:
    """Each Application's path exists and builds into its destination namespace and project."""
    project = argocd_project
    assert _answer(project, "gitops") == "argocd"
    argocd = project / "deploy" / "argocd"
    documents = [
        d for f in sorted(argocd.glob("*.yaml")) for d in load_yaml_documents(f.read_text())
    ]
    assert {d["kind"] for d in documents} == ARGO_KINDS
    assert all(d["apiVersion"] == "argoproj.io/v1alpha1" for d in documents)
    project_spec = _one(documents, "AppProject")["spec"]
    allowed_kinds = {
        (r["group"], r["kind"])
        for r in project_spec["clusterResourceWhitelist"]
        + project_spec["namespaceResourceWhitelist"]
    }
    applications = [d for d in documents if d["kind"] == "Application"]
    sets = manifest_sets(project)
    assert len(applications) == len(sets)
    for application in applications:
        spec = application["spec"]
        assert spec["project"] == _one(documents, "AppProject")["metadata"]["name"]
        assert spec["source"]["repoURL"] in project_spec["sourceRepos"]
        source_dir = project / spec["source"]["path"]
        assert source_dir.is_dir(), spec["source"]["path"]
        if "helm" in spec["source"]:
            # A release of the chart with the environment's values file, in a namespace that
            # Argo CD creates with the Pod Security labels the kustomize Namespace carries.
            (values_file,) = spec["source"]["helm"]["valueFiles"]
            assert (source_dir / values_file).is_file(), values_file
            env = values_file.removeprefix("values-").removesuffix(".yaml")
            namespace = helm_chart.release_namespace(source_dir, env)
            assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
            labels = spec["syncPolicy"]["managedNamespaceMetadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        else:
            env = source_dir.name if source_dir.parent.name == "overlays" else "manifests"
            namespace = _one(sets[env], "Namespace")["metadata"]["name"]
        objects = sets[env]
        assert spec["destination"]["namespace"] == namespace
        assert {"server": spec["destination"]["server"], "namespace": namespace} in project_spec[
            "destinations"
        ]
        for obj in objects:
            group = obj["apiVersion"].rpartition("/")[0]
            assert (group, obj["kind"]) in allowed_kinds, obj["kind"]
        # Production is synced by a person, never on merge.
        if env in {"prod", "manifests"}:
            assert "automated" not in spec["syncPolicy"]
