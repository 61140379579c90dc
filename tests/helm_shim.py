"""A ``helm`` command for the workflow tests: ``lint`` and ``template`` on helm-python-sdk.

There is no helm binary here; CI's steps call ``helm lint --strict`` and ``helm template``,
so the tests put this on PATH to run those steps as written. It accepts only the options the
steps use, so a step that passes an option Helm would not take (or a typo) fails here too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["install", "main"]


def main(argv: list[str]) -> int:
    """Run ``helm lint`` or ``helm template``; exit 1 with the findings like helm does."""
    import helm_python as helm

    parser = argparse.ArgumentParser(prog="helm")
    commands = parser.add_subparsers(dest="command", required=True)
    lint = commands.add_parser("lint")
    lint.add_argument("chart", type=Path)
    lint.add_argument("--strict", action="store_true")
    template = commands.add_parser("template")
    template.add_argument("release")
    template.add_argument("chart", type=Path)
    for command in (lint, template):
        command.add_argument("--values", "-f", type=Path, action="append", default=[])
        command.add_argument("--namespace", "-n", required=True)
    args = parser.parse_args(argv)
    values: dict[str, object] = {}
    for path in args.values:
        values = helm.Chart.load(args.chart).merge_values(
            {**values, **helm.values_from_yaml(path.read_text(encoding="utf-8"))}
        )
    if args.command == "lint":
        report = helm.lint(args.chart, values, strict=args.strict, namespace=args.namespace)
        findings = [m for m in report["messages"] if m["severity"] >= (2 if args.strict else 3)]
        for finding in findings:
            print(f"[{finding['severity']}] {finding['path']}: {finding['error']}")
        return 1 if findings or report["errors"] else 0
    rendered = helm.Chart.load(args.chart).render(
        values=values, name=args.release, namespace=args.namespace
    )
    for name, text in sorted(rendered.items()):
        if not name.endswith("NOTES.txt") and text.strip():
            sys.stdout.write(f"---\n# Source: {name}\n{text.strip()}\n")
    return 0


def install(directory: Path) -> Path:
    """Write an executable ``helm`` into ``directory`` that runs this module; return the dir."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "helm"
    root = Path(__file__).resolve().parent.parent
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(root)!r})\n"
        "from tests.helm_shim import main\nsys.exit(main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return directory


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
