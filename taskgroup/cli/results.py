"""`taskgroup import` and `taskgroup export`: results in and out of a study."""

from __future__ import annotations

import dataclasses
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from db import open_store
from db.models import Study
from db.results import results_frame, store_results
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json, print_note
from taskgroup.errors import InvalidInputError
from taskgroup.io.exchange import check_against_study, cost_mismatches, read_exchange_csv, write_exchange_csv
from taskgroup.wording import counted


class ImportFormat(str, Enum):
    csv = "csv"
    standley = "standley"


def register(app: typer.Typer) -> None:
    app.command("import")(import_results)
    app.command("export")(export_results)


def _read(fmt: ImportFormat, files: list[Path], tasks: str | None, early: Path | None) -> pd.DataFrame:
    if fmt is ImportFormat.csv:
        if len(files) != 1 or tasks or early:
            raise InvalidInputError("--format csv takes exactly one FILE and no --tasks/--early")
        return read_exchange_csv(files[0])
    if len(files) != 2 or not tasks:
        raise InvalidInputError("--format standley takes VAL_TSV TEST_TSV and --tasks naming the five columns")
    from taskgroup.cli.study import parse_task_list
    from taskgroup.io.standley import read_standley

    return read_standley(files[0], files[1], parse_task_list(tasks), early_path=early)


def import_results(
    name: Annotated[str, typer.Argument(help="Study to import into.")],
    files: Annotated[list[Path], typer.Argument(help="The exchange CSV; or, with --format standley, VAL_TSV TEST_TSV.")],
    fmt: Annotated[ImportFormat, typer.Option("--format", help="csv (DESIGN.md exchange format) or standley (the paper's TSV files).")] = ImportFormat.csv,
    tasks: Annotated[str | None, typer.Option("--tasks", help="standley: the study's names of the five columns, in order.")] = None,
    early: Annotated[Path | None, typer.Option("--early", help="standley: the early-stopped (ESA) validation TSV.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite stored losses and costs that the file contradicts.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Import per-task results of candidate networks. The whole file is checked first; nothing is written if any line is bad."""
    frame = _read(fmt, files, tasks, early)
    # The study's row locked (SQLite: the write lock taken at once), so imports into one study run one at a time.
    with open_store(db).session(immediate=True) as session:
        study = Study.find_or_raise_by_name(session, name, for_update=True)
        try:
            check_against_study(frame, study.tasks, study.size_labels())
        except InvalidInputError as mismatch:
            raise InvalidInputError(f"{', '.join(map(str, files))}: {mismatch}") from None
        mismatches = cost_mismatches(frame, {size["label"]: size.get("cost", 1.0) for size in study.sizes})
        summary = store_results(session, study, frame.to_dict("records"), replace=replace)
    if mismatches:
        tasks, size, imported, declared = mismatches[0]
        print_note(f"{counted(len(mismatches), 'candidate')} in the file {'has' if len(mismatches) == 1 else 'have'} a "
                   f"cost other than {'its' if len(mismatches) == 1 else 'their'} size's declared cost (e.g. "
                   f"{tasks}@{size}: {imported:g}, declared {declared:g}); selection prices them as imported")
    settled = [text for count, text in (
        (summary.queued_jobs_removed, f"{counted(summary.queued_jobs_removed, 'queued job')} removed"),
        (summary.failed_jobs_removed, f"{counted(summary.failed_jobs_removed, 'failed job')} removed"),
        (summary.running_jobs, f"{summary.running_jobs} running will not store its losses"),
    ) if count]
    if settled:
        print_note(f"the file gives results to networks that had jobs: {'; '.join(settled)} (a network's losses "
                   "come from one run, imported or trained)")
    if json_output:
        emit_json(dataclasses.asdict(summary))
    else:
        console.print(
            f"Imported into [bold]{name}[/]: {counted(summary.results_added, 'result')} added, "
            f"{summary.results_replaced} replaced, {summary.results_unchanged} unchanged; "
            f"{counted(summary.candidates_added, 'new candidate')}."
        )


def export_results(
    name: Annotated[str, typer.Argument(help="Study to export.")],
    file: Annotated[Path, typer.Argument(help="CSV file to write (exchange format); '-' for standard output.")],
    db: DbOption = None,
) -> None:
    """Export a study's results as the exchange CSV, which `taskgroup import` reads back."""
    with open_store(db, create=False).session() as session:
        frame = results_frame(session, Study.find_or_raise_by_name(session, name))
    if frame.empty:
        raise InvalidInputError(f"study {name!r} has no results to export")
    if str(file) == "-":
        write_exchange_csv(frame, sys.stdout)
        return
    if file.is_dir():
        raise InvalidInputError(f"cannot write {file}: it is a folder; name the CSV file to write")
    if not file.parent.is_dir():
        raise InvalidInputError(f"cannot write {file}: folder {file.parent} does not exist")
    tmp = file.with_name(f".{file.name}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            write_exchange_csv(frame, handle)
        tmp.replace(file)
    finally:
        tmp.unlink(missing_ok=True)  # after a failed write or rename: no half-written file is left behind
    console.print(f"Wrote {counted(len(frame), 'result')} of [bold]{name}[/] to {file}")
