"""The command line: declares commands and options, calls the core, maps results to exits."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from .errors import UserError

if TYPE_CHECKING:
    from rich.status import Status

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
        help="Template path or git URL [env: GOLDPATH_TEMPLATE; default: the bundled one].",
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
TrustOption = Annotated[
    bool, typer.Option("--trust", help="Allow the template's tasks, migrations and extensions.")
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


def _guarded(action: Callable[[], T]) -> T:
    """Run a command body: user errors print one line and exit 1; Ctrl-C says aborted.

    Warnings (copier's included) are shown as one ``warning:`` line each, before any error.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            return action()
        except UserError as error:
            message = error.message
        except KeyboardInterrupt:
            message = "aborted"
        finally:
            for warning in caught:
                typer.secho(f"warning: {warning.message}", fg=typer.colors.YELLOW, err=True)
    _err(message)
    raise typer.Exit(1)


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
    lock: Annotated[
        bool, typer.Option("--lock/--no-lock", help="Write uv.lock with 'uv lock'.")
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a directory that is not empty.")
    ] = False,
    trust: TrustOption = False,
) -> None:
    """Create a new GenAI service repository: render, lock, git init and first commit."""
    from .commands.new import create_project
    from .questions import parse_data_args, read_data_file
    from .settings import default_template

    def body() -> None:
        answers = read_data_file(data_file) if data_file else {}
        answers.update(parse_data_args(data or []))
        interactive = not defaults and sys.stdin.isatty()
        if not defaults and not interactive:
            raise UserError("no terminal to ask questions in: pass --defaults (and --data)")
        with _Status() as status:
            result = create_project(
                dest=dest,
                template=template or default_template(),
                data=answers,
                defaults=defaults,
                vcs_ref=vcs_ref,
                lock=lock,
                force=force,
                trust=trust,
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
