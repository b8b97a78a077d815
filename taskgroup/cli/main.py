"""The `taskgroup` application: one typer app, with each command group in its own module."""

from __future__ import annotations

import importlib

import typer

from taskgroup.cli.common import ErrorHandlingGroup

app = typer.Typer(
    name="taskgroup",
    cls=ErrorHandlingGroup,
    help="Find which tasks should be learned together, and which networks to deploy within a budget.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

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
