"""The results exchange CSV of DESIGN.md: `tasks,size,cost,stage,split,task,loss`.

Reading validates every line and names the first bad one, so a bad file is refused before
anything is written.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd

from taskgroup.errors import InvalidInputError
from taskgroup.numbers import finite_number

COLUMNS = ("tasks", "size", "cost", "stage", "split", "task", "loss")
ORIGIN = "origin"
"""The column a read frame adds to COLUMNS: where each row came from (`FILE, line N`), so the checks
made after reading (against the study, against stored data) name the line as the reader's own do."""
STAGES = ("full", "early")
SPLITS = ("val", "test")


def canonical_tasks(tasks: Iterable[str]) -> str:
    """A candidate's canonical name: its tasks sorted and joined by `+`."""
    return "+".join(sorted(tasks))


def read_exchange_csv(path: Path) -> pd.DataFrame:
    """Parse and validate an exchange CSV (COLUMNS and ORIGIN); raise InvalidInputError naming the file,
    line and problem."""
    return read_csv_file(path, _parse)


def read_csv_file(path: Path, parse: Callable[["csv._reader", Path], pd.DataFrame]) -> pd.DataFrame:
    """`parse(reader, path)` on a UTF-8 CSV file, its opening and decoding errors as one InvalidInputError
    naming the file: shared by the exchange CSV and the affinity file beside it."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's byte-order mark
            return parse(csv.reader(handle), path)
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{path}: not a UTF-8 text file ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise InvalidInputError(f"{path}: malformed CSV: {error}") from None


def data_lines(reader: "csv._reader", path: Path, columns: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """After a header naming exactly `columns` (in any order), each non-blank line's number and its
    fields, stripped, in `columns` order; a missing or other header, or a line with another number of
    fields, is an InvalidInputError naming the file and line (the exchange CSV and the affinity file)."""
    header = next(reader, None)
    if header is None:
        raise InvalidInputError(f"{path}: empty file, expected a header {','.join(columns)}")
    header = [name.strip() for name in header]
    if sorted(header) != sorted(columns):
        raise InvalidInputError(f"{path}, line 1: header must have the columns {','.join(columns)}, got {','.join(header)}")
    order = [header.index(name) for name in columns]
    for fields in reader:
        if not fields or all(not field.strip() for field in fields):
            continue
        if len(fields) != len(columns):
            raise InvalidInputError(f"{path}, line {reader.line_num}: expected {len(columns)} fields, got {len(fields)}")
        yield reader.line_num, [fields[i].strip() for i in order]


def _parse(reader: "csv._reader", path: Path) -> pd.DataFrame:
    rows: list[tuple[str, str, float, str, str, str, float, str]] = []
    first_line: dict[tuple[str, str, str, str, str], tuple[int, float]] = {}
    cost_of: dict[tuple[str, str], tuple[int, float]] = {}
    for line, fields in data_lines(reader, path, COLUMNS):
        raw = dict(zip(COLUMNS, fields, strict=True))
        row = _parse_row(raw, f"{path}, line {line}")
        tasks, size, cost, stage, split, task, loss = row
        previous_cost = cost_of.setdefault((tasks, size), (line, cost))
        if previous_cost[1] != cost:
            raise InvalidInputError(
                f"{path}, line {line}: cost {cost} of {tasks} ({size}) contradicts cost {previous_cost[1]} on line {previous_cost[0]}"
            )
        key = (tasks, size, stage, split, task)
        previous = first_line.setdefault(key, (line, loss))
        if previous[0] != line:
            if previous[1] != loss:
                raise InvalidInputError(
                    f"{path}, line {line}: {task} loss {loss} of {tasks} ({size}, {stage}, {split}) "
                    f"contradicts {previous[1]} on line {previous[0]}"
                )
            continue
        rows.append((*row, f"{path}, line {line}"))
    if not rows:
        raise InvalidInputError(f"{path}: no result rows after the header")
    return pd.DataFrame(rows, columns=[*COLUMNS, ORIGIN])


def _parse_row(raw: dict[str, str], where: str) -> tuple[str, str, float, str, str, str, float]:
    task_list = raw["tasks"].split("+")
    if not raw["tasks"] or any(not name for name in task_list):
        raise InvalidInputError(f"{where}: tasks {raw['tasks']!r} must be task names joined by '+'")
    if len(set(task_list)) != len(task_list):
        raise InvalidInputError(f"{where}: tasks {raw['tasks']!r} names a task twice")
    if not raw["size"]:
        raise InvalidInputError(f"{where}: size is empty")
    cost = _number(raw["cost"], "cost", where)
    if cost <= 0:
        raise InvalidInputError(f"{where}: cost must be positive, got {raw['cost']}")
    if raw["stage"] not in STAGES:
        raise InvalidInputError(f"{where}: stage must be one of {', '.join(STAGES)}, got {raw['stage']!r}")
    if raw["split"] not in SPLITS:
        raise InvalidInputError(f"{where}: split must be one of {', '.join(SPLITS)}, got {raw['split']!r}")
    if raw["task"] not in task_list:
        raise InvalidInputError(f"{where}: task {raw['task']!r} is not one of the candidate's tasks {raw['tasks']!r}")
    loss = _number(raw["loss"], "loss", where)
    return canonical_tasks(task_list), raw["size"], cost, raw["stage"], raw["split"], raw["task"], loss


def _number(text: str, column: str, where: str) -> float:
    return finite_number(text, f"{where}: {column}")


def check_against_study(frame: pd.DataFrame, tasks: Iterable[str], sizes: Iterable[str]) -> None:
    """Refuse results (a read frame, with ORIGIN) naming tasks or sizes the study does not have, naming
    the first such line."""
    known_tasks, known_sizes = set(tasks), set(sizes)
    for row in frame.itertuples(index=False):
        unknown = [name for name in row.tasks.split("+") if name not in known_tasks]
        if unknown:
            raise InvalidInputError(f"{row.origin}: unknown task {unknown[0]!r} in candidate {row.tasks} "
                                    f"(study tasks: {', '.join(sorted(known_tasks))})")
        if row.size not in known_sizes:
            raise InvalidInputError(f"{row.origin}: unknown size {row.size!r} "
                                    f"(study sizes: {', '.join(sorted(known_sizes))})")


def cost_mismatches(frame: pd.DataFrame, declared: Mapping[str, float]) -> list[tuple[str, str, float, float]]:
    """(tasks, size, imported cost, declared cost) of each candidate whose cost in the file is not its
    size's declared cost: selection prices it as imported, which the user may not expect."""
    costs = frame.drop_duplicates(["tasks", "size"])[["tasks", "size", "cost"]].itertuples(index=False)
    return sorted((tasks, size, float(cost), float(declared[size])) for tasks, size, cost in costs
                  if size in declared and not math.isclose(cost, declared[size], rel_tol=1e-9))


def write_exchange_csv(frame: pd.DataFrame, handle: TextIO) -> None:
    """Write `frame` in the exchange format, floats in their shortest exact form so import round-trips.

    Takes an open text handle (opened with ``newline=""``), so standard output is appended to, never
    reopened and truncated."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in frame[list(COLUMNS)].itertuples(index=False):
        writer.writerow([row.tasks, row.size, repr(float(row.cost)), row.stage, row.split, row.task, repr(float(row.loss))])
