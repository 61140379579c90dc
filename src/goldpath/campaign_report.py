"""A campaign's report: the CLI's status table, a Markdown page and a self-contained HTML
page (no JavaScript, no external assets) that a platform team can publish as it is."""

from __future__ import annotations

import html as _html
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlparse

from .campaign import GREEN, STATUSES, Campaign, RepoState, Status
from .project import parse_version

__all__ = ["COLUMNS", "WAVE_COLUMNS", "html", "markdown", "status_table"]

COLUMNS = ("repository", "wave", "from", "status", "checks", "pull request", "reason")
"""The columns of the per-repository table, in the CLI, Markdown and HTML alike."""

WAVE_COLUMNS = ("wave", "repositories", "merged", "green", "in review", "needs a person",
                "skipped", "not started")  # fmt: skip
"""The columns of the per-wave progress table."""

# How the statuses add up in a wave's progress (merged and skipped stand alone).
_IN_REVIEW: tuple[Status, ...] = ("updated", "pr-open")
_NEEDS_A_PERSON: tuple[Status, ...] = ("conflicted", "verify-failed", "failed")
_UNKNOWN_VERSION = "unknown"
_PULL_NUMBER = re.compile(r"/(?:pull|pulls|merge_requests)/(\d+)/?$")
# Characters that format, link or open HTML in a Markdown table cell (CommonMark, GFM).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")


@dataclass(frozen=True)
class _Row:
    """One repository as every format shows it; ``link`` is a safe http(s) URL or None."""

    cells: tuple[str, ...]
    link: str | None


def status_table(campaign: Campaign) -> list[list[str]]:
    """Return the CLI's table: a header row (``COLUMNS``), then one row per repository."""
    return [list(COLUMNS), *[list(row.cells) for row in _rows(campaign)]]


def markdown(campaign: Campaign) -> str:
    """Return the campaign as one Markdown page: release, counts, waves, repositories."""
    counts = campaign.counts()
    lines = [
        f"# goldpath campaign: {_md(campaign.to)}",
        "",
        *[f"- {_md(label)}: {_md(value)}" for label, value in _facts(campaign)],
        "",
        "## Repositories per status",
        "",
        "| status | repositories |",
        "|---|---:|",
        *[f"| {status} | {counts[status]} |" for status in STATUSES],
        f"| **total** | **{len(campaign.repositories)}** |",
        "",
        "## Waves",
        "",
        _md_row(WAVE_COLUMNS),
        "|---|" + "---:|" * (len(WAVE_COLUMNS) - 1),
        *[_md_row(row) for row in _wave_rows(campaign)],
        "",
        "## Repositories",
        "",
        _md_row(COLUMNS),
        "|" + "---|" * len(COLUMNS),
    ]
    link_column = COLUMNS.index("pull request")
    for row in _rows(campaign):
        cells = [_md(cell) for cell in row.cells]
        if row.link:
            cells[link_column] = f"[{_md(row.cells[link_column])}](<{_md_url(row.link)}>)"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def html(campaign: Campaign) -> str:
    """Return the campaign as a self-contained HTML page, with a bar chart of repositories
    per status and one per template version they started from."""
    counts = campaign.counts()
    title = f"goldpath campaign: {campaign.to}"
    facts = "".join(
        f"<dt>{_h(label)}</dt><dd>{_h(value)}</dd>" for label, value in _facts(campaign)
    )
    count_rows = "".join(f"<tr><td>{_h(s)}</td><td>{counts[s]}</td></tr>" for s in STATUSES)
    count_rows += f"<tr><th>total</th><th>{len(campaign.repositories)}</th></tr>"
    waves = "".join(
        "<tr>" + "".join(f"<td>{_h(cell)}</td>" for cell in row) + "</tr>"
        for row in _wave_rows(campaign)
    )
    link_column = COLUMNS.index("pull request")
    repositories = []
    for row in _rows(campaign):
        cells = [_h(cell) for cell in row.cells]
        if row.link:
            cells[link_column] = (
                f'<a href="{_h(row.link)}" rel="noopener noreferrer">{cells[link_column]}</a>'
            )
        status = row.cells[COLUMNS.index("status")]
        repositories.append(
            f'<tr class="status-{_h(status)}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    return _PAGE.format(
        title=_h(title),
        facts=facts,
        counts=count_rows,
        status_chart=_bar_chart(
            "chart-status", "Repositories per status", [(s, counts[s]) for s in STATUSES]
        ),
        version_chart=_bar_chart(
            "chart-from", "Repositories per version they started from", _from_counts(campaign)
        ),
        wave_head=_head(WAVE_COLUMNS),
        waves=waves,
        repo_head=_head(COLUMNS),
        repositories="".join(repositories),
    )


def _facts(campaign: Campaign) -> list[tuple[str, str]]:
    changes = [r.updated_at for r in campaign.repositories if r.updated_at]
    facts = [
        ("release", campaign.to),
        ("started", campaign.started_at),
        ("last change", max(changes) if changes else "none yet"),
        ("host", campaign.host),
        ("auto-merge", "on" if campaign.auto_merge else "off"),
        ("repositories", str(len(campaign.repositories))),
    ]
    return facts


def _ordered(campaign: Campaign) -> list[RepoState]:
    return sorted(campaign.repositories, key=lambda r: (r.wave, r.name))


def _rows(campaign: Campaign) -> list[_Row]:
    rows = []
    for repo in _ordered(campaign):
        link = repo.pull_request if _is_web_url(repo.pull_request) else None
        cells = (
            repo.name,
            str(repo.wave),
            repo.from_version or "-",
            repo.status,
            repo.checks or "-",
            _pull_label(repo.pull_request),
            repo.reason or "",
        )
        rows.append(_Row(cells, link))
    return rows


def _wave_rows(campaign: Campaign) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for number in campaign.waves():
        repos = campaign.wave(number)
        statuses = Counter(r.status for r in repos)
        label = f"{number} (canary)" if number == 0 else str(number)
        rows.append((
            label,
            str(len(repos)),
            str(statuses["merged"]),
            str(sum(r.gate == GREEN for r in repos)),
            str(sum(statuses[s] for s in _IN_REVIEW)),
            str(sum(statuses[s] for s in _NEEDS_A_PERSON)),
            str(statuses["skipped"]),
            str(statuses["behind"]),
        ))  # fmt: skip
    return rows


def _from_counts(campaign: Campaign) -> list[tuple[str, int]]:
    """Return how many repositories started from each template version, oldest first."""
    counts = Counter(r.from_version or _UNKNOWN_VERSION for r in campaign.repositories)
    versions = {v: parsed for v in counts if (parsed := parse_version(v)) is not None}
    ordered = sorted(versions, key=lambda v: (versions[v], v))
    ordered += sorted(v for v in counts if v not in versions)
    return [(version, counts[version]) for version in ordered]


def _pull_label(url: str | None) -> str:
    if not url:
        return "-"
    number = _PULL_NUMBER.search(urlparse(url).path)
    return f"#{number.group(1)}" if number else url


def _is_web_url(url: str | None) -> bool:
    if not url:
        return False
    parsed = urlparse(url)
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc)


def _md(text: str) -> str:
    """Escape text for a Markdown table cell: no formatting, no raw HTML, one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(_md(cell) for cell in cells) + " |"


def _md_url(url: str) -> str:
    """Make a URL safe inside a Markdown ``<...>`` link destination."""
    for character, encoded in (("<", "%3C"), (">", "%3E"), (" ", "%20"), ("|", "%7C")):
        url = url.replace(character, encoded)
    return url.replace("\\", "%5C")


def _h(text: str) -> str:
    return _html.escape(text, quote=True)


def _head(columns: tuple[str, ...]) -> str:
    return "<tr>" + "".join(f'<th scope="col">{_h(c)}</th>' for c in columns) + "</tr>"


_BAR_HEIGHT = 22
_LABEL_WIDTH = 140
_BAR_WIDTH = 320
_COUNT_WIDTH = 48


def _bar_chart(chart_id: str, title: str, bars: list[tuple[str, int]]) -> str:
    """Return an inline SVG with one horizontal bar per (label, count)."""
    most = max((count for _, count in bars), default=0) or 1
    width = _LABEL_WIDTH + _BAR_WIDTH + _COUNT_WIDTH
    height = _BAR_HEIGHT * len(bars) + 4
    parts = [
        f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title">',
        f'<title id="{chart_id}-title">{_h(title)}</title>',
    ]
    for index, (label, count) in enumerate(bars):
        y = index * _BAR_HEIGHT + 2
        length = round(_BAR_WIDTH * count / most)
        middle = y + _BAR_HEIGHT // 2 + 4
        parts.append(
            f'<g class="bar">'
            f'<text class="label" x="{_LABEL_WIDTH - 8}" y="{middle}" '
            f'text-anchor="end">{_h(label)}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{length}" '
            f'height="{_BAR_HEIGHT - 6}"></rect>'
            f'<text class="count" x="{_LABEL_WIDTH + length + 6}" y="{middle}">{count}</text>'
            f"</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


# Every value put into this page is escaped; the Content-Security-Policy forbids scripts
# and any fetch, so the page stays self-contained wherever it is published.
_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta http-equiv="Content-Security-Policy" \
content="default-src 'none'; style-src 'unsafe-inline'" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{title}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
  padding: 0 1rem; color: #1b1f24; }}
h1 {{ font-size: 1.6rem; }}
dl {{ display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }}
dt {{ font-weight: 600; }}
dd {{ margin: 0; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
th, td {{ border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left;
  vertical-align: top; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 2rem; }}
svg text {{ font: 13px system-ui, sans-serif; fill: #1b1f24; }}
svg rect {{ fill: #4f7fbf; }}
tr.status-merged td:nth-child(4) {{ color: #1a7f37; font-weight: 600; }}
tr.status-conflicted td:nth-child(4), tr.status-verify-failed td:nth-child(4),
tr.status-failed td:nth-child(4) {{ color: #cf222e; font-weight: 600; }}
</style>
</head>
<body>
<h1>{title}</h1>
<dl>{facts}</dl>
<h2>Repositories per status</h2>
<div class="charts">
<table><tr><th scope="col">status</th><th scope="col">repositories</th></tr>{counts}</table>
{status_chart}
</div>
<h2>Versions they started from</h2>
{version_chart}
<h2>Waves</h2>
<table>{wave_head}{waves}</table>
<h2>Repositories</h2>
<table>{repo_head}{repositories}</table>
</body>
</html>
"""
