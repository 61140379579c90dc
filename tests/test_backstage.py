"""catalog-info.yaml is a valid Backstage catalog file for every answer that changes it."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT7

from goldpath.settings import MANAGED_ANNOTATION
from tests.conftest import Renderer
from tests.helpers import REPO_ROOT, answer_combinations, load_yaml_documents, require_tool, run

SCHEMAS = REPO_ROOT / "tests" / "data" / "backstage"
KIND_SCHEMAS = {"Component": "Component.v1alpha1", "API": "API.v1alpha1"}

# Each part of the catalog file depends on one group of answers (the provider, the
# Kubernetes/GitOps choice, ECS and its region, the free-text names), so every value of
# each group is rendered rather than the full cross product.
COMBINATIONS: list[dict[str, Any]] = [
    {},
    *answer_combinations("llm_provider"),
    *answer_combinations("kubernetes", "gitops"),
    {"aws_ecs": False},
    {"aws_ecs": True, "aws_region": "eu-central-1"},
    {
        "project_name": 'Ask: "#1" Bot & co',
        "description": "Answers 'anything': #1 {{ not jinja }}",
        "owner": "ml-org/genai_team.core",
    },
]

# Backstage checks these with functions, not with its JSON schemas; ported from
# @backstage/catalog-model 1.10.3 dist/validation (KubernetesValidatorFunctions, makeValidator).
_OBJECT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]+(?:-+[a-z0-9]+)*$")
_TAG = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")


def _ids(answers: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}"[:24] for k, v in answers.items()) or "defaults"


def _validators() -> dict[str, jsonschema.Draft7Validator]:
    """Return a validator per kind; the schemas find each other by their ``$id``."""
    schemas = [json.loads(path.read_text()) for path in sorted(SCHEMAS.glob("*.schema.json"))]
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], DRAFT7.create_resource(schema)) for schema in schemas
    )
    by_id = {schema["$id"]: schema for schema in schemas}
    validators = {}
    for kind, stem in KIND_SCHEMAS.items():
        schema = json.loads((SCHEMAS / f"{stem}.schema.json").read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        validators[kind] = jsonschema.Draft7Validator(by_id[schema["$id"]], registry=registry)
    return validators


def _valid_object_name(value: str) -> bool:
    return 1 <= len(value) <= 63 and bool(_OBJECT_NAME.match(value))


def _valid_dns_subdomain(value: str) -> bool:
    return 1 <= len(value) <= 253 and all(
        len(label) <= 63 and _DNS_LABEL.match(label) for label in value.split(".")
    )


def _valid_annotation_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return (
        key.count("/") <= 1
        and (not prefix or _valid_dns_subdomain(prefix))
        and (_valid_object_name(name))
    )


def _valid_entity_ref(ref: str) -> bool:
    """``[kind:][namespace/]name`` as Backstage's parseEntityRef accepts it."""
    rest = ref.split(":", 1)[-1]
    namespace, _, name = rest.rpartition("/")
    return (not namespace or bool(_DNS_LABEL.match(namespace))) and _valid_object_name(name)


def _resolve_placeholders(entity: dict[str, Any]) -> dict[str, Any]:
    """Stand in for Backstage's placeholder processor: ``$text`` becomes the file's text.

    The referenced file must sit in the repository (a relative path that stays inside).
    """
    definition = entity["spec"].get("definition")
    if isinstance(definition, dict):
        assert list(definition) == ["$text"], definition
        target = definition["$text"]
        assert not urlparse(target).scheme, f"{target} must be a path in the repository"
        assert not Path(target).is_absolute(), target
        assert ".." not in Path(target).parts, target
        openapi = json.dumps({"openapi": "3.1.0", "info": {"title": "t", "version": "0"}})
        entity = {**entity, "spec": {**entity["spec"], "definition": openapi}}
    return entity


def _answers(project: Path) -> dict[str, Any]:
    """The answers copier recorded, which is what the catalog must reflect."""
    answers = load_yaml_documents((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return answers[0]


def _entities(project: Path) -> dict[str, dict[str, Any]]:
    text = (project / "catalog-info.yaml").read_text(encoding="utf-8")
    documents = load_yaml_documents(text)
    entities = {doc["kind"]: doc for doc in documents}
    assert len(entities) == len(documents), "one entity per kind"
    return entities


@pytest.fixture(scope="module")
def validators() -> dict[str, jsonschema.Draft7Validator]:
    return _validators()


@pytest.mark.parametrize("answers", COMBINATIONS, ids=_ids)
def test_catalog_entities_pass_backstage_validation(
    answers: dict[str, Any],
    rendered: Renderer,
    validators: dict[str, jsonschema.Draft7Validator],
) -> None:
    entities = _entities(rendered(answers))
    assert set(entities) == {"Component", "API"}
    for kind, entity in entities.items():
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validators[kind].iter_errors(_resolve_placeholders(entity))
        ]
        assert not errors, f"{kind} fails the Backstage schema:\n" + "\n".join(errors)
        metadata = entity["metadata"]
        assert _valid_object_name(metadata["name"]), metadata["name"]
        bad_tags = [tag for tag in metadata.get("tags", []) if not _TAG.match(tag)]
        assert not bad_tags, f"{kind} tags Backstage rejects: {bad_tags}"
        bad_keys = [
            key for key in metadata.get("annotations", {}) if not _valid_annotation_key(key)
        ]
        assert not bad_keys, f"{kind} annotation keys Backstage rejects: {bad_keys}"
        for link in metadata.get("links", []):
            url = urlparse(link["url"])
            assert (url.scheme, bool(url.netloc)) == ("https", True), f"{kind} link: {link}"
        refs = [entity["spec"]["owner"], entity["spec"]["system"]]
        refs += entity["spec"].get("providesApis", [])
        assert all(_valid_entity_ref(ref) for ref in refs), refs


@pytest.mark.parametrize("answers", COMBINATIONS, ids=_ids)
def test_catalog_describes_the_service_from_the_answers(
    answers: dict[str, Any], rendered: Renderer
) -> None:
    project = rendered(answers)
    given = _answers(project)
    entities = _entities(project)
    component, api = entities["Component"], entities["API"]
    assert component["metadata"]["name"] == given["project_slug"]
    assert component["metadata"]["title"] == given["project_name"]
    assert component["metadata"]["description"] == given["description"]
    assert component["spec"]["type"] == "service"
    assert component["spec"]["owner"] == api["spec"]["owner"] == given["owner"]
    assert component["spec"]["system"] == api["spec"]["system"]
    assert component["spec"]["lifecycle"] in {"experimental", "production", "deprecated"}
    assert component["spec"]["providesApis"] == [api["metadata"]["name"]]
    assert api["spec"]["type"] == "openapi"
    assert given["llm_provider"] in component["metadata"]["tags"]

    annotations = component["metadata"]["annotations"]
    # Exactly the string "true": Backstage rejects annotation values that are not strings,
    # and `goldpath fleet campaign start --catalog` selects the Components that have it.
    assert annotations[MANAGED_ANNOTATION] == "true"
    selector = f"app.kubernetes.io/name={given['project_slug']}"
    if given["kubernetes"] == "none":
        assert set(annotations) == {MANAGED_ANNOTATION}
    else:
        assert annotations["backstage.io/kubernetes-label-selector"] == selector
        assert (annotations.get("argocd/app-selector") == selector) == (
            given.get("gitops") == "argocd"
        )

    ecs_links = [link["url"] for link in component["metadata"]["links"] if "/ecs/" in link["url"]]
    if given["aws_ecs"]:
        region = given["aws_region"]
        assert len(ecs_links) == 2
        assert all(url.startswith(f"https://{region}.console.aws.amazon.com/") for url in ecs_links)
        assert all(url.endswith(f"?region={region}") for url in ecs_links)
    else:
        assert not ecs_links


def test_ecs_links_name_the_cluster_and_service_terraform_creates(rendered: Renderer) -> None:
    project = rendered({})
    component = _entities(project)["Component"]
    terraform = project / "infra" / "terraform" / "environments"
    for env in ("dev", "prod"):
        name = f"my-genai-service-{env}"
        assert f'name       = "{name}"' in (terraform / env / "main.tf").read_text()
        urls = [link["url"] for link in component["metadata"]["links"]]
        assert any(f"/clusters/{name}/services/{name}/" in url for url in urls), urls


@pytest.mark.slow
def test_documented_openapi_export_writes_the_api_definition(
    rendered: Renderer, tmp_path: Path
) -> None:
    """The command in the catalog file's header writes the file its API entity reads."""
    uv = require_tool("uv")
    project = shutil.copytree(rendered({}), tmp_path / "service")
    header = (project / "catalog-info.yaml").read_text(encoding="utf-8")
    command = re.search(r"^#\s+(uv run python -c .+)$", header, re.M)
    assert command, "catalog-info.yaml documents how to export openapi.json"
    env = {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
    if not (project / "uv.lock").exists():
        run([uv, "lock"], cwd=project, env=env)
    run([uv, *shlex.split(command.group(1))[1:]], cwd=project, env=env)

    target = _entities(project)["API"]["spec"]["definition"]["$text"]
    document = json.loads((project / target).read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.")
    assert {"/v1/chat/completions", "/v1/models"} <= set(document["paths"])
    assert "post" in document["paths"]["/v1/chat/completions"]
