"""The generated Flux objects: valid for Flux's CRDs, pointing at what builds, in order."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT, load_yaml_documents, require_module, require_tool, run
from tests.test_kubernetes import (
    ENVIRONMENTS,
    WITH_KUBERNETES,
    Manifest,
    _answer,
    _container,
    _ids,
    _one,
    manifest_sets,
)

Renderer = Callable[[Mapping[str, Any]], Path]
FLUX_SCHEMAS = REPO_ROOT / "src" / "goldpath" / "schemas" / "flux"
SOURCE_KINDS = {"GitRepository", "Kustomization"}
# The chart's releases take the Kustomizations' place (tests/test_helm.py checks them).
HELM_KINDS = {"GitRepository", "HelmRelease"}
IMAGE_KINDS = {"ImageRepository", "ImagePolicy", "ImageUpdateAutomation"}
WITH_FLUX = [c for c in WITH_KUBERNETES if c.get("gitops") == "flux"]
WITH_FLUX_KUSTOMIZATIONS = [c for c in WITH_FLUX if c.get("kubernetes") != "helm"]
WITH_IMAGE_AUTOMATION = [c for c in WITH_FLUX if c.get("flux_image_automation")]
SETTER = re.compile(r'#\s*(\{"\$imagepolicy":\s*"[^"]+"\})\s*$')
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(params=WITH_FLUX, ids=_ids)
def flux_project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project with Flux objects (shared: never mutate it)."""
    return rendered(request.param)


@pytest.fixture(params=WITH_IMAGE_AUTOMATION, ids=_ids)
def automation_project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project whose dev overlay Flux image automation pins."""
    return rendered(request.param)


@cache
def _validators() -> dict[str, Any]:
    """One validator per kind, from the vendored schemas (src/goldpath/schemas/flux/README.md)."""
    jsonschema = require_module("jsonschema")
    validators: dict[str, Any] = {}
    for path in sorted(FLUX_SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        kind, api_version = schema["title"].split()
        validators[kind] = (api_version, jsonschema.Draft202012Validator(schema))
    assert set(validators) == SOURCE_KINDS | HELM_KINDS | IMAGE_KINDS
    return validators


def flux_errors(obj: Manifest) -> list[str]:
    api_version, validator = _validators()[obj["kind"]]
    assert obj["apiVersion"] == api_version, obj["kind"]
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
    ]


def flux_objects(project: Path) -> list[Manifest]:
    files = sorted((project / "deploy" / "flux").glob("*.yaml"))
    return [doc for f in files for doc in load_yaml_documents(f.read_text(encoding="utf-8"))]


def test_flux_objects_pass_their_crd_schemas(flux_project: Path) -> None:
    """Every object in deploy/flux is valid for its Flux CRD, unknown fields rejected."""
    objects = flux_objects(flux_project)
    automation = _answer(flux_project, "flux_image_automation")
    kinds = HELM_KINDS if _answer(flux_project, "kubernetes") == "helm" else SOURCE_KINDS
    assert {o["kind"] for o in objects} == kinds | (IMAGE_KINDS if automation else set())
    for obj in objects:
        assert not flux_errors(obj), (obj["kind"], obj["metadata"]["name"], flux_errors(obj))
        assert obj["metadata"]["namespace"] == "flux-system"
        # The Backstage Kubernetes (and Flux) plugins find them by the catalog's selector.
        slug = _answer(flux_project, "project_slug")
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == slug


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("Kustomization", ("spec", "healthCheck"), []),
        ("Kustomization", ("spec", "prune"), "true"),
        ("Kustomization", ("spec", "sourceRef", "kind"), "GitRepo"),
        ("GitRepository", ("spec", "ref", "tag_name"), "v1"),
    ],
)
def test_the_flux_schemas_reject_what_the_crds_reject(
    rendered: Renderer, kind: str, path: tuple[str, ...], value: Any
) -> None:
    """The vendored schemas are closed: an invented field, a wrong type or value fails."""
    obj = next(o for o in flux_objects(rendered({"gitops": "flux"})) if o["kind"] == kind)
    assert not flux_errors(obj)
    holder = obj
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    assert flux_errors(obj)


@pytest.fixture(params=WITH_FLUX_KUSTOMIZATIONS, ids=_ids)
def kustomizations_project(request: pytest.FixtureRequest, rendered: Renderer) -> Path:
    """A rendered project whose Flux objects are Kustomizations (kustomize or manifests)."""
    return rendered(request.param)


def test_kustomizations_apply_what_builds_in_order(kustomizations_project: Path) -> None:
    """Each Kustomization applies an overlay that builds into its targetNamespace, prunes, waits
    for the Deployment within a timeout, and follows the previous environment."""
    flux_project = kustomizations_project
    objects = flux_objects(flux_project)
    source = _one(objects, "GitRepository")
    slug = _answer(flux_project, "project_slug")
    assert (
        source["spec"]["url"] == f"https://github.com/{_answer(flux_project, 'owner')}/{slug}.git"
    )
    assert source["spec"]["ref"] == {"branch": "main"}
    kustomizations = [o for o in objects if o["kind"] == "Kustomization"]
    sets = manifest_sets(flux_project)
    assert len(kustomizations) == len(sets)
    previous: str | None = None
    for kustomization in kustomizations:
        spec = kustomization["spec"]
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
        directory = flux_project / spec["path"]
        assert directory.is_dir(), spec["path"]
        built = sets[directory.name if directory.parent.name == "overlays" else "manifests"]
        namespace = _one(built, "Namespace")["metadata"]["name"]
        assert spec["targetNamespace"] == namespace
        assert spec["prune"] is True
        assert spec["timeout"]
        deployment = _one(built, "Deployment")["metadata"]
        assert spec["healthChecks"] == [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["name"],
             "namespace": namespace},
        ]  # fmt: skip
        depends = [d["name"] for d in spec.get("dependsOn", [])]
        assert depends == ([previous] if previous else []), kustomization["metadata"]["name"]
        previous = kustomization["metadata"]["name"]
    if _answer(flux_project, "kubernetes") == "kustomize":
        names = [k["metadata"]["name"] for k in kustomizations]
        assert names == [f"{slug}-{env}" for env in ENVIRONMENTS]


def _setters(text: str) -> dict[str, str]:
    """The fields of an images entry marked with a Flux setter: field -> policy reference."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = SETTER.search(line)
        if match:
            field = line.split(":", 1)[0].strip()
            found[field] = json.loads(match[1])["$imagepolicy"]
    return found


def test_image_automation_updates_only_dev_through_its_policy(automation_project: Path) -> None:
    """The dev overlay marks name, tag and digest for the dev ImagePolicy; nothing else is marked;
    the automation commits to the branch the GitRepository deploys, in the dev overlay."""
    project = automation_project
    objects = flux_objects(project)
    policy = _one(objects, "ImagePolicy")
    reference = f"{policy['metadata']['namespace']}:{policy['metadata']['name']}"
    overlays = project / "deploy" / "kustomize" / "overlays"
    dev = (overlays / "dev" / "kustomization.yaml").read_text(encoding="utf-8")
    assert _setters(dev) == {
        "newName": f"{reference}:name", "newTag": f"{reference}:tag",
        "digest": f"{reference}:digest",
    }  # fmt: skip
    for env in ("staging", "prod"):
        assert not _setters((overlays / env / "kustomization.yaml").read_text(encoding="utf-8"))
    assert policy["spec"]["digestReflectionPolicy"] in {"IfNotPresent", "Always"}
    repository = _one(objects, "ImageRepository")
    assert policy["spec"]["imageRepositoryRef"]["name"] == repository["metadata"]["name"]
    pattern = re.compile(policy["spec"]["filterTags"]["pattern"])
    assert pattern.match("main-0a1b2c3-1767225600")
    for mutable in ("main", "latest", "dev", "0a1b2c3d4e5f", "0.1.0"):
        assert not pattern.match(mutable), mutable
    automation = _one(objects, "ImageUpdateAutomation")
    spec = automation["spec"]
    source = _one(objects, "GitRepository")
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert spec["git"]["push"]["branch"] == source["spec"]["ref"]["branch"]
    assert spec["update"] == {"path": "./deploy/kustomize/overlays/dev", "strategy": "Setters"}
    labels = policy["metadata"]["labels"]
    assert spec["policySelector"]["matchLabels"].items() <= labels.items()
    assert source["spec"]["secretRef"]["name"]


def test_the_setters_pin_dev_by_digest(automation_project: Path, tmp_path: Path) -> None:
    """With the values automation writes, the dev overlay builds to registry/name:tag@digest."""
    kustomize = tmp_path / "kustomize"
    shutil.copytree(automation_project / "deploy" / "kustomize", kustomize)
    overlay = kustomize / "overlays" / "dev"
    slug = _answer(automation_project, "project_slug")
    values = {"name": f"registry.example.com/{slug}", "tag": "main-0a1b2c3-1767225600",
              "digest": DIGEST}  # fmt: skip
    lines = []
    for line in (overlay / "kustomization.yaml").read_text(encoding="utf-8").splitlines():
        match = SETTER.search(line)
        if match:
            field = json.loads(match[1])["$imagepolicy"].rsplit(":", 1)[1]
            key = line.split(":", 1)[0]
            line = f"{key}: {json.dumps(values[field])} {match[0].strip()}"
        lines.append(line)
    (overlay / "kustomization.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    kubectl = require_tool("kubectl")
    objects = load_yaml_documents(run([kubectl, "kustomize", overlay], cwd=overlay).stdout)
    assert _container(objects)["image"] == f"{values['name']}:{values['tag']}@{DIGEST}"
    assert yaml.safe_load((overlay / "kustomization.yaml").read_text(encoding="utf-8"))
