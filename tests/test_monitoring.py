"""The rendered rules, scrape config, adapter values and dashboard, checked by promtool
and proven against a real Prometheus scraping the rendered service."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml

from tests.conftest import Renderer
from tests.helpers import ServiceProcess, free_port, require_tool, run

# Every combination that changes the rule files: the defaults, GitLab's runbook links,
# a stricter SLO and a loose one (90 %, where 14.4 times the budget is above 100 %).
RULE_COMBOS: list[dict[str, Any]] = [
    {},
    {"ci": "gitlab"},
    {"slo_availability": 99.9, "slo_latency_seconds": 5},
    {"slo_availability": 90.0, "slo_latency_seconds": 0.5, "owner": "ml/serving"},
]
ALERTS = [
    "LLMServiceErrorBudgetBurnFast",
    "LLMServiceErrorBudgetBurnSlow",
    "LLMServiceLatencyP95High",
    "LLMServiceLatencyP99High",
    "LLMServiceProviderErrors",
    "LLMServiceCircuitOpen",
    "LLMServiceBudgetNearlyExhausted",
    "LLMServiceDown",
    "LLMServicePodsNotReady",
    "LLMServicePodRestarting",
]
RULES = Path("monitoring/prometheus/rules.yml")
RULES_TEST = Path("monitoring/prometheus/rules_test.yml")
DASHBOARD = Path("monitoring/grafana/dashboard.json")
ADAPTER = Path("monitoring/prometheus-adapter/values.yaml")
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}


def _combo_id(combo: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in combo.items()) or "defaults"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rules(project: Path) -> list[dict[str, Any]]:
    return [rule for group in _load(project / RULES)["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("combo", RULE_COMBOS, ids=_combo_id)
def test_promtool_checks_and_tests_the_rules(rendered: Renderer, combo: dict[str, Any]) -> None:
    """`promtool check rules` and `promtool test rules` pass on the rendered files."""
    promtool = require_tool("promtool")
    project = rendered(combo)
    run([promtool, "check", "rules", project / RULES], cwd=project)
    result = run([promtool, "test", "rules", RULES_TEST.name], cwd=project / RULES.parent)
    assert "SUCCESS" in result.stdout


def test_promtool_test_fails_when_an_alert_is_broken(rendered: Renderer, tmp_path: Path) -> None:
    """The unit tests catch a rule that never fires (they are not vacuous)."""
    promtool = require_tool("promtool")
    shutil.copytree(rendered({}) / RULES.parent, tmp_path / "prometheus")
    rules = tmp_path / "prometheus" / RULES.name
    text = rules.read_text(encoding="utf-8")
    broken = text.replace("> (14.4 * 0.005)", "> (1000 * 0.005)").replace("> (6 * 0.005)", "> 1000")
    assert broken != text
    rules.write_text(broken, encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", RULES_TEST.name],
        cwd=rules.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "LLMServiceErrorBudgetBurnFast" in result.stdout + result.stderr


@pytest.mark.parametrize("combo", RULE_COMBOS, ids=_combo_id)
def test_every_alert_is_tested_firing_and_silent(rendered: Renderer, combo: dict[str, Any]) -> None:
    """Each alert of rules.yml has a test where it fires and one where it stays silent."""
    project = rendered(combo)
    alerts = [rule["alert"] for rule in _rules(project) if "alert" in rule]
    assert sorted(alerts) == sorted(ALERTS)
    cases = [
        case for test in _load(project / RULES_TEST)["tests"] for case in test["alert_rule_test"]
    ]
    for alert in alerts:
        expected = [case["exp_alerts"] for case in cases if case["alertname"] == alert]
        assert any(expected), f"{alert} is never expected to fire"
        assert [] in expected, f"{alert} is never expected to stay silent"


@pytest.mark.parametrize("combo", RULE_COMBOS, ids=_combo_id)
def test_rules_follow_the_answers_and_the_contract(
    rendered: Renderer, combo: dict[str, Any]
) -> None:
    """Job selectors, SLO thresholds, routing labels and runbook links come from the answers."""
    project = rendered(combo)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    slug, budget = answers["project_slug"], round((100 - answers["slo_availability"]) / 100, 6)
    blob = "/-/blob/main/" if answers["ci"] == "gitlab" else "/blob/main/"
    runbook = (project / "docs" / "runbook.md").read_text(encoding="utf-8")
    sections = {line[3:].strip().lower() for line in runbook.splitlines() if line.startswith("## ")}
    for rule in _rules(project):
        if (
            not rule["expr"]
            .strip()
            .startswith(("sum by (namespace) (kube_", "sum by (namespace, pod)"))
        ):
            assert f'job="{slug}"' in rule["expr"], rule
        if "alert" not in rule:
            continue
        labels = rule["labels"]
        assert labels["severity"] in {"critical", "warning"}
        assert (labels["service"], labels["team"]) == (slug, answers["owner"])
        anchor = rule["alert"].lower()
        assert rule["annotations"]["runbook_url"] == (
            f"{answers['repository_url']}{blob}docs/runbook.md#{anchor}"
        )
        assert anchor in sections, f"docs/runbook.md has no section {rule['alert']}"
    fast = next(r for r in _rules(project) if r.get("alert") == "LLMServiceErrorBudgetBurnFast")
    assert f"> (14.4 * {budget})" in fast["expr"]
    assert f"> (6 * {budget})" in fast["expr"]
    p95 = next(r for r in _rules(project) if r.get("alert") == "LLMServiceLatencyP95High")
    assert p95["expr"].endswith(f"> {float(answers['slo_latency_seconds'])}")


def test_scrape_config_is_a_valid_prometheus_config(rendered: Renderer, tmp_path: Path) -> None:
    """The plain-Prometheus scrape job: pod discovery in the service's namespaces, the token."""
    promtool = require_tool("promtool")
    project = rendered({})
    config = _load(project / "monitoring/prometheus/scrape-config.yml")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "my-genai-service"
    assert job["authorization"]["credentials_file"].endswith("my-genai-service-metrics-token")
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "pod"
    assert sd["namespaces"]["names"][0] == "my-genai-service"
    # Debian's prometheus (2.42) is built without Kubernetes discovery, so promtool checks
    # everything else of the file with the discovery swapped for a static target.
    job["static_configs"] = [{"targets": ["127.0.0.1:8000"]}]
    del job["kubernetes_sd_configs"]
    (tmp_path / "rules.yml").write_text((project / RULES).read_text(encoding="utf-8"))
    config["rule_files"] = [str(tmp_path / "rules.yml")]
    job["authorization"]["credentials_file"] = str(tmp_path / "token")
    (tmp_path / "token").write_text("t")
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(config), encoding="utf-8")
    run([promtool, "check", "config", checked], cwd=tmp_path)


def test_adapter_exposes_exactly_the_metric_the_hpa_names(rendered: Renderer) -> None:
    """One prometheus-adapter rule: http_requests_in_flight as a pods metric of the HPA."""
    project = rendered({})
    values = _load(project / ADAPTER)
    assert values["rules"]["default"] is False
    (rule,) = values["rules"]["custom"]
    overrides = rule["resources"]["overrides"]
    assert overrides == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
    hpa = _load(project / "deploy/kustomize/base/hpa.yaml")
    pods = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert pods == [rule["name"]["as"]]
    assert re.fullmatch(rule["name"]["matches"], pods[0])
    assert values["prometheus"] == {
        "url": "http://prometheus-operated.monitoring.svc",
        "port": 9090,
        "path": "",
    }


def test_dashboard_is_grafana_json_with_the_variables(rendered: Renderer) -> None:
    """The dashboard parses, has a stable uid from the slug and every panel queries $datasource."""
    project = rendered({"project_name": 'Quote "and" backslash \\ svc'})
    dashboard = json.loads((project / DASHBOARD).read_text(encoding="utf-8"))
    assert dashboard["uid"] == "quote-and-backslash-svc"
    assert dashboard["title"].startswith('Quote "and" backslash \\ svc')
    names = [variable["name"] for variable in dashboard["templating"]["list"]]
    assert names == ["datasource", "namespace"]
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert len(set(titles)) == len(titles) >= 8
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert 'job="quote-and-backslash-svc", namespace=~"$namespace"' in target["expr"]


# --- end to end: the rendered service, a real Prometheus, the rendered rules -------------

# The rule windows shortened so that a test of seconds exercises them: every range and
# every "for" of rules.yml is mapped (an unmapped one fails the substitution), and the
# order of the windows is kept, so the long window of each alert pair stays the long one.
SHORT_WINDOWS = {
    "5m": "4s",
    "30m": "8s",
    "1h": "12s",
    "2h": "16s",
    "6h": "20s",
    "1d": "24s",
    "3d": "30s",
}
SHORT_FOR = {"2m": "2s", "5m": "3s", "10m": "4s", "15m": "5s"}


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[duration[-1]]


def shortened(rules: str) -> str:
    """Return the rule file with its windows and "for" durations mapped to seconds."""
    rules = re.sub(r"\[(\w+)\]", lambda m: f"[{SHORT_WINDOWS[m[1]]}]", rules)
    return re.sub(r"(?m)^(\s+for: )(\w+)$", lambda m: m[1] + SHORT_FOR[m[2]], rules)


def test_window_mapping_keeps_the_order_and_covers_the_rules(rendered: Renderer) -> None:
    for mapping in (SHORT_WINDOWS, SHORT_FOR):
        ordered = sorted(mapping, key=_seconds)
        assert [mapping[k] for k in ordered] == sorted(mapping.values(), key=_seconds)
    text = (rendered({}) / RULES).read_text(encoding="utf-8")
    short = shortened(text)
    assert not re.search(r"\[\d+[mhd]\]", short)
    assert not re.search(r"for: \d+[mhd]", short)
    with pytest.raises(KeyError):
        shortened("expr: rate(x[7m])")


def _service(project: Path, port: int, log: Path, **env: str) -> ServiceProcess:
    """The rendered service (fake provider) on a fixed port, /metrics behind a token."""
    settings = {
        "LOG_LEVEL": "WARNING",
        "SERVED_MODELS": "fake-model",
        "SHUTDOWN_TIMEOUT_SECONDS": "2",
        **env,
    }
    return ServiceProcess(
        project, log, port=port, settings={"METRICS_TOKEN": "metrics-secret", **settings}
    )


class Prometheus:
    """A real ``prometheus`` on a free loopback port, its TSDB in the test's directory."""

    def __init__(self, directory: Path, config: dict[str, Any]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log = directory / "prometheus.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    require_tool("prometheus"),
                    f"--config.file={directory / 'prometheus.yml'}",
                    f"--storage.tsdb.path={directory / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"prometheus did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def wait_for(self, expr: str, *, seconds: float) -> list[dict[str, Any]]:
        """Poll a query until it returns a series; fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if result := self.query(expr):
                return result
            time.sleep(0.5)
        pytest.fail(f"{expr} returned nothing within {seconds:.0f} s")

    def alert_states(self, name: str) -> set[str]:
        response = httpx.get(f"{self.url}/api/v1/alerts", timeout=5)
        alerts = response.json()["data"]["alerts"]
        return {a["state"] for a in alerts if a["labels"]["alertname"] == name}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


class Traffic:
    """Chat completions sent in a loop on a thread until stopped (answers of any status)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        body = {"model": "fake-model", "messages": [{"role": "user", "content": "hello metrics"}]}
        auth = {"Authorization": "Bearer e2e-key"}
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    response = client.post(
                        f"{self.base_url}/v1/chat/completions", json=body, headers=auth
                    )
                    self.statuses.append(response.status_code)
                except httpx.TransportError:
                    pass  # the service restarts between the clean and the faulty phase
                self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _exposed(text: str) -> set[str]:
    """Sample names of a Prometheus text exposition, series or only # TYPE so far."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {
                name + s for s in {"histogram": ["_bucket", "_sum", "_count"]}.get(kind, [""])
            }
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.fixture(scope="module")
def project(rendered: Renderer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default combination, locked and installed as a user would."""
    uv = require_tool("uv")
    dst = tmp_path_factory.mktemp("monitoring") / "service"
    shutil.copytree(rendered({}), dst)
    if not (dst / "uv.lock").exists():
        run([uv, "lock"], cwd=dst, env=UV_ENV)
    run([uv, "sync", "--locked"], cwd=dst, env=UV_ENV)
    return dst


@pytest.mark.slow
def test_prometheus_scrapes_the_service_and_the_burn_rate_alert_fires(
    project: Path, rendered: Renderer, tmp_path: Path
) -> None:
    """Clean traffic: the autoscaler's queries and the SLIs have data, nothing pages.
    Provider faults: the fast burn-rate alert fires."""
    slug = "my-genai-service"
    require_tool("prometheus")
    (tmp_path / "rules.yml").write_text(shortened((project / RULES).read_text(encoding="utf-8")))
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "scrape_configs": [],
    }
    port = free_port()
    config["scrape_configs"] = [
        {
            "job_name": slug,
            "authorization": {"credentials": "metrics-secret"},
            # The labels Kubernetes discovery would add (scrape-config.yml relabels them).
            "static_configs": [
                {
                    "targets": [f"127.0.0.1:{port}"],
                    "labels": {"namespace": slug, "pod": f"{slug}-0"},
                }
            ],
        }
    ]
    log = tmp_path / "service.log"
    service = _service(project, port, log)
    prometheus = Prometheus(tmp_path, config)
    traffic = Traffic(service.base_url)
    try:
        up = prometheus.wait_for(f'up{{job="{slug}"}} == 1', seconds=20)
        assert up[0]["metric"]["pod"] == f"{slug}-0"
        prometheus.wait_for(f'namespace_job:http_requests:rate5m{{job="{slug}"}} > 0', seconds=30)

        rule = _load(project / ADAPTER)["rules"]["custom"][0]
        adapter_query = (
            rule["metricsQuery"]
            .replace("<<.Series>>", "http_requests_in_flight")
            .replace("<<.LabelMatchers>>", f'namespace="{slug}",pod=~"{slug}-0"')
            .replace("<<.GroupBy>>", "pod")
        )
        assert prometheus.query(adapter_query), adapter_query
        keda = rendered({"k8s_autoscaler": "keda"}) / "deploy/kustomize/base/scaledobject.yaml"
        triggers = _load(keda)["spec"]["triggers"]
        (keda_query,) = [t["metadata"]["query"] for t in triggers if t["type"] == "prometheus"]
        assert prometheus.query(keda_query), keda_query

        for record in (
            "namespace_job:http_request_errors:ratio_rate5m",
            "namespace_job:http_request_errors:ratio_rate1h",
            "namespace_job:http_request_duration_seconds:p95_5m",
            "namespace_job:http_requests_in_flight:sum",
        ):
            prometheus.wait_for(f'{record}{{job="{slug}"}}', seconds=15)
        assert (
            float(prometheus.query("namespace_job:http_request_errors:ratio_rate5m")[0]["value"][1])
            == 0
        )
        time.sleep(4)  # longer than the fast alert's shortened "for"
        assert prometheus.alert_states("LLMServiceErrorBudgetBurnFast") == set()

        service.stop()
        service = _service(project, port, log, FAKE_FAULT="error")
        deadline = time.monotonic() + 60
        while prometheus.alert_states("LLMServiceErrorBudgetBurnFast") != {"firing"}:
            assert time.monotonic() < deadline, "the fast burn-rate alert did not fire within 60 s"
            time.sleep(1)
        assert any(status >= 500 for status in traffic.statuses)

        # The faulty process exports every metric too (errors and open circuits included).
        live = _exposed(
            httpx.get(
                f"{service.base_url}/metrics", headers={"Authorization": "Bearer metrics-secret"}
            ).text
        )
        recorded = {r["record"] for r in _rules(project) if "record" in r}
        dashboard = json.loads((project / DASHBOARD).read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                names = set(SELECTOR.findall(target["expr"]))
                assert names, panel["title"]
                # "up" is Prometheus' own series of each scrape, not the service's.
                unknown = names - live - recorded - {"up"}
                assert not unknown, (panel["title"], unknown)
                # And the query, as Grafana sends it, has data: its variables filled in.
                expr = target["expr"].replace("$namespace", ".+")
                expr = expr.replace("$__rate_interval", "30s")
                prometheus.wait_for(expr, seconds=20)
    finally:
        traffic.stop()
        service.stop()
        prometheus.stop()
