"""The `taskgroup` application: one typer app, with each command group in its own module."""

from __future__ import annotations

import importlib
from importlib.metadata import version
from typing import Annotated

import typer

from taskgroup.cli.common import ErrorHandlingGroup

app = typer.Typer(
    name="taskgroup",
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(requested: bool) -> None:
    if requested:
        from db.migrations_api import head_revision

        typer.echo(f"taskgroup {version('taskgroup')} (database schema revision {head_revision()})")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print taskgroup's version and the database schema revision it writes, then exit.",
    )] = False,
) -> None:
    """Find which tasks should be learned together, and which networks to deploy within a budget."""

# Each module defines `register(app)`; adding a command group is one line here.
COMMAND_MODULES: tuple[str, ...] = (
    "taskgroup.cli.database",
    "taskgroup.cli.study",
    "taskgroup.cli.results",
    "taskgroup.cli.select",
    "taskgroup.cli.cost",
    "taskgroup.cli.data",
    "taskgroup.cli.report",
    "taskgroup.cli.demo",
    "taskgroup.cli.train",
    "taskgroup.cli.plan",
    "taskgroup.cli.work",
    "taskgroup.cli.queue",
    "taskgroup.cli.affinity",
    "taskgroup.cli.finalize",
)

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)

if __name__ == "__main__":  # `python -m taskgroup.cli.main` runs the command too, not nothing
    app(prog_name="taskgroup")
