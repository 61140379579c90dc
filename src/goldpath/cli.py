"""The command line: declares commands and options, calls the core, maps results to exits."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from .errors import AbortedError, ReportedError, UserError
from .hosts import HostName
from .settings import EXIT_BEHIND, EXIT_CONFLICTS, EXIT_UNKNOWN, UPDATE_BRANCH

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID
    from rich.status import Status

    from .campaign import RepoState
    from .commands.campaign import CampaignRun

__all__ = ["app", "main"]

app = typer.Typer(
    name="goldpath",
    help="Scaffold production-ready GenAI service repositories and keep them up to date.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

T = TypeVar("T")


# Options shared by several commands are declared once.
TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template",
        "-t",
        metavar="SRC",
        help="Template path or git URL to render instead of the canonical template "
        "[canonical: $GOLDPATH_TEMPLATE, the preset's template, or goldpath's own].",
        show_default=False,
    ),
]
VcsRefOption = Annotated[
    str | None,
    typer.Option(
        "--vcs-ref",
        metavar="REF",
        help="Template git ref (tag, branch, commit) to use.",
        show_default=False,
    ),
]
DataOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        "-d",
        metavar="KEY=VALUE",
        help="Answer a question: key=value (repeatable).",
        show_default=False,
    ),
]
DataFileOption = Annotated[
    Path | None,
    typer.Option(
        "--data-file",
        metavar="FILE",
        help="YAML file of answers.",
        show_default=False,
        dir_okay=False,
    ),
]
PathArgument = Annotated[
    Path, typer.Argument(help="The generated repository.", show_default="current directory")
]
LockOption = Annotated[bool, typer.Option("--lock/--no-lock", help="Write uv.lock with 'uv lock'.")]
TrustOption = Annotated[
    bool, typer.Option("--trust", help="Allow the template's tasks, migrations and extensions.")
]
HostOption = Annotated[
    HostName,
    typer.Option(
        "--host",
        help="Where the repository's pull (merge) requests live: github (gh) or gitlab (glab).",
    ),
]


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"goldpath {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Scaffold production-ready GenAI service repositories and keep them up to date."""


def _err(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)


def _guarded(action: Callable[[], T], *, as_json: bool = False) -> T:
    """Run a command body: user errors print one line and exit 1; Ctrl-C says aborted.

    Warnings (copier's included) are shown as one ``warning:`` line each, before any error.
    With ``as_json`` the error is also printed on stdout as
    ``{"error": {"type": <error class>, "message": ...}}`` for the program that runs us.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            return action()
        except UserError as error:
            failure = error
        except KeyboardInterrupt:
            failure = AbortedError()
        finally:
            for warning in caught:
                typer.secho(f"warning: {warning.message}", fg=typer.colors.YELLOW, err=True)
    if as_json:
        # An error another goldpath reported keeps the class it named.
        kind = failure.kind if isinstance(failure, ReportedError) else type(failure)
        _echo_json({"error": {"type": kind.__name__, "message": failure.message}})
    _err(failure.message)
    raise typer.Exit(1)


def _echo_json(data: object) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, default=str))


@contextlib.contextmanager
def _stdout_to_stderr(enabled: bool) -> Iterator[None]:
    """Send what a command body writes to stdout (a template task's output, too) to stderr.

    With ``--json``, stdout then carries nothing but the JSON document.
    """
    if not enabled:
        yield
        return
    sys.stdout.flush()
    try:
        saved: int | None = os.dup(1)
        os.dup2(2, 1)
    except OSError:
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


@app.command()
def new(
    dest: Annotated[Path, typer.Argument(help="Directory of the new repository.")] = Path("."),
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Take the default for every question not given.")
    ] = False,
    data: DataOption = None,
    data_file: DataFileOption = None,
    template: TemplateOption = None,
    vcs_ref: VcsRefOption = None,
    lock: LockOption = True,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a directory that is not empty.")
    ] = False,
    trust: TrustOption = False,
    preset: Annotated[
        Path | None,
        typer.Option(
            "--preset",
            metavar="FILE",
            help="Organization preset (YAML: defaults, locked) [env: GOLDPATH_PRESET].",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    unreleased: Annotated[
        bool,
        typer.Option(
            "--unreleased",
            help="Render a template that is not a release (a dev build, an untagged commit).",
        ),
    ] = False,
) -> None:
    """Create a new GenAI service repository: render, lock, git init and first commit."""
    from .commands.new import create_project
    from .questions import parse_data_args, read_data_file

    def body() -> None:
        answers = read_data_file(data_file) if data_file else {}
        answers.update(parse_data_args(data or []))
        interactive = not defaults and sys.stdin.isatty()
        if not defaults and not interactive:
            raise UserError("no terminal to ask questions in: pass --defaults (and --data)")
        with _Status() as status:
            result = create_project(
                dest=dest,
                template=template,
                data=answers,
                defaults=defaults,
                vcs_ref=vcs_ref,
                lock=lock,
                force=force,
                trust=trust,
                preset=preset,
                unreleased=unreleased,
                progress=status.update,
            )
        slug = result.answers.get("project_slug", result.path.name)
        typer.secho(f"Created {slug} in {result.path}", fg=typer.colors.GREEN, bold=True)
        if not result.locked:
            typer.echo("uv.lock was not written (--no-lock): run 'uv lock' before committing.")
        typer.echo("\nNext steps:")
        package = result.answers.get("package_name", "<package>")
        for step in (
            f"cd {result.path}",
            "uv sync",
            "uv run pytest",
            f"cp .env.example .env && uv run python -m {package}",
        ):
            typer.echo(f"  {step}")

    _guarded(body)


@app.command()
def update(
    path: PathArgument = Path("."),
    vcs_ref: VcsRefOption = None,
    data: DataOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the changes without touching the repository.")
    ] = False,
    lock: LockOption = True,
    trust: TrustOption = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the result (or the error) as JSON on stdout."),
    ] = False,
) -> None:
    """Update a generated repository to the newest template release, keeping your changes."""
    import dataclasses

    from .commands.update import update_project
    from .questions import parse_data_args

    def body() -> int:
        with _stdout_to_stderr(as_json), _Status() as status:
            result = update_project(
                path=path,
                vcs_ref=vcs_ref,
                data=parse_data_args(data or []),
                lock=lock,
                dry_run=dry_run,
                trust=trust,
                progress=status.update,
            )
        code = EXIT_CONFLICTS if result.conflicts else 0
        if as_json:
            _echo_json({**dataclasses.asdict(result), "up_to_date": result.up_to_date})
            return code
        if result.diff is not None:
            typer.echo(result.diff, nl=False)
        if result.up_to_date:
            typer.echo(f"{result.path.name} is up to date (template {result.to_version}).")
            return 0
        verb = "Would update" if dry_run else "Updated"
        typer.echo(
            f"{verb} {result.path.name} from {result.from_version} to {result.to_version}: "
            f"{len(result.changed)} files changed."
        )
        if result.conflicts:
            typer.secho("Conflicts to resolve:", fg=typer.colors.RED, err=True)
            for name in result.conflicts:
                typer.echo(f"  {name}", err=True)
            if not dry_run:
                typer.echo(
                    "Resolve the <<<<<<< markers, run 'uv lock', review with 'git diff', commit.",
                    err=True,
                )
            return code
        if not dry_run:
            typer.echo("Review with 'git diff', then commit.")
        return 0

    code = _guarded(body, as_json=as_json)
    if code:
        raise typer.Exit(code)


@app.command("update-pr")
def update_pr(
    path: PathArgument = Path("."),
    vcs_ref: VcsRefOption = None,
    expect_release: Annotated[
        str | None,
        typer.Option(
            "--expect-release",
            metavar="TAG",
            help="Refuse to run unless this goldpath is the release TAG names.",
            show_default=False,
        ),
    ] = None,
    branch: Annotated[
        str, typer.Option("--branch", metavar="BRANCH", help="Branch of the pull request.")
    ] = UPDATE_BRANCH,
    remote: Annotated[
        str, typer.Option("--remote", metavar="NAME", help="Remote to push to.")
    ] = "origin",
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="BRANCH",
            help="Branch to update and to open the pull request against.",
            show_default="the branch checked out",
        ),
    ] = None,
    can_push_workflows: Annotated[
        bool,
        typer.Option(
            "--can-push-workflows/--no-can-push-workflows",
            help="The token may push changes to .github/workflows/ (a GitHub App's may).",
        ),
    ] = False,
    lock: LockOption = True,
    trust: TrustOption = False,
    host: HostOption = "github",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Update on a branch, push it, and open or refresh the template-update pull request."""
    import dataclasses
    import json

    from .commands.update_pr import update_pull_request
    from .hosts import noun, reference

    def body() -> None:
        with _Status() as status:
            result = update_pull_request(
                path=path,
                vcs_ref=vcs_ref,
                expect_release=expect_release,
                branch=branch,
                remote=remote,
                base=base,
                can_push_workflows=can_push_workflows,
                lock=lock,
                trust=trust,
                host=host,
                progress=status.update,
            )
        if as_json:
            typer.echo(json.dumps(dataclasses.asdict(result), indent=2))
            return
        request = noun(result.host)
        number = (
            reference(result.host, result.pull_request) if result.pull_request else f"the {request}"
        )
        if result.status == "current":
            typer.echo(f"{result.path} is up to date (template {result.to_version}).")
        elif result.status == "kept":
            said = f"; said so on {number}" if result.commented else ""
            typer.echo(
                f"Left {result.branch} as is: it has {len(result.foreign_commits)} commit(s) "
                f"goldpath did not make{said}. Merge or close the {request} and delete "
                "the branch; the next run opens a fresh one."
            )
        else:
            verb = "Opened" if result.status == "opened" else "Refreshed"
            typer.echo(
                f"{verb} {number} from {result.branch}: template {result.from_version} to "
                f"{result.to_version}."
            )
            if result.conflicts:
                typer.echo(f"Committed with conflict markers: {', '.join(result.conflicts)}")

    _guarded(body)


@app.command()
def check(
    path: PathArgument = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Tell whether a repository is behind its template: exit 4 behind, 5 cannot tell."""
    import dataclasses
    import json

    from .commands.check import check_project

    result = _guarded(lambda: check_project(path=path))
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        typer.echo(f"{result.path}: {result.status}: {result.reason}")
    if result.status != "current":
        raise typer.Exit(EXIT_BEHIND if result.status == "behind" else EXIT_UNKNOWN)


@app.command()
def verify(
    path: PathArgument = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail when a tool is missing instead of skipping it.")
    ] = False,
    checks: Annotated[
        list[str] | None,
        typer.Option("--check", metavar="NAME", help="Run only this check (repeatable)."),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            metavar="REF",
            show_default=False,
            help="Also scan this built image with trivy (fixable HIGH/CRITICAL fail).",
        ),
    ] = None,
) -> None:
    """Run every linter and scanner that applies to a generated repository; exit 1 on findings."""
    import dataclasses
    import json

    from .commands.verify import verify_project

    with _Status() as status:
        outcomes = _guarded(
            lambda: verify_project(
                path=path, only=checks or None, image=image, progress=status.update
            )
        )
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(o) for o in outcomes], indent=2))
    else:
        rows = [["check", "tool", "status", "findings", "time", "detail"]]
        for o in outcomes:
            findings = str(o.findings) if o.status == "failed" else "-"
            rows.append([o.check, o.tool, o.status, findings, f"{o.seconds:.1f}s", o.detail])
        _table(rows)
    failed = any(o.status == "failed" for o in outcomes)
    missing = any(o.status == "not run" for o in outcomes)
    if failed or (strict and missing):
        raise typer.Exit(1)


fleet_app = typer.Typer(
    name="fleet",
    help="Status and updates across many generated repositories.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(fleet_app)

RootsArgument = Annotated[
    list[Path], typer.Argument(help="Directories to search for generated repositories.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
JobsOption = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Repositories at a time.")]


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@fleet_app.command("status")
def fleet_status_command(
    roots: RootsArgument, as_json: JsonOption = False, jobs: JobsOption = 4
) -> None:
    """Show every generated repository under ROOTS: template, versions, status, dirty."""
    import dataclasses
    import json

    from .commands.fleet import fleet_status

    repos = _guarded(lambda: fleet_status(roots, jobs=jobs))
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in repos], indent=2))
        return
    if not repos:
        typer.echo("no generated repositories found")
        return
    rows = [["path", "template", "current", "latest", "status", "dirty"]]
    for r in repos:
        if r.error:
            rows.append([r.path, "error:", r.error, "", "", ""])
            continue
        dirty = "yes" if r.dirty else "no"
        rows.append([r.path, r.template, r.current, r.latest or "-", r.status, dirty])
    _table(rows)


@fleet_app.command("update")
def fleet_update_command(
    roots: RootsArgument,
    jobs: JobsOption = 2,
    as_json: JsonOption = False,
    lock: LockOption = True,
    trust: TrustOption = False,
) -> None:
    """Update every clean repository that is behind, each on a new branch with a commit."""
    import dataclasses
    import json

    from .commands.fleet import fleet_update, worst_exit_code

    outcomes = _guarded(lambda: fleet_update(roots, jobs=jobs, trust=trust, lock=lock))
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(o) for o in outcomes], indent=2))
    else:
        rows = [["path", "outcome", "detail"]]
        rows += [[o.path, o.outcome, o.detail] for o in outcomes]
        _table(rows)
        counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in
                  ("updated", "conflicted", "skipped", "failed")}  # fmt: skip
        typer.echo(", ".join(f"{n} {kind}" for kind, n in counts.items()))
    code = worst_exit_code(outcomes)
    if code:
        raise typer.Exit(code)


campaign_app = typer.Typer(
    name="campaign",
    help="Bring many repositories to one release: canary wave first, pull requests, status.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
fleet_app.add_typer(campaign_app)

StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        metavar="FILE",
        help="The campaign's state file [default: goldpath-campaign-<release>.yml here].",
        show_default=False,
        dir_okay=False,
    ),
]
ProceedOption = Annotated[
    bool,
    typer.Option("--proceed", help="Start the next wave although the one before is not green."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show what each repository would get; push nothing.")
]
VerifyCheckOption = Annotated[
    list[str] | None,
    typer.Option(
        "--verify-check",
        metavar="NAME",
        help="Without CI status, run only this goldpath verify check (repeatable).",
    ),
]


@campaign_app.command("start")
def campaign_start_command(
    to: Annotated[str, typer.Option("--to", metavar="TAG", help="The release to bring them to.")],
    roots: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Directories to search for generated repositories.", show_default=False
        ),
    ] = None,
    list_file: Annotated[
        Path | None,
        typer.Option(
            "--list",
            metavar="FILE",
            help="File of repository paths, one a line.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            metavar="FILE",
            dir_okay=False,
            show_default=False,
            help="Backstage catalog file: Components annotated goldpath.dev/managed.",
        ),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            metavar="DIR",
            file_okay=False,
            show_default=False,
            help="Where --catalog repositories are cloned (required with --catalog).",
        ),
    ] = None,
    canary: Annotated[
        int, typer.Option("--canary", min=0, help="The first N repositories form the canary wave.")
    ] = 0,
    canary_repo: Annotated[
        list[str] | None,
        typer.Option("--canary-repo", metavar="NAME", help="A canary repository (repeatable)."),
    ] = None,
    host: HostOption = "github",
    auto_merge: Annotated[
        bool, typer.Option("--auto-merge", help="Enable the host's auto-merge when no conflicts.")
    ] = False,
    state: StateOption = None,
    jobs: JobsOption = 2,
    dry_run: DryRunOption = False,
    proceed: ProceedOption = False,
    verify_check: VerifyCheckOption = None,
    as_json: JsonOption = False,
    lock: LockOption = True,
    trust: TrustOption = False,
) -> None:
    """Start (or add to) a campaign to release TAG and run it as far as its gates allow."""
    from .campaign_sources import collect
    from .commands.campaign import start_campaign

    def body() -> CampaignRun:
        sources = collect(roots=roots or (), list_file=list_file, catalog=catalog,
                          workdir=workdir, jobs=jobs)  # fmt: skip
        for failure in sources.failures:
            typer.secho(f"warning: {failure.name}: {failure.message}", fg=typer.colors.YELLOW,
                        err=True)  # fmt: skip
        with _Progress() as bar:
            return start_campaign(
                to=to, repositories=sources.repositories, failures=sources.failures,
                state=state, canary=canary,
                canary_names=canary_repo or (), host=host,
                auto_merge=auto_merge, dry_run=dry_run, jobs=jobs, trust=trust, lock=lock,
                verify_checks=verify_check or (), proceed=proceed, advance=bar.advance,
            )  # fmt: skip

    _report_run(_guarded(body), as_json=as_json)


@campaign_app.command("run")
def campaign_run_command(
    state: StateOption = None,
    proceed: ProceedOption = False,
    dry_run: DryRunOption = False,
    jobs: JobsOption = 2,
    verify_check: VerifyCheckOption = None,
    as_json: JsonOption = False,
    lock: LockOption = True,
    trust: TrustOption = False,
) -> None:
    """Continue a campaign: refresh pull requests and CI, pass the wave gate, run the next wave."""
    from .commands.campaign import find_state, run_campaign

    def body() -> CampaignRun:
        with _Progress() as bar:
            return run_campaign(
                state=find_state(state), proceed=proceed, dry_run=dry_run, jobs=jobs, trust=trust,
                lock=lock, verify_checks=verify_check or (), advance=bar.advance,
            )  # fmt: skip

    _report_run(_guarded(body), as_json=as_json)


@campaign_app.command("status")
def campaign_status_command(
    state: StateOption = None,
    as_json: JsonOption = False,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="DIR",
            file_okay=False,
            show_default=False,
            help="Write report.md and report.html (with a chart) into DIR.",
        ),
    ] = None,
) -> None:
    """Show where every repository of a campaign stands (table, --json, or a report)."""
    import json

    from .campaign import Campaign
    from .campaign_report import html, markdown, status_table
    from .commands.campaign import find_state

    campaign = _guarded(lambda: Campaign.load(find_state(state)))
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        (report / "report.md").write_text(markdown(campaign), encoding="utf-8")
        (report / "report.html").write_text(html(campaign), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(campaign.to_dict(), indent=2))
        return
    _table(status_table(campaign))
    counts = ", ".join(f"{n} {s}" for s, n in campaign.counts().items() if n)
    typer.echo(f"\n{campaign.to}: {counts}")


def _report_run(run: CampaignRun, *, as_json: bool) -> None:
    """Print a campaign run's table (or JSON); exit 1 on failures, 3 on conflicts."""
    import json

    from .campaign_report import status_table

    campaign = run.campaign
    if as_json:
        typer.echo(json.dumps({**campaign.to_dict(), "waiting": run.waiting,
                               "dry_run": run.dry_run}, indent=2))  # fmt: skip
    else:
        _table(status_table(campaign))
        if run.dry_run:
            typer.echo("\n--dry-run: nothing was pushed and the state file was not written.")
        elif run.waiting is not None:
            held = [r.name for r in campaign.wave(run.waiting) if r.status not in
                    ("merged", "skipped") and r.gate != "green"]  # fmt: skip
            typer.echo(f"\nWave {run.waiting} is not green yet ({', '.join(held)}): "
                       f"run 'goldpath fleet campaign run --state {run.state}' again later, "
                       "or add --proceed.")  # fmt: skip
        else:
            typer.echo(f"\nEvery wave has run. State: {run.state}")
    statuses = {r.status for r in campaign.repositories}
    if "failed" in statuses:
        raise typer.Exit(1)
    if "conflicted" in statuses:
        raise typer.Exit(EXIT_CONFLICTS)


class _Progress:
    """A progress bar on stderr for a campaign's repositories; silent when not a terminal."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._progress = Progress(console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("repositories", total=None)
        return self

    def advance(self, repo: RepoState) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, description=f"{repo.name}: {repo.status}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


class _Status:
    """A spinner on stderr for long steps; silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self._status: Status | None = None

    def __enter__(self) -> _Status:
        return self

    def update(self, message: str) -> None:
        if not sys.stderr.isatty():
            return
        from rich.console import Console

        if self._status is None:
            status = Console(stderr=True).status(message)
            status.start()
            self._status = status
        else:
            self._status.update(message)

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()


def main() -> None:
    """Console entry point."""
    app()
