"""`taskgroup import` and `taskgroup export`: results in and out of a study."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, TextIO

import pandas as pd
import typer

from db import open_store
from db.affinity import AffinityImport, affinity_measurements, import_affinity, load_affinity
from db.models import Study
from db.results import results_frame, store_results
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json, print_note
from taskgroup.errors import InvalidInputError
from taskgroup.io.affinity import affinity_path, check_affinity_against_study, read_affinity_csv, write_affinity_csv
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
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite stored losses, costs and affinity matrices that the files contradict.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Import per-task results of candidate networks. The whole file is checked first; nothing is written if any line is bad.

    With --format csv, the lookahead affinity matrix that `taskgroup export` wrote beside FILE
    (FILE's name with .affinity.csv) is imported with it when that file is there."""
    frame = _read(fmt, files, tasks, early)
    beside = _read_affinity_beside(fmt, files)
    # The study's row locked (SQLite: the write lock taken at once), so imports into one study run one at a time.
    with open_store(db).session(immediate=True) as session:
        study = Study.find_or_raise_by_name(session, name, for_update=True)
        check_against_study(frame, study.tasks, study.size_labels())
        if beside is not None:
            check_affinity_against_study(beside[1], beside[0], study.tasks, study.size_labels())
        mismatches = cost_mismatches(frame, {size["label"]: size.get("cost", 1.0) for size in study.sizes})
        summary = store_results(session, study, frame.to_dict("records"), replace=replace)
        matrices = None if beside is None else (
            beside[0], import_affinity(session, study, beside[1].to_dict("records"), replace=replace))
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
        affinity_json = None if matrices is None else {"file": str(matrices[0]), **dataclasses.asdict(matrices[1])}
        emit_json({**dataclasses.asdict(summary), "affinity": affinity_json})
    else:
        console.print(
            f"Imported into [bold]{name}[/]: {counted(summary.results_added, 'result')} added, "
            f"{summary.results_replaced} replaced, {summary.results_unchanged} unchanged; "
            f"{counted(summary.candidates_added, 'new candidate')}."
            + (f" {_matrices_text(*matrices)}" if matrices is not None else "")
        )


def _read_affinity_beside(fmt: ImportFormat, files: list[Path]) -> tuple[Path, pd.DataFrame] | None:
    """The affinity file beside an exchange CSV and its checked matrices, if there is one: there is none
    for an export of a study without a matrix or one written before matrices were exported (both import
    as they did)."""
    if fmt is not ImportFormat.csv:
        return None
    path = affinity_path(files[0])
    return (path, read_affinity_csv(path)) if path.exists() else None


def _matrices_text(path: Path, matrices: AffinityImport) -> str:
    """What the import did with the affinity file's matrices, one clause per outcome."""
    parts = [f"{word} at {'size' if len(sizes) == 1 else 'sizes'} {', '.join(sizes)}"
             for word, sizes in (("added", matrices.added), ("replaced", matrices.replaced),
                                 ("unchanged", matrices.unchanged)) if sizes]
    return f"Lookahead affinity matrix from {path}: {'; '.join(parts)}."


def export_results(
    name: Annotated[str, typer.Argument(help="Study to export.")],
    file: Annotated[Path, typer.Argument(help="CSV file to write (exchange format); '-' for standard output.")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE and FILE.affinity.csv where they exist (remove the latter if the study has no matrix).")] = False,
    db: DbOption = None,
) -> None:
    """Export a study's results as the exchange CSV, which `taskgroup import` reads back.

    A lookahead affinity matrix (`taskgroup affinity measure`) is written beside FILE, as FILE's name
    with .affinity.csv, which `taskgroup import` reads with FILE. An existing FILE or FILE.affinity.csv
    is refused unless --force is given. A FIFO or device (`/dev/fd/3`) is written in place, as '-' is."""
    with open_store(db, create=False).session() as session:
        study = Study.find_or_raise_by_name(session, name)
        frame = results_frame(session, study)
        affinity = load_affinity(session, study)
        affinity["measurements"] = affinity["size"].map(affinity_measurements(session, study))
        tasks, sizes = list(study.tasks), study.size_labels()
    if frame.empty:
        raise InvalidInputError(f"study {name!r} has no results to export")
    if str(file) == "-" or _is_stream(file):
        _export_to_stream(file, frame, affinity, name)
        return
    beside = affinity_path(file)
    for path in (file, beside):
        if path.is_dir():
            raise InvalidInputError(f"cannot write {path}: it is a folder; name the CSV file to write")
    if not file.parent.is_dir():
        raise InvalidInputError(f"cannot write {file}: folder {file.parent} does not exist")
    if not force and (refusal := _refusal(file, beside, name, has_matrix=not affinity.empty)):
        raise InvalidInputError(refusal)
    writers: dict[Path, Callable[[TextIO], None]] = {file: lambda handle: write_exchange_csv(frame, handle)}
    if not affinity.empty:
        writers[beside] = lambda handle: write_affinity_csv(affinity, handle, tasks=tasks, sizes=sizes)
    _write_files(writers)
    wrote = f"Wrote {counted(len(frame), 'result')} of [bold]{name}[/] to {file}"
    if not affinity.empty:
        labels = list(dict.fromkeys(affinity["size"]))
        wrote += f" and its lookahead affinity matrix ({'size' if len(labels) == 1 else 'sizes'} {', '.join(labels)}) to {beside}"
    elif beside.exists():
        beside.unlink()
        print_note(f"removed {beside}, an earlier export's affinity matrix: {name} has none, and `taskgroup import` "
                   f"would have read it with {file}")
    console.print(wrote)


def _is_stream(path: Path) -> bool:
    """Whether `path` is a FIFO, a device or a pipe (`/dev/fd/N`): a temporary file renamed over it would
    replace it (as root, even /dev/stdout), so it is written in place, as a shell's `>` would."""
    return path.exists() and not path.is_file() and not path.is_dir()


def _export_to_stream(file: Path, frame: pd.DataFrame, affinity: pd.DataFrame, name: str) -> None:
    """The exchange CSV into standard output ('-') or a stream; nothing else goes to standard output, which
    may be that stream, and no matrix beside it (`/dev/fd/3.affinity.csv` is no place for one)."""
    if str(file) == "-":
        write_exchange_csv(frame, sys.stdout)
    else:
        with open(file, "w", newline="", encoding="utf-8") as handle:
            write_exchange_csv(frame, handle)
    if not affinity.empty:
        print_note(f"{name}'s lookahead affinity matrix is not part of the exchange CSV, so it was not written; "
                   "export to a file to write it beside that file (FILE.affinity.csv)")


def _refusal(file: Path, beside: Path, name: str, *, has_matrix: bool) -> str | None:
    """Why an export without --force stops, saying what --force would do to each existing file: an old
    FILE.affinity.csv is replaced by the study's matrix, or removed when the study has none."""
    existing = [path for path in (file, beside) if path.exists()]
    if not existing:
        return None
    exist = f"{' and '.join(map(str, existing))} already exist{'s' if len(existing) == 1 else ''}"
    if has_matrix or beside not in existing:
        return f"{exist}; add --force to replace {'it' if len(existing) == 1 else 'them'}"
    what = "remove it" if len(existing) == 1 else f"replace {file} and remove {beside}"
    return (f"{exist}; add --force to {what} ({name} has no lookahead affinity matrix, and `taskgroup import` would "
            f"read that file with {file})")


def _write_files(writers: Mapping[Path, Callable[[TextIO], None]]) -> None:
    """Write every file through a temporary one and rename them all only once all were written, so a
    failed export leaves neither a half-written file nor a results file beside an old matrix. A symlink's
    file is replaced, not the link (/dev/stdout is one when standard output is redirected to a file)."""
    targets = {path: path.resolve() for path in writers}
    temporary = {path: target.with_name(f".{target.name}.tmp") for path, target in targets.items()}
    try:
        for path, write in writers.items():
            with open(temporary[path], "w", newline="", encoding="utf-8") as handle:
                write(handle)
        for path, tmp in temporary.items():
            tmp.replace(targets[path])
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)  # after a failed write or rename: no half-written file is left behind
