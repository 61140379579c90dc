"""Rewrite the Kubernetes copies of the rules and the dashboard from monitoring/.

monitoring/prometheus/rules.yml and monitoring/grafana/dashboard.json are the sources a
team edits; the PrometheusRule's spec and the dashboard ConfigMap under deploy/ carry
the same content for the Prometheus Operator, and a Helm chart holds both files as they are
(deploy/helm/<chart>/files/), which its templates read with .Files.Get. ``--check`` changes
nothing and exits 1 naming every copy whose parsed content differs from its source.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = Path("monitoring/prometheus/rules.yml")
DASHBOARD = Path("monitoring/grafana/dashboard.json")
RULE_COPIES = (
    Path("deploy/kustomize/base/prometheusrule.yaml"),
    Path("deploy/manifests/81-prometheusrule.yaml"),
)
DASHBOARD_COPIES = (
    Path("deploy/kustomize/base/grafana-dashboard.yaml"),
    Path("deploy/manifests/82-grafana-dashboard.yaml"),
)


def _indented(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def _rule_copy(copy: str, rules: str) -> str:
    """Return the PrometheusRule text with its spec replaced by the rules file."""
    head = re.split(r"(?m)^spec:.*\n", copy, maxsplit=1)[0]
    return head + "spec:\n" + _indented(rules.rstrip("\n") + "\n", 2)


def _dashboard_copy(copy: str, dashboard: str) -> str:
    """Return the ConfigMap text with its one JSON data key replaced by the dashboard."""
    match = re.search(r"(?m)^(?P<indent> +)(?P<key>[\w.-]+\.json): *[|>][-+]?\n", copy)
    if match is None:
        raise SystemExit(f"no '<name>.json: |' data key in the dashboard ConfigMap: {copy[:80]!r}")
    indent = len(match["indent"])
    rest = copy[match.end() :].splitlines(True)
    # The block scalar ends at the first non-blank line indented no deeper than its key.
    end = next(
        (
            i
            for i, line in enumerate(rest)
            if line.strip() and len(line) - len(line.lstrip()) <= indent
        ),
        len(rest),
    )
    block = _indented(dashboard.rstrip("\n") + "\n", indent + 2)
    return copy[: match.end()] + block + "".join(rest[end:])


def _whole_copy(copy: str, source: str) -> str:
    """Return the source itself: the chart's copy is the file, unchanged."""
    return source


def _same_text(copy: str, source: str) -> bool:
    return copy == source


def _chart_copies(root: Path, name: str) -> list[Path]:
    """The chart's copy of a monitoring file, relative to the repository (none without a chart)."""
    return sorted(p.relative_to(root) for p in root.glob(f"deploy/helm/*/files/{name}"))


def _same_rules(copy: str, rules: str) -> bool:
    return bool(yaml.safe_load(copy).get("spec") == yaml.safe_load(rules))


def _same_dashboard(copy: str, dashboard: str) -> bool:
    data = yaml.safe_load(copy).get("data") or {}
    values = [value for key, value in data.items() if key.endswith(".json")]
    return len(values) == 1 and json.loads(values[0]) == json.loads(dashboard)


def main(argv: list[str] | None = None) -> int:
    """Sync (or with --check, compare) every Kubernetes copy that exists; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when a copy differs"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository (default: this one)"
    )
    args = parser.parse_args(argv)
    rules = (args.root / RULES).read_text(encoding="utf-8")
    dashboard = (args.root / DASHBOARD).read_text(encoding="utf-8")
    jobs = [(path, rules, _same_rules, _rule_copy) for path in RULE_COPIES]
    jobs += [(path, dashboard, _same_dashboard, _dashboard_copy) for path in DASHBOARD_COPIES]
    for source, name in ((rules, RULES.name), (dashboard, DASHBOARD.name)):
        jobs += [(path, source, _same_text, _whole_copy) for path in _chart_copies(args.root, name)]
    stale = []
    for path, source, same, rewrite in jobs:
        target = args.root / path
        if not target.exists():
            continue
        text = target.read_text(encoding="utf-8")
        if same(text, source):
            continue
        if args.check:
            stale.append(path)
            continue
        target.write_text(rewrite(text, source), encoding="utf-8")
        if not same(target.read_text(encoding="utf-8"), source):
            raise SystemExit(f"{path}: rewritten but still differs from its source")
        print(f"updated {path}")
    for path in stale:
        print(
            f"{path} is out of date with monitoring/: run scripts/sync_monitoring.py",
            file=sys.stderr,
        )
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
