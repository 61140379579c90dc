"""The campaign report: the CLI table, the Markdown page and the self-contained HTML page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from goldpath.campaign import GREEN, STATUSES, Campaign, RepoState, Status
from goldpath.campaign_report import COLUMNS, html, markdown, status_table

SCRIPT_NAME = "team-b/<script>alert(1)</script>"
PULL = "https://github.com/org/{}/pull/{}"

# Counted by hand from the campaign below, not by the code under test.
EXPECTED_COUNTS = {
    "behind": 1,
    "updated": 0,
    "conflicted": 1,
    "verify-failed": 1,
    "pr-open": 2,
    "merged": 2,
    "skipped": 1,
    "failed": 1,
}
EXPECTED_FROM = [("v1.2.0", 2), ("v1.9.0", 3), ("v1.10.0", 3), ("unknown", 1)]
# wave, repositories, merged, green, in review, needs a person, skipped, not started
EXPECTED_WAVES = [
    ["0 (canary)", "2", "1", "1", "1", "0", "0", "0"],
    ["1", "7", "1", "1", "1", "3", "1", "1"],
]


def _campaign() -> Campaign:
    def repo(name: str, wave: int, status: Status, version: str | None, **more: str) -> RepoState:
        state = RepoState(name, f"/clones/{name}", wave=wave, status=status, from_version=version)
        for key, value in more.items():
            setattr(state, key, value)
        return state

    return Campaign(
        to="v1.11.0",
        host="github",
        started_at="2025-03-03T09:00:00Z",
        repositories=[
            repo("team-a/search", 0, "pr-open", "v1.9.0", pull_request=PULL.format("search", 7),
                 checks="pending"),
            repo("team-a/chat", 0, "merged", "v1.10.0", pull_request=PULL.format("chat", 12),
                 checks="passed", gate=GREEN, updated_at="2025-03-04T10:00:00Z"),
            repo("team-b/summarize", 1, "conflicted", "v1.2.0", reason="conflicts: src/app.py",
                 pull_request="https://gitlab.example.com/g/summarize/-/merge_requests/3"),
            repo(SCRIPT_NAME, 1, "failed", "v1.9.0", reason="push refused: <denied> & | more"),
            repo("team-c/ocr", 1, "verify-failed", "v1.10.0", reason="ruff: 2 findings"),
            repo("team-c/rag", 1, "skipped", "v1.9.0",
                 reason="goldpath/update-v1.11.0 holds 1 commit goldpath did not make"),
            repo("team-c/voice", 1, "behind", "v1.2.0"),
            repo("team-d/translate", 1, "pr-open", None, pull_request=PULL.format("tr", 5)),
            repo("team-d/vision", 1, "merged", "v1.10.0", pull_request=PULL.format("vision", 9),
                 checks="passed", gate=GREEN, updated_at="2025-03-05T11:30:00Z"),
        ],
    )  # fmt: skip


class _Page(HTMLParser):
    """Check nesting as it parses; collect table rows, chart bars, links and tags seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()
        self.tables: list[list[list[str]]] = []
        self.charts: dict[str, list[tuple[str, int, int]]] = {}
        self.links: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self._cell: list[str] | None = None
        self._chart: str | None = None
        self._bar: dict[str, str] = {}
        self._text_class: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)
        self._start(tag, dict(attrs))
        self.attributes += attrs

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, dict(attrs))  # <meta ... />: opened and closed at once
        self.attributes += attrs

    def _start(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tags.add(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in {"td", "th"}:
            self._cell = []
        elif tag == "a":
            self.links.append(attrs.get("href") or "")
        elif tag == "svg":
            self._chart = attrs.get("id") or "?"
            self.charts[self._chart] = []
        elif tag == "g" and self._chart:
            self._bar = {}
        elif tag == "text" and self._chart:
            self._text_class = attrs.get("class")
            self._bar[self._text_class or "?"] = ""
        elif tag == "rect" and self._chart:
            self._bar["width"] = attrs.get("width") or ""

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
            return
        self.open.pop()
        if tag in {"td", "th"} and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "text":
            self._text_class = None
        elif tag == "g" and self._chart:
            bar = self._bar
            self.charts[self._chart].append((bar["label"], int(bar["count"]), int(bar["width"])))
        elif tag == "svg":
            self._chart = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._text_class and self._chart:
            self._bar[self._text_class] += data


def _parsed(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _md_table(page: str, heading: str) -> list[list[str]]:
    """Return the rows of the Markdown table under a heading, cells unescaped."""
    section = page.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([re.sub(r"\\(.)", r"\1", cell.strip()) for cell in cells])
    return rows[1:]  # without the header


def test_markdown_shows_the_release_counts_waves_and_every_repository() -> None:
    page = markdown(_campaign())
    assert page.startswith("# goldpath campaign: v1.11.0\n")
    assert "- started: 2025-03-03T09:00:00Z\n" in page
    assert "- last change: 2025-03-05T11:30:00Z\n" in page

    counts = {row[0]: row[1] for row in _md_table(page, "Repositories per status")}
    assert counts == {**{s: str(n) for s, n in EXPECTED_COUNTS.items()}, "**total**": "**9**"}
    assert _md_table(page, "Waves") == EXPECTED_WAVES

    rows = _md_table(page, "Repositories")
    shown = {row[0]: row for row in rows}
    assert {name: row[3] for name, row in shown.items()} == {
        r.name: r.status for r in _campaign().repositories
    }
    assert [row[0] for row in rows][:2] == ["team-a/chat", "team-a/search"], "canaries first"
    assert shown["team-a/chat"][5] == f"[#12](<{PULL.format('chat', 12)}>)"
    assert shown["team-b/summarize"][5].startswith("[#3](<https://gitlab.example.com/")
    assert shown["team-c/voice"][5] == "-"
    assert shown["team-c/rag"][6].startswith("goldpath/update-v1.11.0 holds 1 commit")
    assert shown["team-d/translate"][2] == "-", "no from-version recorded"


def test_names_and_reasons_are_escaped_in_markdown_and_html() -> None:
    campaign = _campaign()
    page = markdown(campaign)
    assert "<script>" not in page
    assert "<denied>" not in page
    row = next(r for r in _md_table(page, "Repositories") if r[0] == SCRIPT_NAME)
    assert row[6] == "push refused: <denied> & | more", "a pipe does not split the cell"

    document = html(campaign)
    assert "<script" not in document
    assert "<denied>" not in document
    parsed = _parsed(document)
    assert "script" not in parsed.tags
    cells = [row for table in parsed.tables for row in table if row and row[0] == SCRIPT_NAME]
    assert cells
    assert cells[0][6] == "push refused: <denied> & | more"


def test_html_shows_the_same_counts_waves_and_repositories() -> None:
    document = html(_campaign())
    parsed = _parsed(document)
    assert parsed.errors == [], "every closing tag closes the tag opened last"
    assert parsed.open == [], "every opened tag is closed"
    counts_table, waves_table, repos_table = parsed.tables
    counts = {row[0]: row[1] for row in counts_table[1:]}
    assert counts == {**{s: str(n) for s, n in EXPECTED_COUNTS.items()}, "total": "9"}
    assert waves_table[1:] == EXPECTED_WAVES
    assert repos_table[0] == list(COLUMNS)
    assert {row[0]: row[3] for row in repos_table[1:]} == {
        r.name: r.status for r in _campaign().repositories
    }
    assert "<title>goldpath campaign: v1.11.0</title>" in document


def test_html_charts_count_labels_match_the_counts_and_bars_scale() -> None:
    parsed = _parsed(html(_campaign()))
    status_bars = parsed.charts["chart-status"]
    assert [(label, count) for label, count, _ in status_bars] == list(EXPECTED_COUNTS.items())
    widths = {label: width for label, _, width in status_bars}
    assert widths["updated"] == 0
    assert widths["merged"] == widths["pr-open"] == max(widths.values()) > 0
    assert widths["merged"] == 2 * widths["failed"]

    from_bars = parsed.charts["chart-from"]
    assert [(label, count) for label, count, _ in from_bars] == EXPECTED_FROM


def test_html_is_self_contained() -> None:
    document = html(_campaign())
    parsed = _parsed(document)
    assert not {"script", "link", "img", "iframe", "object", "embed"} & parsed.tags
    assert not any(name.startswith("on") for name, _ in parsed.attributes), "no event handlers"
    assert not any(name == "src" for name, _ in parsed.attributes)
    pulls = [r.pull_request for r in _campaign().repositories if r.pull_request]
    assert sorted(parsed.links) == sorted(pulls), "the only links are the pull requests"
    assert "default-src 'none'" in document


@pytest.mark.parametrize("url", ["javascript:alert(1)", "not a url"])
def test_a_pull_request_that_is_not_a_web_url_is_not_a_link(url: str) -> None:
    campaign = Campaign(to="v2.0.0", repositories=[RepoState("svc", "/svc", pull_request=url)])
    assert _parsed(html(campaign)).links == []
    assert "](" not in markdown(campaign).split("## Repositories\n")[1]


def test_status_table_is_a_header_and_a_row_per_repository_canaries_first() -> None:
    rows = status_table(_campaign())
    assert rows[0] == list(COLUMNS)
    assert [row[0] for row in rows[1:]] == [
        "team-a/chat", "team-a/search", SCRIPT_NAME, "team-b/summarize", "team-c/ocr",
        "team-c/rag", "team-c/voice", "team-d/translate", "team-d/vision",
    ]  # fmt: skip
    chat = rows[1]
    assert chat == ["team-a/chat", "0", "v1.10.0", "merged", "passed", "#12", ""]
    assert all(len(row) == len(COLUMNS) for row in rows)
    assert {row[3] for row in rows[1:]} <= set(STATUSES)


def test_an_empty_campaign_still_renders() -> None:
    campaign = Campaign(to="v2.0.0")
    assert "| **total** | **0** |" in markdown(campaign)
    parsed = _parsed(html(campaign))
    assert parsed.errors == []
    assert [count for _, count, _ in parsed.charts["chart-status"]] == [0] * len(STATUSES)
    assert parsed.charts["chart-from"] == []
