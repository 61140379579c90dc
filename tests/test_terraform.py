"""The rendered Terraform for AWS ECS on Fargate: formatted, valid, tested offline, scanned."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hcl2.api import loads as parse_hcl

from tests.helpers import (
    REPO_ROOT,
    answer_combinations,
    dockerfile_env,
    questions,
    render,
    require_tool,
    run,
)

Renderer = Callable[[Mapping[str, Any]], Path]

INFRA = Path("infra")
TERRAFORM = INFRA / "terraform"
MODULE = "modules/ecs-service"
ENVIRONMENTS = ("dev", "prod")
SUPPRESSIONS_DOC = REPO_ROOT / "docs" / "terraform-suppressions.md"

# The contract between the container image, the service and its task definition. The
# Dockerfile and the service's settings are checked against it too when they are rendered.
CONTRACT_PORT = 8000
CONTRACT_USER = "10001:10001"
CONTRACT_READINESS_PATH = "/readyz"
CONTRACT_LIVENESS_PATH = "/healthz"
CONTRACT_GRACEFUL_SHUTDOWN_SECONDS = 20
CONTRACT_SETTINGS = frozenset(
    {
        "LLM_PROVIDER",
        "DEFAULT_MODEL",
        "DAILY_TOKEN_BUDGET",
        "DAILY_TOKEN_BUDGET_PER_KEY",
        "PROVIDER_TIMEOUT_SECONDS",
        "LOG_LEVEL",
        "AWS_REGION",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    }
)
CONTRACT_SECRETS = frozenset({"API_KEYS", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"})
FARGATE_SPOT_NOTICE_SECONDS = 120

# One rendering per LLM provider (their secrets and IAM differ); otel alternates so both
# of its values are formatted, validated and scanned.
PROVIDER_ANSWERS = [
    *(
        {**combo, "otel": index % 2 == 1}
        for index, combo in enumerate(answer_combinations("llm_provider"))
    ),
    {"state_backend": "redis"},  # adds ElastiCache (Valkey) and REDIS_URL
]


def _answers_id(answers: Mapping[str, Any]) -> str:
    return "-".join(f"{key}={value}" for key, value in answers.items()) or "defaults"


def _hcl(path: Path) -> dict[str, Any]:
    """Parse an HCL file (python-hcl2 wraps attribute values in one-element lists)."""
    parsed: dict[str, Any] = parse_hcl(path.read_text(encoding="utf-8"))
    return parsed


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _blocks(parsed: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Return the named blocks of one kind (variable, module, output) by name."""
    return {name: body for block in parsed.get(kind, []) for name, body in block.items()}


def _module_defaults(project: Path) -> dict[str, Any]:
    variables = _blocks(_hcl(project / TERRAFORM / MODULE / "variables.tf"), "variable")
    return {name: _first(body["default"]) for name, body in variables.items() if "default" in body}


def _environment_call(project: Path, environment: str) -> dict[str, Any]:
    parsed = _hcl(project / TERRAFORM / "environments" / environment / "main.tf")
    call = _blocks(parsed, "module")["service"]
    return {name: _first(value) for name, value in call.items()}


def _effective(project: Path, environment: str) -> dict[str, Any]:
    """Return the module inputs of an environment: its arguments over the module defaults."""
    return {**_module_defaults(project), **_environment_call(project, environment)}


def _answers(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (project / ".copier-answers.yml").read_text(encoding="utf-8")
    )
    return loaded


def _text_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.parts:
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            files.append(path)
    return files


def _terraform_copy(project: Path, tmp_path: Path) -> Path:
    """Copy infra/terraform out of the shared rendering: init writes .terraform into it."""
    copy = tmp_path / "terraform"
    shutil.copytree(project / TERRAFORM, copy)
    return copy


# --- questions ------------------------------------------------------------------------


def test_aws_questions_are_declared_with_help() -> None:
    declared = questions()
    assert declared["aws_ecs"]["type"] == "bool"
    assert declared["aws_region"]["when"] == "{{ aws_ecs }}"
    assert all(declared[name]["help"].strip() for name in ("aws_ecs", "aws_region"))


def test_infra_follows_the_aws_ecs_default(rendered: Renderer) -> None:
    assert (rendered({}) / TERRAFORM).is_dir() is questions()["aws_ecs"]["default"]


@pytest.mark.parametrize("region", ["us-east", "US-EAST-1", "useast1", "us-east-1a"])
def test_invalid_aws_region_is_refused(region: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aws_region"):
        render(tmp_path / "service", {"aws_region": region})


def test_aws_region_answer_reaches_backend_provider_and_examples(rendered: Renderer) -> None:
    region = "eu-central-1"
    assert region != questions()["aws_region"]["default"]
    project = rendered({"aws_region": region})
    for environment in ENVIRONMENTS:
        root = project / TERRAFORM / "environments" / environment
        backend = _first(_hcl(root / "main.tf")["terraform"][0]["backend"])["s3"]
        variables = _blocks(_hcl(root / "variables.tf"), "variable")
        assert _first(backend["region"]) == region
        assert _first(variables["aws_region"]["default"]) == region
        assert f":{region}:" in (root / "example.tfvars").read_text(encoding="utf-8")


# --- aws_ecs=false --------------------------------------------------------------------


def test_without_aws_ecs_nothing_refers_to_infra(rendered: Renderer) -> None:
    project = rendered({"aws_ecs": False})
    assert not (project / INFRA).exists()
    mentions = [
        str(path.relative_to(project))
        for path in _text_files(project)
        if path.name != ".copier-answers.yml"
        and re.search(r"infra/|terraform|\.tf\b", path.read_text(encoding="utf-8"), re.I)
    ]
    assert mentions == []


# --- the files, statically --------------------------------------------------------------


def test_layout(rendered: Renderer) -> None:
    terraform = rendered({}) / TERRAFORM
    for root in (MODULE, *(f"environments/{env}" for env in ENVIRONMENTS)):
        names = {path.name for path in (terraform / root).iterdir()}
        # tflint's terraform_standard_module_structure
        assert {"main.tf", "variables.tf", "outputs.tf"} <= names, root
        assert list((terraform / root / "tests").glob("*.tftest.hcl")), root
    assert (terraform / ".tflint.hcl").is_file()
    assert not list(terraform.rglob("*.jinja"))


def test_versions_are_pinned_alike(rendered: Renderer) -> None:
    terraform = rendered({}) / TERRAFORM
    blocks = [_hcl(terraform / MODULE / "versions.tf")["terraform"][0]] + [
        _hcl(terraform / "environments" / env / "main.tf")["terraform"][0] for env in ENVIRONMENTS
    ]
    constraints = set()
    for block in blocks:
        assert _first(block["required_version"]).startswith(">=")
        aws = _first(_first(block["required_providers"])["aws"])
        assert aws["source"] == "hashicorp/aws"
        constraints.add(aws["version"])
    assert len(constraints) == 1
    assert re.fullmatch(r"~> \d+\.\d+", constraints.pop())


def test_environments_use_an_encrypted_locked_s3_backend(rendered: Renderer) -> None:
    terraform = rendered({}) / TERRAFORM
    keys = set()
    for environment in ENVIRONMENTS:
        block = _hcl(terraform / "environments" / environment / "main.tf")["terraform"][0]
        backend = _first(block["backend"])["s3"]
        assert _first(backend["encrypt"]) is True
        assert _first(backend["use_lockfile"]) is True
        assert _first(backend["kms_key_id"])
        keys.add(_first(backend["key"]))
    assert len(keys) == len(ENVIRONMENTS)


def test_prod_is_stricter_than_dev(rendered: Renderer) -> None:
    project = rendered({})
    dev, prod = (_effective(project, env) for env in ENVIRONMENTS)
    assert prod["min_tasks"] >= 2
    assert prod["deletion_protection"] is True
    assert dev["deletion_protection"] is False
    assert prod["log_retention_days"] > dev["log_retention_days"]
    assert prod["min_tasks"] > dev["min_tasks"]
    # prod keeps its minimum on on-demand capacity; Spot only adds to it.
    assert prod["capacity_split"]["fargate_base"] >= prod["min_tasks"]


def test_dev_stops_off_hours_and_prod_keeps_a_floor(rendered: Renderer) -> None:
    """Off hours dev scales to zero; prod keeps its on-demand floor and a lower ceiling."""
    project = rendered({})
    dev, prod = (_effective(project, env) for env in ENVIRONMENTS)
    for settings in (dev, prod):
        off_hours = settings["off_hours"]
        assert off_hours["scale_down"] != off_hours["scale_up"]
        for schedule in (off_hours["scale_down"], off_hours["scale_up"]):
            assert re.fullmatch(r"cron\(\S+ \S+ \S+ \S+ \S+ \S+\)", schedule), schedule
        assert 0 <= off_hours["min_tasks"] <= off_hours["max_tasks"] <= settings["max_tasks"]
    assert dev["off_hours"]["min_tasks"] == dev["off_hours"]["max_tasks"] == 0
    assert prod["off_hours"]["min_tasks"] >= 2
    assert prod["off_hours"]["min_tasks"] <= prod["capacity_split"]["fargate_base"]
    assert prod["off_hours"]["max_tasks"] < prod["max_tasks"]


def test_example_tfvars_cover_the_required_variables_and_hold_no_secrets(
    rendered: Renderer,
) -> None:
    project = rendered({})
    for environment in ENVIRONMENTS:
        root = project / TERRAFORM / "environments" / environment
        declared = _blocks(_hcl(root / "variables.tf"), "variable")
        values = {name: _first(value) for name, value in _hcl(root / "example.tfvars").items()}
        assert set(values) <= set(declared)
        assert {name for name, body in declared.items() if "default" not in body} <= set(values)
        assert not [name for name in values if re.search(r"secret|password|token|key", name)]
        assert not re.search(r"\bsk-", json.dumps(values))


def test_image_is_never_latest(rendered: Renderer) -> None:
    terraform = rendered({}) / TERRAFORM
    for path in terraform.rglob("*.tf*"):
        assert not re.search(r":latest\b", path.read_text(encoding="utf-8")), path


def test_tflint_pins_the_aws_ruleset_and_enables_terraform_rules(rendered: Renderer) -> None:
    config = _hcl(rendered({}) / TERRAFORM / ".tflint.hcl")
    plugins = _blocks(config, "plugin")
    aws = {name: _first(value) for name, value in plugins["aws"].items()}
    assert aws["enabled"] is True
    assert aws["source"] == "github.com/terraform-linters/tflint-ruleset-aws"
    assert re.fullmatch(r"\d+\.\d+\.\d+", aws["version"])
    terraform = {name: _first(value) for name, value in plugins["terraform"].items()}
    assert terraform["enabled"] is True
    assert terraform["preset"] == "all"
    assert _first(_first(config["config"])["call_module_type"]) == "local"


LOCKED_ROOTS = (MODULE, *(f"environments/{env}" for env in ENVIRONMENTS))
INFRA_WORKFLOW = Path(".github") / "workflows" / "infra.yml"


def _satisfies(version: str, constraint: str) -> bool:
    """Whether a provider version meets a Terraform constraint of the forms used here."""
    numbers = [int(part) for part in version.split(".")]
    operator, _, wanted = constraint.strip().partition(" ")
    floor = [int(part) for part in wanted.split(".")]
    if operator == "~>":
        # ~> X.Y allows X.Y or newer within X; ~> X.Y.Z allows newer Z within X.Y.
        prefix = floor[:-1]
        padded = floor + [0] * (len(numbers) - len(floor))
        return numbers[: len(prefix)] == prefix and numbers >= padded
    if operator in {"=", ""}:
        return numbers == floor
    raise AssertionError(f"constraint {constraint!r} is not one this test understands")


def test_satisfies_reads_pessimistic_constraints() -> None:
    assert _satisfies("5.100.0", "~> 5.100")
    assert _satisfies("5.101.3", "~> 5.100")
    assert not _satisfies("5.99.9", "~> 5.100")
    assert not _satisfies("6.0.0", "~> 5.100")
    assert _satisfies("5.100.4", "~> 5.100.0")
    assert not _satisfies("5.101.0", "~> 5.100.0")


def test_every_root_commits_a_lock_file_its_constraint_accepts(rendered: Renderer) -> None:
    """Each root has .terraform.lock.hcl with hashes, for a version required_providers allows."""
    terraform = rendered({}) / TERRAFORM
    assert ".terraform.lock.hcl" not in (terraform / ".gitignore").read_text(encoding="utf-8")
    for root in LOCKED_ROOTS:
        lock_file = terraform / root / ".terraform.lock.hcl"
        assert lock_file.is_file(), f"{root} has no .terraform.lock.hcl"
        providers = _blocks(_hcl(lock_file), "provider")
        assert set(providers) == {"registry.terraform.io/hashicorp/aws"}, root
        locked = providers["registry.terraform.io/hashicorp/aws"]
        version = _first(locked["version"])
        hashes = _first(locked["hashes"])
        assert any(h.startswith("h1:") for h in hashes), f"{root}: no h1 hash in the lock"
        sources = [terraform / root / name for name in ("versions.tf", "main.tf")]
        block = next(
            _hcl(path)["terraform"][0]
            for path in sources
            if path.is_file() and "terraform" in _hcl(path)
        )
        required = _first(_first(block["required_providers"])["aws"])["version"]
        assert _first(locked["constraints"]) == required, root
        assert _satisfies(version, required), f"{root}: {version} does not satisfy {required}"


def test_ci_initialises_with_a_read_only_lock_file(rendered: Renderer) -> None:
    """The infrastructure workflow refuses to resolve providers afresh."""
    workflow = (rendered({}) / INFRA_WORKFLOW).read_text(encoding="utf-8")
    inits = re.findall(r"terraform init\b[^\n]*", workflow)
    assert inits
    assert all("-lockfile=readonly" in init for init in inits), inits


# --- consistency with the container and the service -------------------------------------


def _dockerfile_facts(project: Path) -> dict[str, Any] | None:
    """Port, user, health check and shutdown timeout as the rendered Dockerfile has them."""
    dockerfile = project / "Dockerfile"
    if not dockerfile.exists():
        return None
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    runtime = text.rsplit("\nFROM ", 1)[-1]
    facts: dict[str, Any] = {
        "ports": {int(p) for p in re.findall(r"^EXPOSE\s+(\d+)", runtime, re.M)},
        "user": re.findall(r"^USER\s+(\S+)", runtime, re.M)[-1],
        "healthcheck": re.findall(r"^HEALTHCHECK\s+(.+)$", runtime, re.M)[-1],
        "cmd": re.findall(r"^CMD\s+(.+)$", runtime, re.M)[-1],
    }
    env = dockerfile_env(dockerfile)
    facts["cmd_port"] = int(env["PORT"]) if "PORT" in env else None
    facts["graceful_shutdown"] = (
        int(env["SHUTDOWN_TIMEOUT_SECONDS"]) if "SHUTDOWN_TIMEOUT_SECONDS" in env else None
    )
    title = re.search(r'org\.opencontainers\.image\.title="([^"]+)"', text)
    facts["image_title"] = title.group(1) if title else None
    return facts


def _service_settings(project: Path) -> set[str] | None:
    """Environment variable names the rendered service's Settings class reads."""
    configs = list((project / "src").glob("*/config.py"))
    if not configs:
        return None
    body = configs[0].read_text(encoding="utf-8").split("class Settings", 1)[1]
    return {name.upper() for name in re.findall(r"^    ([a-z_][a-z0-9_]*):", body, re.M)}


def _service_routes(project: Path) -> set[str] | None:
    modules = list((project / "src").glob("*/api/routes/*.py"))
    if not modules:
        return None
    text = "\n".join(path.read_text(encoding="utf-8") for path in modules)
    # The paths the routes modules declare: every string literal that is a URL path.
    return set(re.findall(r'"(/[A-Za-z0-9_{}.-][A-Za-z0-9/_{}.-]*)"', text))


@pytest.mark.parametrize("answers", PROVIDER_ANSWERS, ids=_answers_id)
def test_task_definition_matches_container_and_service(
    rendered: Renderer, answers: Mapping[str, Any]
) -> None:
    project = rendered(answers)
    slug = _answers(project)["project_slug"]
    for environment in ENVIRONMENTS:
        task = _effective(project, environment)
        assert task["image_name"] == slug
        assert task["container_port"] == CONTRACT_PORT
        assert task["container_user"] == CONTRACT_USER
        assert task["health_check_path"] == CONTRACT_READINESS_PATH
        assert task["liveness_path"] == CONTRACT_LIVENESS_PATH
        assert task["stop_timeout"] > CONTRACT_GRACEFUL_SHUTDOWN_SECONDS
        assert task["stop_timeout"] + task["deregistration_delay"] <= FARGATE_SPOT_NOTICE_SECONDS
        assert task["deregistration_delay"] >= CONTRACT_GRACEFUL_SHUTDOWN_SECONDS
        environment_names = set(task["environment"])
        assert environment_names <= CONTRACT_SETTINGS
        assert set(task["secret_names"]) <= CONTRACT_SECRETS
        assert not environment_names & set(task["secret_names"])

        docker = _dockerfile_facts(project)
        if docker is not None:
            assert docker["ports"] == {task["container_port"]}
            assert docker["cmd_port"] == task["container_port"]
            assert docker["user"] == task["container_user"]
            assert task["liveness_path"] in docker["healthcheck"]
            assert docker["image_title"] == task["image_name"]
            if docker["graceful_shutdown"] is not None:
                assert task["stop_timeout"] > docker["graceful_shutdown"]

        settings = _service_settings(project)
        if settings is not None:
            names = (environment_names | set(task["secret_names"])) - {"AWS_REGION"}
            assert names <= settings, names - settings

        routes = _service_routes(project)
        if routes is not None:
            assert {task["health_check_path"], task["liveness_path"]} <= routes


def test_the_public_listener_never_forwards_the_metrics_scrape(rendered: Renderer) -> None:
    """/metrics is answered 404 by the HTTPS listener itself, ahead of the forward to the tasks."""
    project = rendered({})
    module = project / TERRAFORM / MODULE
    resources = {
        (kind, name): body
        for block in _hcl(module / "alb.tf").get("resource", [])
        for kind, named in block.items()
        for name, body in named.items()
    }
    rules = [body for (kind, _), body in resources.items() if kind == "aws_lb_listener_rule"]
    assert len(rules) == 1
    rule = rules[0]
    assert _first(rule["listener_arn"]) == "${aws_lb_listener.https.arn}"
    assert _first(rule["priority"]) == 1, "ahead of every other rule and the default forward"
    action = _first(rule["action"])
    assert _first(action["type"]) == "fixed-response"
    assert _first(_first(action["fixed_response"])["status_code"]) == "404"
    assert "target_group_arn" not in action
    patterns = _first(_first(_first(rule["condition"])["path_pattern"])["values"])
    assert patterns == "${var.private_paths}"
    private_paths = _module_defaults(project)["private_paths"]
    routes = _service_routes(project)
    assert routes is not None
    metrics_routes = {route for route in routes if route.startswith("/metrics")}
    assert metrics_routes == {"/metrics"}
    assert metrics_routes <= set(private_paths)
    assert "/metrics/*" in private_paths, "a trailing slash is redirected to /metrics"
    # Only the HTTPS listener forwards; port 80 redirects to it.
    redirect = _first(resources[("aws_lb_listener", "http_redirect")]["default_action"])
    assert _first(redirect["type"]) == "redirect"


def test_provider_timeout_stays_below_the_idle_timeout(rendered: Renderer) -> None:
    project = rendered({})
    for environment in ENVIRONMENTS:
        root = project / TERRAFORM / "environments" / environment
        variables = _blocks(_hcl(root / "variables.tf"), "variable")
        timeout = _first(variables["provider_timeout_seconds"]["default"])
        assert timeout < _effective(project, environment)["idle_timeout"]


# --- alarms, dashboard and the service's EMF metrics ------------------------------------

CONTRACT_EMF_SETTINGS = frozenset({"EMF_NAMESPACE", "EMF_SERVICE"})
# The load balancer's own 5xx count toward the SLO too: a task that is gone answers nothing.
AVAILABILITY_METRICS = frozenset(
    {"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount"}
)


def _resources(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Return the resources of a Terraform file by (type, name), attribute lists unwrapped."""
    return {
        (kind, name): {key: _first(value) for key, value in body.items()}
        for block in _hcl(path).get("resource", [])
        for kind, named in block.items()
        for name, body in named.items()
    }


def _locals(path: Path) -> dict[str, Any]:
    return {
        name: _first(value)
        for block in _hcl(path).get("locals", [])
        for name, value in block.items()
    }


def _quoted_names(path: Path) -> set[str]:
    """CamelCase string literals of a file: the metric names it refers to."""
    return set(re.findall(r'"([A-Z][A-Za-z0-9_]+)"', path.read_text(encoding="utf-8")))


def test_every_alarm_is_named_after_the_service_and_notifies_the_topic(
    rendered: Renderer,
) -> None:
    module = rendered({}) / TERRAFORM / MODULE
    resources = _resources(module / "alarms.tf")
    alarms = {
        key: body
        for key, body in resources.items()
        if key[0] in {"aws_cloudwatch_metric_alarm", "aws_cloudwatch_composite_alarm"}
    }
    assert {name for kind, name in alarms} >= {
        "error_budget_burn",
        "latency",
        "unhealthy_hosts",
        "ecs",
        "provider_errors",
        "circuit_open",
        "budget_remaining",
    }
    # The burn-rate windows feed their composite alarm, which alone notifies.
    windows = ("aws_cloudwatch_metric_alarm", "error_budget_burn")
    assert "alarm_actions" not in alarms[windows]
    assert "ok_actions" not in alarms[windows]
    for key, body in alarms.items():
        assert body["alarm_name"].startswith("${var.name}-"), key
        if key != windows:
            assert body["alarm_actions"] == body["ok_actions"] == "${local.alarm_actions}", key
        if key[0] == "aws_cloudwatch_metric_alarm":
            assert body["treat_missing_data"] in {"notBreaching", "breaching", "ignore", "missing"}
    assert _locals(module / "alarms.tf")["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]


def test_the_alarm_topic_is_encrypted_with_its_own_key(rendered: Renderer) -> None:
    resources = _resources(rendered({}) / TERRAFORM / MODULE / "alarms.tf")
    topic = resources[("aws_sns_topic", "alarms")]
    assert topic["kms_master_key_id"] == "${aws_kms_key.alarms.arn}"
    assert resources[("aws_kms_key", "alarms")]["enable_key_rotation"] is True
    policy = resources[("aws_sns_topic_policy", "alarms")]
    assert policy["arn"] == "${aws_sns_topic.alarms.arn}"


def test_availability_alarms_divide_all_5xx_by_the_requests(rendered: Renderer) -> None:
    resources = _resources(rendered({}) / TERRAFORM / MODULE / "alarms.tf")
    windows = resources[("aws_cloudwatch_metric_alarm", "error_budget_burn")]
    queries = windows["metric_query"]
    metrics = {_first(_first(q["metric"])["metric_name"]) for q in queries if "metric" in q}
    assert metrics == AVAILABILITY_METRICS
    assert [_first(q["id"]) for q in queries if _first(q.get("return_data", False)) is True] == [
        "ratio"
    ]


def _emf_metrics(project: Path) -> frozenset[str]:
    """The metric names the rendered service's EMF lines carry (emf.py's COUNTERS, GAUGES)."""
    (module,) = (project / "src").glob("*/emf.py")
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id in {"COUNTERS", "GAUGES"}
            for target in node.targets
        ):
            names |= set(ast.literal_eval(node.value))
    assert names, "emf.py declares no COUNTERS or GAUGES"
    return frozenset(names)


def test_emf_names_match_the_service_contract(rendered: Renderer) -> None:
    """The EMF metrics alarmed on and graphed are ones the service writes, on its namespace."""
    project = rendered({})
    module = project / TERRAFORM / MODULE
    emf_metrics = _emf_metrics(project)
    alarm_names = _quoted_names(module / "alarms.tf") & emf_metrics
    assert alarm_names == {
        "ProviderErrors",
        "ProviderCalls",
        "CircuitOpen",
        "BudgetRemainingTokens",
    }
    dashboard_names = _quoted_names(module / "dashboard.tf") & emf_metrics
    # Requests and Errors5xx are graphed from the load balancer, which sees every request.
    assert dashboard_names == emf_metrics - {"Requests", "Errors5xx"}
    emf = _locals(module / "alarms.tf")
    assert emf["emf_namespace"] == "GenAI/${var.name}"
    assert emf["emf_dimensions"] == {"Service": "${var.name}"}
    ecs = (module / "ecs.tf").read_text(encoding="utf-8")
    assert "EMF_NAMESPACE = local.emf_namespace" in ecs
    assert "EMF_SERVICE = local.emf_dimensions.Service" in ecs


def test_the_service_reads_the_emf_settings_the_task_sets(rendered: Renderer) -> None:
    """EMF_NAMESPACE and EMF_SERVICE, which the task sets, are settings of the service."""
    settings = _service_settings(rendered({}))
    assert settings is not None
    assert settings >= CONTRACT_EMF_SETTINGS


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environments_pass_the_slo_answers_to_the_alarms(
    rendered: Renderer, environment: str
) -> None:
    declared = questions()
    answers = {"slo_availability": 99.9, "slo_latency_seconds": 12.5}
    assert all(answers[name] != declared[name]["default"] for name in answers)
    project = rendered(answers)
    call = _environment_call(project, environment)
    assert call["slo_availability_percent"] == answers["slo_availability"]
    assert call["slo_latency_seconds"] == answers["slo_latency_seconds"]
    assert call["daily_token_budget"] == "${var.daily_token_budget}"
    assert call["alarm_subscriptions"] == "${var.alarm_subscriptions}"
    # The module's own defaults are the questions' defaults, for roots that pass nothing.
    defaults = _module_defaults(project)
    assert defaults["slo_availability_percent"] == declared["slo_availability"]["default"]
    assert defaults["slo_latency_seconds"] == declared["slo_latency_seconds"]["default"]
    outputs = _blocks(
        _hcl(project / TERRAFORM / "environments" / environment / "outputs.tf"), "output"
    )
    assert _first(outputs["alarm_topic_arn"]["value"]) == "${module.service.alarm_topic_arn}"
    assert _first(outputs["dashboard_name"]["value"]) == "${module.service.dashboard_name}"


# Prometheus alerts whose runbook sections the ECS alarms link.
RUNBOOK_SECTIONS = frozenset(
    {
        "LLMServiceErrorBudgetBurnFast",
        "LLMServiceErrorBudgetBurnSlow",
        "LLMServiceLatencyP95High",
        "LLMServiceLatencyP99High",
        "LLMServiceProviderErrors",
        "LLMServiceCircuitOpen",
        "LLMServiceBudgetNearlyExhausted",
    }
)


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_alarms_link_the_runbook_of_the_repository(rendered: Renderer, ci: str) -> None:
    project = rendered({"ci": ci})
    repository = _answers(project)["repository_url"]
    blob = "/-/blob/main/" if ci == "gitlab" else "/blob/main/"
    for environment in ENVIRONMENTS:
        call = _environment_call(project, environment)
        assert call["runbook_url"] == f"{repository}{blob}docs/runbook.md"
    sections = _locals(project / TERRAFORM / MODULE / "alarms.tf")["runbook_sections"]
    assert set(sections.values()) == {name.lower() for name in RUNBOOK_SECTIONS}
    runbook = project / "docs" / "runbook.md"
    if runbook.exists():  # the runbook comes with the Prometheus rules (stream C)
        headings = re.findall(r"^## (\S+)", runbook.read_text(encoding="utf-8"), re.M)
        assert {name.lower() for name in headings} >= set(sections.values())


def test_the_dashboard_is_json_encoded_from_one_local(rendered: Renderer) -> None:
    module = rendered({}) / TERRAFORM / MODULE
    dashboard = _resources(module / "dashboard.tf")[("aws_cloudwatch_dashboard", "this")]
    assert dashboard["dashboard_name"] == "${var.name}"
    assert dashboard["dashboard_body"] == "${jsonencode(local.dashboard_body)}"
    outputs = _blocks(_hcl(module / "outputs.tf"), "output")
    assert (
        _first(outputs["dashboard_name"]["value"])
        == "${aws_cloudwatch_dashboard.this.dashboard_name}"
    )
    assert _first(outputs["alarm_topic_arn"]["value"]) == "${aws_sns_topic.alarms.arn}"


# --- scanner suppressions ---------------------------------------------------------------

_SUPPRESSION = re.compile(
    r"#\s*(?:checkov:skip=(?P<checkov>[A-Z0-9_]+):?(?P<checkov_reason>.*)"
    r"|trivy:ignore:(?P<trivy>[A-Z0-9-]+)(?P<trivy_reason>.*))"
)


def _suppressions(terraform: Path) -> list[tuple[str, str, str]]:
    """Return (rule id, file, reason) of every inline scanner suppression."""
    found = []
    for path in sorted(terraform.rglob("*.tf")):
        for match in _SUPPRESSION.finditer(path.read_text(encoding="utf-8")):
            rule = match["checkov"] or match["trivy"]
            reason = (match["checkov_reason"] or match["trivy_reason"] or "").strip(" -")
            found.append((rule, str(path.relative_to(terraform)), reason))
    return found


def test_suppressions_are_inline_reasoned_and_documented(rendered: Renderer) -> None:
    terraform = rendered({}) / TERRAFORM
    assert not list(terraform.rglob(".checkov.y*ml"))
    assert not list(terraform.rglob(".trivyignore*"))
    suppressions = _suppressions(terraform)
    assert suppressions
    documented = SUPPRESSIONS_DOC.read_text(encoding="utf-8")
    rows = {
        (cells[1].strip("` "), cells[2].strip("` "))
        for line in documented.splitlines()
        if line.startswith("|") and len(cells := line.split("|")) > 4
    }
    for rule, path, reason in suppressions:
        assert len(reason) >= 20, f"{rule} in {path} needs a reason"
        assert (rule, path) in rows, f"{rule} in {path} is not listed in {SUPPRESSIONS_DOC.name}"
    listed = {(rule, path) for rule, path, _ in suppressions}
    stale = {row for row in rows if re.fullmatch(r"(CKV2?_AWS_\d+|AVD-AWS-\d+)", row[0])} - listed
    assert not stale, f"{SUPPRESSIONS_DOC.name} lists suppressions the code no longer has"


# --- terraform --------------------------------------------------------------------------


@pytest.mark.parametrize("answers", PROVIDER_ANSWERS, ids=_answers_id)
def test_terraform_fmt(rendered: Renderer, answers: Mapping[str, Any]) -> None:
    terraform = require_tool("terraform")
    # fmt needs no providers; an empty CLI config keeps a missing ~/.terraformrc quiet.
    run(
        [terraform, "fmt", "-check", "-recursive", "-diff"],
        cwd=rendered(answers) / TERRAFORM,
        env={"TF_CLI_CONFIG_FILE": os.devnull},
    )


@pytest.mark.slow
def test_module_validates_and_passes_its_tests(
    rendered: Renderer, terraform_env: dict[str, str], tmp_path: Path
) -> None:
    terraform = require_tool("terraform")
    module = _terraform_copy(rendered({}), tmp_path) / MODULE
    # The committed lock file must be enough: offline, from the mirror, nothing re-resolved.
    run(
        [terraform, "init", "-backend=false", "-input=false", "-lockfile=readonly"],
        cwd=module,
        env=terraform_env,
    )
    run([terraform, "validate", "-no-color"], cwd=module, env=terraform_env)
    result = run([terraform, "test", "-no-color"], cwd=module, env=terraform_env)
    assert re.search(r"Success! [1-9]\d* passed, 0 failed", result.stdout), result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("answers", PROVIDER_ANSWERS, ids=_answers_id)
def test_environment_validates_and_passes_its_tests(
    rendered: Renderer,
    answers: Mapping[str, Any],
    environment: str,
    terraform_env: dict[str, str],
    tmp_path: Path,
) -> None:
    terraform = require_tool("terraform")
    root = _terraform_copy(rendered(answers), tmp_path) / "environments" / environment
    run(
        [terraform, "init", "-backend=false", "-input=false", "-lockfile=readonly"],
        cwd=root,
        env=terraform_env,
    )
    run([terraform, "validate", "-no-color"], cwd=root, env=terraform_env)
    result = run(
        [terraform, "test", "-no-color", "-var-file=example.tfvars"], cwd=root, env=terraform_env
    )
    assert re.search(r"Success! [1-9]\d* passed, 0 failed", result.stdout), result.stdout


# --- scanners ---------------------------------------------------------------------------
# checkov takes seconds to start, so each scanner runs once over a tree holding every
# rendered combination plus, under UNSUPPRESSED, the defaults with all suppressions
# removed (to prove that each suppression still hides a real finding).

UNSUPPRESSED = "unsuppressed"


def _strip_suppressions(terraform: Path) -> None:
    for path in terraform.rglob("*.tf"):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = "".join(line for line in lines if not _SUPPRESSION.search(line))
        path.write_text(kept, encoding="utf-8")


def _scan_tree(rendered: Renderer, root: Path) -> dict[str, Path]:
    """Copy infra/terraform of every combination (and an unsuppressed one) under root."""
    tree = {_answers_id(answers): rendered(answers) / TERRAFORM for answers in PROVIDER_ANSWERS}
    for name, terraform in tree.items():
        shutil.copytree(terraform, root / name)
    shutil.copytree(rendered({}) / TERRAFORM, root / UNSUPPRESSED)
    _strip_suppressions(root / UNSUPPRESSED)
    return tree


def _run_scanner(args: list[str | Path], *, cwd: Path, env: Mapping[str, str]) -> Any:
    """Run a scanner with JSON output; exit 1 means findings, anything else is an error."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode in (0, 1), f"{args[0]} failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)


def _by_tree(findings: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Group (rule, path relative to the scan root) findings by the scan tree's top folder."""
    grouped: dict[str, set[str]] = {}
    for rule, path in findings:
        top = path.lstrip("/").split("/", 1)[0]
        grouped.setdefault(top, set()).add(f"{rule} {path}")
    return grouped


@pytest.mark.slow
def test_checkov_finds_nothing_and_every_skip_is_needed(
    rendered: Renderer, terraform_env: dict[str, str], tmp_path: Path
) -> None:
    checkov = require_tool("checkov")
    tree = _scan_tree(rendered, tmp_path)
    report = _run_scanner(
        [
            checkov,
            "--directory",
            ".",
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
            "--compact",
        ],
        cwd=tmp_path,
        env=terraform_env,
    )
    results = report["results"]
    failed = _by_tree([(c["check_id"], c["file_path"]) for c in results["failed_checks"]])
    skipped = _by_tree([(c["check_id"], c["file_path"]) for c in results["skipped_checks"]])
    for name, terraform in tree.items():
        assert failed.get(name, set()) == set(), name
        inline = {rule for rule, _, _ in _suppressions(terraform)}
        assert {entry.split()[0] for entry in skipped.get(name, set())} <= inline, name
    suppressed = {rule for rule, _, _ in _suppressions(rendered({}) / TERRAFORM)}
    still_found = {entry.split()[0] for entry in failed.get(UNSUPPRESSED, set())}
    unneeded = {rule for rule in suppressed if rule.startswith("CKV")} - still_found
    assert unneeded == set(), "these checkov skips no longer hide a failed check"


@pytest.mark.slow
def test_trivy_config_finds_nothing_and_every_ignore_is_needed(
    rendered: Renderer, tmp_path: Path
) -> None:
    trivy = require_tool("trivy")
    scan_root = tmp_path / "scan"
    tree = _scan_tree(rendered, scan_root)
    report = _run_scanner(
        [
            trivy,
            "config",
            "--skip-check-update",
            "--skip-version-check",
            "--quiet",
            "--cache-dir",
            tmp_path / "trivy-cache",
            "--format",
            "json",
            "--exit-code",
            "1",
            ".",
        ],
        cwd=scan_root,
        env={},
    )
    findings = _by_tree(
        [
            ("AVD-" + item["ID"].removeprefix("AVD-"), result["Target"])
            for result in report.get("Results", [])
            for item in result.get("Misconfigurations") or []
        ]
    )
    for name in tree:
        assert findings.get(name, set()) == set(), name
    suppressed = {rule for rule, _, _ in _suppressions(rendered({}) / TERRAFORM)}
    still_found = {entry.split()[0] for entry in findings.get(UNSUPPRESSED, set())}
    unneeded = {rule for rule in suppressed if rule.startswith("AVD")} - still_found
    assert unneeded == set(), "these Trivy ignores no longer hide a finding"
