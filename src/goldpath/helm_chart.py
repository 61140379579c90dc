"""Lint and render a generated repository's Helm chart offline with helm-python-sdk.

helm-python-sdk embeds Helm v4 as a shared library (no binary, no network). It is a large
wheel, so it is not a runtime dependency: goldpath's tests install it (the dev group) and
``goldpath verify`` uses it when it is importable.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

__all__ = [
    "ENVIRONMENTS",
    "MODULE",
    "available",
    "chart_dirs",
    "lint_chart",
    "release_namespace",
    "render_chart",
]

ENVIRONMENTS = ("dev", "staging", "prod")
"""The environments a chart has a values file for (values-<env>.yaml)."""
MODULE = "helm_python"
"""The import name of helm-python-sdk."""
_ERROR = 2
"""Lint severities: 1 info, 2 warning, 3 error; strict linting fails on warnings too."""


def available() -> bool:
    """Whether helm-python-sdk can be imported here."""
    return importlib.util.find_spec(MODULE) is not None


def chart_dirs(repo: Path) -> list[Path]:
    """The charts under deploy/helm (one, named after the service, in a generated repository)."""
    root = repo / "deploy" / "helm"
    return sorted(p.parent for p in root.glob("*/Chart.yaml")) if root.is_dir() else []


def release_namespace(chart: Path, environment: str) -> str:
    """The namespace of an environment's release: <chart>-<env>, as the kustomize overlays."""
    return f"{chart.name}-{environment}"


def _values(chart: Path, environment: str) -> dict[str, Any]:
    import helm_python as helm

    path = chart / f"values-{environment}.yaml"
    values: dict[str, Any] = helm.values_from_yaml(path.read_text(encoding="utf-8"))
    return values


def lint_chart(chart: Path, *, environment: str) -> list[str]:
    """``helm lint --strict -f values-<env>.yaml``: every warning and error, as lines."""
    import helm_python as helm

    report = helm.lint(
        chart,
        _values(chart, environment),
        strict=True,
        namespace=release_namespace(chart, environment),
    )
    problems = [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= _ERROR]
    return problems + [str(error) for error in report["errors"]]


def render_chart(chart: Path, *, environment: str) -> str:
    """``helm template <chart> -n <chart>-<env> -f values-<env>.yaml``, NOTES.txt left out."""
    import helm_python as helm

    rendered = helm.Chart.load(chart).render(
        values=_values(chart, environment),
        name=chart.name,
        namespace=release_namespace(chart, environment),
    )
    documents = [
        f"# Source: {path}\n{text.strip()}\n"
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt") and text.strip()
    ]
    return "---\n".join(documents)
