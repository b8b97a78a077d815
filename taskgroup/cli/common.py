"""Options, output helpers and error handling shared by every command."""

from __future__ import annotations

import inspect
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

from db.errors import StorageError
from db.store import is_in_memory, normalise_url, sqlite_file
from taskgroup.errors import InvalidInputError, TaskgroupError

console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)


def progress_bar(label: str, *extra: ProgressColumn, quiet: bool = False) -> Progress:
    """A transient bar on stderr: `label`, the bar, done/total, elapsed time and any `extra` columns.
    Off with `quiet` (--json) and where stderr is not a terminal, where it would only leave a blank
    line (a log or a pipe has nothing to redraw)."""
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), *extra,
                    console=err_console, transient=True, disable=quiet or not err_console.is_terminal)


def _checked_database(ctx: typer.Context, param: typer.CallbackParam, value: str | None, *, must_exist: bool) -> str | None:
    """Refuse an in-memory SQLite database (every command would see an empty one) and, where
    `must_exist`, a named SQLite file that does not exist, so a mistyped path is an error instead
    of a new empty database (and "no study"). The message names where the value came from."""
    if value is None:
        return None
    source = ctx.get_parameter_source(param.name or "db")  # typer's own click: compare by name
    from_env = source is not None and source.name == "ENVIRONMENT"
    given = f"TASKGROUP_DB={value}" if from_env else f"--db {value}"  # where the user will look
    url = normalise_url(value)
    if is_in_memory(url):
        raise InvalidInputError(f"an in-memory database ({given}) is gone when the command exits: name a file "
                                "or a database server")
    if must_exist and (path := sqlite_file(url)) is not None and not path.exists():
        make = "taskgroup study create NAME" + ("" if from_env else f" --db {value}")
        raise InvalidInputError(f"no database at {path} ({given}): check the path (`{make}` makes a new one)")
    return value


def _existing_database(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    return _checked_database(ctx, param, value, must_exist=True)


def any_database(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """For options whose command may create the database."""
    return _checked_database(ctx, param, value, must_exist=False)


_DB_HELP = "Database URL (any SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db, or a SQLite file's path). "
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="TASKGROUP_DB", callback=_existing_database, show_default=False,
        help=_DB_HELP + "Default: sqlite under ~/.taskgroup/taskgroup.sqlite.",
    ),
]
NewDbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="TASKGROUP_DB", callback=any_database, show_default=False,
        help=_DB_HELP + "A new SQLite file is created. Default: sqlite under ~/.taskgroup/taskgroup.sqlite.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]

# A dataset's folder and options, named alike on every command that reads a dataset (`study create`, `train`,
# `data show|check`); `--root` and `--option`, their names on `data` before, still work.
DataRootOption = Annotated[
    Path | None,
    typer.Option("--data-root", "--root", show_default=False,
                 help="Folder of an on-disk dataset (for synthetic, one `taskgroup data generate` wrote, instead of "
                 "its cache)."),
]
DataOptionOption = Annotated[
    list[str], typer.Option("--data-option", "--option", help="Dataset option KEY=VALUE (repeatable), e.g. images=256.")
]
TrainDeviceOption = Annotated[
    str, typer.Option("--device", show_default=False,
                      help="Device to train on: cpu, cuda, cuda:1, mps, or auto. Default: auto (cuda when present, else cpu).")
]


def max_epochs_option(help: str, **settings: Any) -> Any:
    """`--max-epochs`, named as the training option it sets (`configure --set max_epochs=N`), for
    `train` and `demo` with their own help and defaults; `--epochs`, its name before, still works."""
    return typer.Option("--max-epochs", "--epochs", help=help, **settings)


def parse_names(text: str, option: str) -> list[str]:
    """The names of a comma-separated option (`--format html,md`), in order, each once."""
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise InvalidInputError(f"{option} needs at least one name")
    return names


def parse_key_values(items: list[str], option: str) -> dict[str, Any]:
    """`KEY=VALUE` items of a repeatable option as typed values: JSON numbers, true/false and
    objects, anything else as text."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{option} {item!r} is not KEY=VALUE")
        text = text.strip()
        try:
            values[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            values[key.strip()] = text
    return values


def option_value(value: Any) -> str:
    """`value` as a `KEY=VALUE` option (`--set`, `--data-option`) takes it back: text as it is, any
    other value as JSON (`true`, `{"temperature": 2.0}`), not as Python writes it (`True`, `{'temperature': 2.0}`).
    A float whose exponent form is exact reads in it: `1e+06`, not `1000000.0`."""
    if isinstance(value, float):
        short = f"{value:g}"
        if "e" in short and float(short) == value:
            return short
    return value if isinstance(value, str) else json.dumps(value)


def key_values(options: dict[str, Any]) -> str:
    """Options as `key=value` pairs in the form `configure --set` and `--data-option` take."""
    return ", ".join(f"{key}={option_value(value)}" for key, value in options.items())


def emit_json(payload: Any) -> None:
    """Print `payload` as JSON on stdout, nothing else, so scripts can parse it: a number that is not
    finite is written `null` (JSON has no NaN or Infinity; a strict parser refuses them)."""
    sys.stdout.write(json.dumps(_finite(payload), indent=2, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # numpy scalars
        return _finite(value.item())
    return value


def print_note(text: str) -> None:
    """A `note:` line on stderr: something left out or worth knowing, not an error. Not wrapped by rich,
    so that a script reading stderr gets the note on one line."""
    err_console.print(f"[yellow]note:[/] {escape(text)}", highlight=False, soft_wrap=True)


class CommandGroup(typer.core.TyperGroup):
    """A command group that lists each command with its help's first paragraph as one line: typer's
    rich listing keeps a docstring's line breaks, which cut its sentences in the middle."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and command.short_help is None and command.help:
            command.short_help = " ".join(inspect.cleandoc(command.help).split("\n\n")[0].split())
        return command


class ErrorHandlingGroup(CommandGroup):
    """Top-level group that turns our own exceptions, and a file the system cannot read or write
    (e.g. `--out` in a folder that does not exist), raised by any subcommand, into one clear line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not in an unhandled flush at exit
            return result
        except BrokenPipeError as exc:
            # The reader of our output went away (`| head`): stop quietly, as other command-line tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit cannot fail too
            raise typer.Exit(1) from exc
        except (TaskgroupError, StorageError) as exc:
            _print_error(str(exc))
            raise typer.Exit(1) from exc
        except OSError as exc:
            _print_error(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
            raise typer.Exit(1) from exc


def _print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


class StopRequest(threading.Event):
    """A stop event that remembers the signal that set it: `work --json` says why it stopped."""

    reason: str | None = None
    """The signal's name (`SIGINT` for Ctrl-C, `SIGTERM`), once set."""


@contextmanager
def stop_on_signals(message: str) -> Iterator[StopRequest]:
    """An event set by the first Ctrl-C or SIGTERM (printing `message`); a second Ctrl-C interrupts at once."""
    stop = StopRequest()

    def handle(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not stop.is_set():
            stop.reason = signal.Signals(signum).name
        stop.set()
        err_console.print(f"[yellow]{escape(message)}[/]")

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Terminated(BaseException):
    """SIGTERM, raised where the command was (see `clean_up_on_sigterm`); not an Exception, so nothing catches it."""


@contextmanager
def clean_up_on_sigterm() -> Iterator[None]:
    """A SIGTERM (kill, systemd, Slurm) inside the block raises there, so the `except`/`finally` blocks it
    passes remove what was half made, as after a Ctrl-C (the signal's default action runs none of them);
    then the process ends by SIGTERM all the same, as any command that does not train does (status 143)."""

    def handle(_signum: int, _frame: Any) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise  # not reached: the default action has ended the process
    finally:
        signal.signal(signal.SIGTERM, previous)
