"""The affinity file that travels beside an exchange CSV: a study's lookahead affinity matrices.

The results exchange CSV is a contract other tools read (DESIGN.md), so the matrices measured by
`taskgroup affinity measure` are not added to it: `taskgroup export` writes them to a second file
beside it (`affinity_path`) and `taskgroup import` reads that file when it is there, so a study
moved between databases keeps what the lookahead estimator needs. Long form, one line per entry,
`size,source,target,affinity,measurements`, in the study's size and task order; every line is
checked before anything is written, as for the exchange CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd

from taskgroup.errors import InvalidInputError
from taskgroup.io.exchange import ORIGIN, data_lines, read_csv_file
from taskgroup.numbers import finite_number

AFFINITY_FILE_COLUMNS = ("size", "source", "target", "affinity", "measurements")
"""The file's header: the stored long form (taskgroup.affinity.AFFINITY_COLUMNS) and how many
lookahead measurements each size's matrix averages."""


def affinity_path(results_path: Path) -> Path:
    """The affinity file of an exchange CSV: `results.csv` -> `results.affinity.csv`."""
    return results_path.with_name(f"{results_path.stem}.affinity.csv")


def read_affinity_csv(path: Path) -> pd.DataFrame:
    """Parse and validate an affinity file (AFFINITY_FILE_COLUMNS and ORIGIN, each row's file and line):
    every size with one measurement count; InvalidInputError naming the file, line and problem otherwise.
    Whether each size's matrix is complete is checked with the study (check_affinity_against_study)."""
    return read_csv_file(path, _parse)


def _parse(reader: "csv._reader", path: Path) -> pd.DataFrame:
    rows: list[tuple[str, str, str, float, int, str]] = []
    first_line: dict[tuple[str, str, str], int] = {}
    count_of: dict[str, tuple[int, int]] = {}
    for line, fields in data_lines(reader, path, AFFINITY_FILE_COLUMNS):
        size, source, target, value, measurements = fields
        where = f"{path}, line {line}"
        for column, text in (("size", size), ("source", source), ("target", target)):
            if not text:
                raise InvalidInputError(f"{where}: {column} is empty")
        row = (size, source, target, finite_number(value, f"{where}: affinity"), _count(measurements, where))
        previous = first_line.setdefault((size, source, target), line)
        if previous != line:
            raise InvalidInputError(f"{where}: the affinity of {source} onto {target} (size {size}) is given again "
                                    f"(first on line {previous})")
        first_count = count_of.setdefault(size, (line, row[4]))
        if first_count[1] != row[4]:
            raise InvalidInputError(f"{where}: measurements {row[4]} of size {size} contradicts {first_count[1]} "
                                    f"on line {first_count[0]} (a size's matrix is one measurement run)")
        rows.append((*row, where))
    if not rows:
        raise InvalidInputError(f"{path}: no affinity rows after the header")
    return pd.DataFrame(rows, columns=[*AFFINITY_FILE_COLUMNS, ORIGIN])


def _count(text: str, where: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise InvalidInputError(f"{where}: measurements must be a positive whole number, got {text!r}")
    return int(text)


def _check_square(frame: pd.DataFrame, path: Path) -> None:
    """Every size names the affinity of each of its tasks onto each (the estimator normalises by the
    diagonal, so a missing entry would silently change its predictions)."""
    for size, rows in frame.groupby("size", sort=False):
        tasks = list(dict.fromkeys([*rows["source"], *rows["target"]]))
        given = set(zip(rows["source"], rows["target"], strict=True))
        missing = next(((s, t) for s in tasks for t in tasks if (s, t) not in given), None)
        if missing is not None:
            raise InvalidInputError(f"{path}: the matrix of size {size} lacks the affinity of {missing[0]} onto "
                                    f"{missing[1]} (it needs one line for every source and target of {', '.join(tasks)})")


def check_affinity_against_study(frame: pd.DataFrame, path: Path, tasks: Iterable[str], sizes: Iterable[str]) -> None:
    """Refuse matrices (read from `path`) naming tasks or sizes the study does not have, naming the first
    such line, then incomplete ones. Names come first: else a line with a mistyped task is reported as
    the matrix lacking that task's other entries, not as the line to fix."""
    known_tasks, known_sizes = set(tasks), set(sizes)
    for row in frame.itertuples(index=False):
        unknown = next((name for name in (row.source, row.target) if name not in known_tasks), None)
        if unknown is not None:
            raise InvalidInputError(f"{row.origin}: unknown task {unknown!r} in the affinity matrix "
                                    f"(study tasks: {', '.join(sorted(known_tasks))})")
        if row.size not in known_sizes:
            raise InvalidInputError(f"{row.origin}: unknown size {row.size!r} in the affinity matrix "
                                    f"(study sizes: {', '.join(sorted(known_sizes))})")
    _check_square(frame, path)


def write_affinity_csv(frame: pd.DataFrame, handle: TextIO, *, tasks: Sequence[str], sizes: Sequence[str]) -> None:
    """Write `frame` (AFFINITY_FILE_COLUMNS) in the study's size and task order (as every affinity table
    taskgroup writes), floats in their shortest exact form so import round-trips."""
    task_order = {name: i for i, name in enumerate(tasks)}
    size_order = {name: i for i, name in enumerate(sizes)}
    ordered = sorted(frame[list(AFFINITY_FILE_COLUMNS)].itertuples(index=False),
                     key=lambda row: (size_order[row.size], task_order[row.source], task_order[row.target]))
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(AFFINITY_FILE_COLUMNS)
    for row in ordered:
        writer.writerow([row.size, row.source, row.target, repr(float(row.affinity)), int(row.measurements)])
