"""Read the per-task losses published with Standley et al. (ICML 2020) into a results frame.

The paper's code writes one TSV per (stage, split) with no header: the first line holds the
half-size single-task networks, then one line per full-size network over every non-empty subset of
the tasks, each line filled only in its subset's columns. The reference README says the subsets
come in binary-counting order, but the published files list them by subset size (``s``, ``d``, ...,
``sd``, ``sn``, ...); the subset is therefore read from the filled columns, and each of the
2^n - 1 subsets must appear exactly once. Users of that code can bring their results here instead of retraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from taskgroup.errors import InvalidInputError
from taskgroup.io.exchange import ORIGIN
from taskgroup.numbers import finite_number

RESULT_COLUMNS = ["tasks", "size", "cost", "stage", "split", "task", "loss"]
HALF_COST = 0.5
FULL_COST = 1.0


def read_standley(
    val_path: str | Path,
    test_path: str | Path,
    task_names: Sequence[str],
    early_path: str | Path | None = None,
    full_size: str = "full",
    half_size: str = "half",
) -> pd.DataFrame:
    """Results frame (exchange CSV columns and ORIGIN, each row's file and line) of the paper's
    validation, test and optional ESA files.

    `task_names` names the columns in file order; the frame's `tasks` column is the sorted
    `+`-join. Half-size networks cost 0.5 and full-size ones 1.0 (one full single-task network).
    """
    names = _check_task_names(task_names, full_size, half_size)
    files = [(val_path, "full", "val"), (test_path, "full", "test")]
    if early_path is not None:
        files.append((early_path, "early", "val"))
    rows: list[tuple[str, str, float, str, str, str, float, str]] = []
    for path, stage, split in files:
        for subset, size, cost, losses, number in _read_file(Path(path), names, full_size, half_size):
            tasks = "+".join(sorted(subset))
            rows.extend((tasks, size, cost, stage, split, task, loss, f"{path}, line {number}")
                        for task, loss in zip(subset, losses, strict=True))
    return pd.DataFrame(rows, columns=[*RESULT_COLUMNS, ORIGIN])


def _check_task_names(task_names: Sequence[str], full_size: str, half_size: str) -> list[str]:
    names = [str(name) for name in task_names]
    if not names:
        raise InvalidInputError("the Standley format needs at least one task name")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"task names must be distinct, got {','.join(names)}")
    for name in names:
        if not name or "+" in name or name != name.strip():
            raise InvalidInputError(f"invalid task name {name!r}: it must be non-empty, without '+' or spaces around it")
    if full_size == half_size:
        raise InvalidInputError(f"full and half size labels must differ, both are {full_size!r}")
    return names


def _read_file(
    path: Path, names: list[str], full_size: str, half_size: str
) -> list[tuple[list[str], str, float, list[float], int]]:
    """(tasks in column order, size, cost, losses, line number) of each network of one file, checked
    against the layout."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a byte-order mark is not part of the first line
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc}") from None
    lines = text.split("\n")
    while lines and lines[-1].strip(" \r") == "":  # trailing newlines and blank lines, as the CSV importer skips them
        lines.pop()
    n = len(names)
    expected = 1 + (2**n - 1)
    if len(lines) != expected:
        raise InvalidInputError(
            f"{path}: expected {expected} lines for {n} tasks (1 half-size line + {2**n - 1} full networks), "
            f"found {len(lines)}"
        )
    parsed = []
    seen: dict[frozenset[int], int] = {}
    for number, line in enumerate(lines, start=1):
        fields = line.rstrip("\r").split("\t")
        if len(fields) != n:
            raise InvalidInputError(
                f"{path}, line {number}: expected {n} tab-separated columns ({','.join(names)}), found {len(fields)}"
            )
        filled = [i for i, field in enumerate(fields) if field.strip()]
        if number == 1 and len(filled) != n:
            missing = ",".join(names[i] for i in range(n) if i not in filled)
            raise InvalidInputError(
                f"{path}, line {number}: the first line holds the half-size single-task networks, "
                f"so every column must be filled; empty: {missing}"
            )
        if number > 1:
            if not filled:
                raise InvalidInputError(f"{path}, line {number}: no column is filled, so it names no network")
            subset = frozenset(filled)
            if subset in seen:
                raise InvalidInputError(
                    f"{path}, line {number}: network {'+'.join(names[i] for i in filled)} "
                    f"already appeared on line {seen[subset]}"
                )
            seen[subset] = number
        wanted = filled
        losses = [_parse_loss(fields[i], path, number, names[i]) for i in wanted]
        if number == 1:
            parsed.extend(([names[i]], half_size, HALF_COST, [loss], number)
                          for i, loss in zip(wanted, losses, strict=True))
        else:
            parsed.append(([names[i] for i in wanted], full_size, FULL_COST, losses, number))
    return parsed


def _parse_loss(field: str, path: Path, number: int, task: str) -> float:
    return finite_number(field, f"{path}, line {number}: loss of {task}")
