"""The Helm chart (kubernetes: helm): it lints strictly, renders what kustomize builds, and its
schema refuses bad values. Properties every flavor shares are in tests/test_kubernetes.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from goldpath import helm_chart
from tests.helpers import load_yaml_documents, require_module, run
from tests.test_flux import flux_errors, flux_objects
from tests.test_kubernetes import (
    ENVIRONMENTS,
    WITH_KUBERNETES,
    Manifest,
    _answer,
    _container,
    _ids,
    _kustomize,
    _one,
    helm_render,
)

Renderer = Callable[[Mapping[str, Any]], Path]
WITH_HELM = [c for c in WITH_KUBERNETES if c.get("kubernetes") == "helm"]
DIGEST = "sha256:" + "ab" * 32
# Sampled so that every value of each answer that changes the chart appears once.
MATCHING = [
    {},
    {"k8s_autoscaler": "keda", "k8s_monitoring": "prometheus"},
    {"state_backend": "redis", "otel": True, "llm_provider": "bedrock"},
    {"k8s_autoscaler": "keda", "prometheus_url": "https://prometheus.example.internal:9443"},
]


@pytest.fixture(params=WITH_HELM, ids=_ids)
def helm_project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project with a Helm chart (shared: never mutate it)."""
    return rendered(request.param)


def _chart(project: Path) -> Path:
    (chart,) = helm_chart.chart_dirs(project)
    assert chart.name == _answer(project, "project_slug")
    return chart


def _sdk() -> Any:
    require_module(helm_chart.MODULE)
    import helm_python

    return helm_python


def test_the_chart_has_its_files_and_versions(helm_project: Path) -> None:
    """Chart.yaml (version, appVersion), values, schema, NOTES.txt, one values file per env."""
    chart = _chart(helm_project)
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    assert metadata["apiVersion"] == "v2"
    assert metadata["version"] == metadata["appVersion"] == "0.1.0"
    for name in ("values.yaml", "values.schema.json", "templates/NOTES.txt"):
        assert (chart / name).is_file(), name
    assert sorted(p.name for p in chart.glob("values-*.yaml")) == sorted(
        f"values-{env}.yaml" for env in ENVIRONMENTS
    )


def test_each_environment_lints_strictly(helm_project: Path) -> None:
    """helm lint --strict with each environment's values finds nothing (warnings fail too)."""
    _sdk()
    chart = _chart(helm_project)
    for env in ENVIRONMENTS:
        assert helm_chart.lint_chart(chart, environment=env) == [], env


def _comparable(objects: list[Manifest], slug: str) -> dict[tuple[str, str], Manifest]:
    """Objects by kind and name, minus what only one tool adds (managed-by, chart, version
    and the config checksum from Helm; the ConfigMap name hash from kustomize)."""
    added = {"app.kubernetes.io/managed-by", "app.kubernetes.io/version", "helm.sh/chart"}
    result: dict[tuple[str, str], Manifest] = {}
    for original in objects:
        if original["kind"] == "Namespace":
            continue
        obj = json.loads(json.dumps(original))
        text = json.dumps(obj)
        for hashed in {w for w in text.split('"') if w.startswith(f"{slug}-config-")}:
            text = text.replace(f'"{hashed}"', f'"{slug}-config"')
        obj = json.loads(text)
        holders = [obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata")]
        for holder in filter(None, holders):
            holder["labels"] = {k: v for k, v in holder.get("labels", {}).items() if k not in added}
            annotations = {
                k: v for k, v in holder.get("annotations", {}).items() if k != "checksum/config"
            }
            holder.pop("annotations", None)
            if annotations:
                holder["annotations"] = annotations
        result[(obj["kind"], obj["metadata"]["name"])] = obj
    return result


@pytest.mark.parametrize("answers", MATCHING, ids=_ids)
def test_rendered_objects_match_the_kustomize_overlays(
    rendered: Renderer, answers: dict[str, Any]
) -> None:
    """Per environment the chart renders the objects the kustomize overlay builds: the same
    security context, probes, resources, env, labels, NetworkPolicy rules and autoscaler."""
    _sdk()
    helm = rendered({**answers, "kubernetes": "helm"})
    kustomize = rendered({**answers, "kubernetes": "kustomize"})
    slug = _answer(helm, "project_slug")
    for env in ENVIRONMENTS:
        built = _kustomize(kustomize / "deploy" / "kustomize" / "overlays" / env)
        from_chart = helm_render(_chart(helm), env)
        assert (
            _one(from_chart, "Deployment")["metadata"]["labels"]["app.kubernetes.io/managed-by"]
            == "Helm"
        )
        expected, actual = _comparable(built, slug), _comparable(from_chart, slug)
        assert sorted(actual) == sorted(expected), env
        for key, obj in expected.items():
            assert actual[key] == obj, (env, key)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("image", "digest"), "sha256:1234", "digest"),
        (("image", "tag"), "latest", "tag"),
        (("logLevel",), "LOUD", "logLevel"),
        (("autoscaling", "minReplicas"), "2", "minReplicas"),
        (("resources", "limits", "cpu"), "lots", "cpu"),
        (("replicas",), 3, "replicas"),
        (("networkPolicy", "ingresNamespace"), "ingress-nginx", "ingresNamespace"),
    ],
)
def test_the_schema_refuses_bad_values(
    rendered: Renderer, path: tuple[str, ...], value: Any, named: str
) -> None:
    """A wrong type, a mutable tag, a malformed digest or a misspelt key fails rendering with a
    message naming it; the environment's own values pass."""
    helm = _sdk()
    chart = _chart(rendered({"kubernetes": "helm"}))
    loaded = helm.Chart.load(chart)
    values = helm.values_from_yaml((chart / "values-prod.yaml").read_text(encoding="utf-8"))
    loaded.validate_schema(loaded.merge_values(values))
    holder = values
    for key in path[:-1]:
        holder = holder.setdefault(key, {})
    holder[path[-1]] = value
    with pytest.raises(helm.HelmError) as refused:
        loaded.render(values=values, name=chart.name, namespace=f"{chart.name}-prod")
    assert named in str(refused.value)


def test_set_image_pins_the_values_file_by_digest(rendered: Renderer, tmp_path: Path) -> None:
    """scripts/set_image.py (the deploy job's pin) sets repository and digest in
    values-<env>.yaml; the rendered Deployment then runs that image by digest."""
    _sdk()
    project = rendered({"kubernetes": "helm"})
    chart = tmp_path / _chart(project).name
    shutil.copytree(_chart(project), chart)
    image = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{chart.name}"
    for env in ENVIRONMENTS:
        values = chart / f"values-{env}.yaml"
        before = values.read_text(encoding="utf-8")
        script = project / "scripts" / "set_image.py"
        run(["python3", script, values, chart.name, f"{image}@{DIGEST}"], cwd=tmp_path)
        after = values.read_text(encoding="utf-8")
        assert [line for line in before.splitlines() if line.lstrip().startswith("#")] == [
            line for line in after.splitlines() if line.lstrip().startswith("#")
        ], "comments survive the edit"
        container = _container(load_yaml_documents(helm_chart.render_chart(chart, environment=env)))
        assert container["image"] == f"{image}@{DIGEST}", env
    broken = chart / "values-dev.yaml"
    broken.write_text("environment: dev\n", encoding="utf-8")
    result = subprocess.run(
        ["python3", project / "scripts" / "set_image.py", broken, chart.name, f"{image}@{DIGEST}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "image:" in result.stderr


def test_flux_helm_releases_follow_each_other_and_validate(rendered: Renderer) -> None:
    """One HelmRelease per environment, valid for Flux's CRD, releasing the chart with that
    environment's values into its namespace, staging after dev and prod after staging."""
    project = rendered({"kubernetes": "helm", "gitops": "flux"})
    chart = _chart(project)
    objects = flux_objects(project)
    source = _one(objects, "GitRepository")
    releases = [o for o in objects if o["kind"] == "HelmRelease"]
    assert [r["metadata"]["name"] for r in releases] == [f"{chart.name}-{e}" for e in ENVIRONMENTS]
    previous: str | None = None
    for env, release in zip(ENVIRONMENTS, releases, strict=True):
        assert not flux_errors(release), flux_errors(release)
        spec = release["spec"]
        chart_spec = spec["chart"]["spec"]
        assert chart_spec["sourceRef"] == {
            "kind": "GitRepository",
            "name": source["metadata"]["name"],
        }
        assert project / chart_spec["chart"] == chart
        (values_file,) = chart_spec["valuesFiles"]
        assert project / values_file == chart / f"values-{env}.yaml"
        assert spec["targetNamespace"] == helm_chart.release_namespace(chart, env)
        assert spec["releaseName"] == chart.name
        # No namespace without its Pod Security labels: it is created beforehand (deploy/README.md).
        assert spec["install"]["createNamespace"] is False
        depends = [d["name"] for d in spec.get("dependsOn", [])]
        assert depends == ([previous] if previous else []), env
        previous = release["metadata"]["name"]
    invented = json.loads(json.dumps(releases[0]))
    invented["spec"]["chart"]["spec"]["valueFiles"] = ["values.yaml"]
    assert flux_errors(invented)


def test_monitoring_copies_in_the_chart_follow_the_sources(
    rendered: Renderer, tmp_path: Path
) -> None:
    """scripts/sync_monitoring.py knows the chart's files/ copies: --check passes as rendered,
    fails after the rules change, and a sync brings the chart's PrometheusRule along."""
    _sdk()
    project = tmp_path / "project"
    shutil.copytree(rendered({"kubernetes": "helm"}), project)
    script = project / "scripts" / "sync_monitoring.py"
    # The interpreter of these tests has PyYAML, which the script needs.
    check: list[str | Path] = [script, "--check"]
    run([sys.executable, *check], cwd=project)
    rules = project / "monitoring" / "prometheus" / "rules.yml"
    loaded = yaml.safe_load(rules.read_text(encoding="utf-8"))
    loaded["groups"][0]["interval"] = "1m"
    rules.write_text(yaml.safe_dump(loaded, sort_keys=False), encoding="utf-8")
    stale = subprocess.run(
        [sys.executable, *check],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert stale.returncode == 1
    assert "files/rules.yml" in stale.stderr
    run([sys.executable, script], cwd=project)
    chart = _chart(project)
    rendered_rule = _one(
        load_yaml_documents(helm_chart.render_chart(chart, environment="dev")), "PrometheusRule"
    )
    assert rendered_rule["spec"] == loaded


def test_the_docs_say_how_to_install_each_environment(helm_project: Path) -> None:
    """deploy/README.md gives the install command of every environment and the namespace step."""
    readme = (helm_project / "deploy" / "README.md").read_text(encoding="utf-8")
    chart = _chart(helm_project)
    for env in ENVIRONMENTS:
        command = (
            f"helm upgrade --install {chart.name} deploy/helm/{chart.name} "
            f"--namespace {chart.name}-{env} --values deploy/helm/{chart.name}/values-{env}.yaml"
        )
        assert command in readme, env
    assert "pod-security.kubernetes.io/enforce=restricted" in readme
