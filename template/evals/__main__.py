"""Command line: ``python -m evals run`` and ``python -m evals update-baseline``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import openai

from .cases import DATASETS, load_cases
from .compare import BASELINE, THRESHOLDS, baseline_of, compare, load_baseline, load_thresholds
from .report import results_document, write_reports
from .runner import detect_target, run_cases

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
DEFAULT_REPORT_DIR = Path("reports/evals")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the datasets, write reports, apply the gate")
    run.add_argument("--base-url", default=os.environ.get("EVAL_BASE_URL", DEFAULT_BASE_URL))
    run.add_argument("--api-key", default=os.environ.get("EVAL_API_KEY"))
    run.add_argument("--model", default=None, help="default: the service's DEFAULT_MODEL")
    run.add_argument("--judge-model", default=None, help="default: the model under test")
    run.add_argument("--datasets", type=Path, default=DATASETS)
    run.add_argument("--baseline", type=Path, default=BASELINE)
    run.add_argument("--thresholds", type=Path, default=THRESHOLDS)
    run.add_argument("--report-dir", type=Path, default=DEFAULT_REPORT_DIR)
    run.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    update = commands.add_parser("update-baseline", help="set the baseline to the last run")
    update.add_argument("--report-dir", type=Path, default=DEFAULT_REPORT_DIR)
    update.add_argument("--baseline", type=Path, default=BASELINE)
    return parser


def _run(args: argparse.Namespace) -> int:
    if not args.api_key:
        print("evals: no API key (--api-key or EVAL_API_KEY)", file=sys.stderr)
        return 1
    try:
        cases = load_cases(args.datasets)
        thresholds = load_thresholds(args.thresholds)
        baseline = load_baseline(args.baseline)
    except (OSError, ValueError, KeyError) as error:
        print(f"evals: {error}", file=sys.stderr)
        return 1
    # No retries: a flaky answer must show in the results, not hide behind a second try.
    client = openai.OpenAI(
        base_url=args.base_url, api_key=args.api_key, timeout=args.timeout, max_retries=0
    )
    try:
        target = detect_target(client, model=args.model, judge_model=args.judge_model)
    except (openai.OpenAIError, RuntimeError) as error:
        print(f"evals: cannot list the models at {args.base_url}: {error}", file=sys.stderr)
        return 1
    results = run_cases(client, cases, target=target, prices=thresholds.prices)
    comparison = compare(results, baseline, thresholds)
    document = results_document(results, comparison, target=target, base_url=args.base_url)
    write_reports(document, args.report_dir)
    summary = document["summary"]
    print(
        f"evals: {summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['errors']} errors, {summary['skipped']} skipped; "
        f"reports in {args.report_dir}"
    )
    if comparison.failed:
        print(f"evals: regression in {', '.join(comparison.failing_cases)}", file=sys.stderr)
        for regression in comparison.regressions:
            print(f"  {regression.case}: {regression.reason}", file=sys.stderr)
        return 1
    return 0


def _update_baseline(args: argparse.Namespace) -> int:
    results = args.report_dir / "results.json"
    try:
        document = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"evals: cannot read {results} (run the evals first): {error}", file=sys.stderr)
        return 1
    baseline = baseline_of(document["cases"])
    args.baseline.write_text(json.dumps(baseline, indent=2, sort_keys=True) + "\n", "utf-8")
    print(f"evals: {args.baseline} now holds {len(baseline['cases'])} cases from {results}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command; return the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    return _update_baseline(args)


if __name__ == "__main__":
    sys.exit(main())
