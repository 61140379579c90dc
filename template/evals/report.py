"""Reports of a run: ``results.json``, ``report.md`` and ``report.html``."""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path
from typing import Any

from .compare import Comparison
from .runner import CaseResult, Target

__all__ = ["html_report", "markdown_report", "results_document", "write_reports"]


def results_document(
    results: list[CaseResult], comparison: Comparison, *, target: Target, base_url: str
) -> dict[str, Any]:
    """Return everything a run measured, as the JSON ``results.json`` holds."""
    ran = [r for r in results if r.status != "skipped"]
    return {
        "base_url": base_url,
        "model": target.model,
        "judge_model": target.judge_model,
        "fake_provider": target.fake,
        "summary": {
            "cases": len(results),
            "passed": sum(r.status == "passed" for r in results),
            "failed": sum(r.status == "failed" for r in results),
            "errors": sum(r.status == "error" for r in results),
            "skipped": len(results) - len(ran),
            "mean_score": round(sum(r.score for r in ran) / len(ran), 4) if ran else 0.0,
            "latency_p95_ms": round(comparison.latency_p95_ms, 1),
            "tokens": sum(r.tokens for r in ran),
            "judge_tokens": sum(r.judge_tokens for r in ran),
            "cost_usd": round(sum(r.cost_usd for r in ran), 6),
        },
        "gate": {
            "passed": not comparison.failed,
            "regressions": [dataclasses.asdict(r) for r in comparison.regressions],
            "improved": comparison.improved,
            "new": comparison.new,
        },
        "cases": [
            {**dataclasses.asdict(r), "tokens": r.tokens, "latency_ms": round(r.latency_ms, 1)}
            for r in results
        ],
    }


def _cell(text: str) -> str:
    """Return text safe in a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")[:160]


def markdown_report(document: dict[str, Any]) -> str:
    """Return the Markdown report: the verdict, the regressions, then one row per case."""
    summary, gate = document["summary"], document["gate"]
    verdict = "passed" if gate["passed"] else "FAILED"
    lines = [
        f"## Evals: {verdict}",
        "",
        f"Model `{document['model']}` (judge `{document['judge_model']}`) at "
        f"{document['base_url']}: {summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['errors']} errors, {summary['skipped']} skipped; mean score "
        f"{summary['mean_score']:.2f}, latency p95 {summary['latency_p95_ms']:.0f} ms, "
        f"{summary['tokens']} tokens, ${summary['cost_usd']:.4f}.",
        "",
    ]
    if gate["regressions"]:
        lines += ["Regressions against `evals/baseline.json`:", ""]
        lines += [f"- `{r['case']}`: {_cell(r['reason'])}" for r in gate["regressions"]]
        lines.append("")
    if gate["improved"]:
        lines += [f"Improved: {', '.join(f'`{c}`' for c in gate['improved'])}", ""]
    lines += [
        "| case | status | score | latency ms | tokens | detail |",
        "|---|---|---:|---:|---:|---|",
    ]
    for case in document["cases"]:
        detail = case["error"] or "; ".join(c["detail"] for c in case["checks"] if not c["passed"])
        lines.append(
            f"| `{case['id']}` | {case['status']} | {case['score']:.2f} | "
            f"{case['latency_ms']:.0f} | {case['tokens']} | {_cell(detail)} |"
        )
    return "\n".join(lines) + "\n"


def html_report(document: dict[str, Any]) -> str:
    """Return a self-contained HTML report (no scripts, every value escaped)."""
    esc = html.escape
    gate = document["gate"]
    rows = []
    for case in document["cases"]:
        checks = "<br>".join(
            f"{'&#10003;' if c['passed'] else '&#10007;'} {esc(c['type'])} {esc(c['detail'])}"
            for c in case["checks"]
        )
        rows.append(
            f'<tr class="{esc(case["status"])}"><td>{esc(case["id"])}</td>'
            f"<td>{esc(case['dataset'])}</td><td>{esc(case['status'])}</td>"
            f"<td>{case['score']:.2f}</td><td>{case['latency_ms']:.0f}</td>"
            f"<td>{case['tokens']}</td><td>{checks or esc(case['error'])}</td>"
            f"<td><pre>{esc(case['answer'][:2000])}</pre></td></tr>"
        )
    regressions = "".join(
        f"<li><code>{esc(r['case'])}</code>: {esc(r['reason'])}</li>" for r in gate["regressions"]
    )
    summary = " ".join(f"{esc(k)}: {esc(str(v))};" for k, v in document["summary"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evals</title>
<style>
body {{ font-family: sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3rem; }}
tr.failed, tr.error {{ background: #fdd; }} tr.skipped {{ color: #888; }}
pre {{ white-space: pre-wrap; max-width: 40rem; margin: 0; }}
</style></head><body>
<h1>Evals: {"passed" if gate["passed"] else "FAILED"}</h1>
<p>Model <code>{esc(document["model"])}</code>, judge <code>{esc(document["judge_model"])}</code>,
{esc(document["base_url"])}</p>
<p>{summary}</p>
<ul>{regressions}</ul>
<table>
<thead><tr><th>case</th><th>dataset</th><th>status</th><th>score</th><th>latency ms</th>
<th>tokens</th><th>checks</th><th>answer</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody></table></body></html>
"""


def write_reports(document: dict[str, Any], directory: Path) -> None:
    """Write ``results.json``, ``report.md`` and ``report.html`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    (directory / "report.md").write_text(markdown_report(document), "utf-8")
    (directory / "report.html").write_text(html_report(document), "utf-8")
