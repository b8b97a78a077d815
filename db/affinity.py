"""Storing and reading a study's lookahead affinity matrices (one per size)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.errors import ConflictError
from db.models import Affinity, Study
from db.results import origin_prefix, same_number

AFFINITY_COLUMNS = ["size", "source", "target", "affinity"]
"""The frame `taskgroup.affinity` reads (its `AFFINITY_COLUMNS`; db imports nothing from taskgroup)."""


def store_affinity(
    session: Session, study: Study, rows: Iterable[Mapping[str, Any]], *, measurements: int, job_id: int | None = None
) -> int:
    """Store affinity rows (mappings with AFFINITY_COLUMNS keys) inside the caller's transaction.

    A new measurement at a size replaces the study's previous matrix at that size as a whole, so a
    matrix never mixes two runs. Returns the number of rows written.
    """
    rows = list(rows)
    sizes = {str(row["size"]) for row in rows}
    if sizes:
        session.execute(delete(Affinity).where(Affinity.study_id == study.id, Affinity.size.in_(sizes)))
    session.add_all(
        Affinity(
            study_id=study.id, job_id=job_id, size=str(row["size"]), source=str(row["source"]),
            target=str(row["target"]), value=float(row["affinity"]), measurements=int(measurements),
        )
        for row in rows
    )
    session.flush()
    return len(rows)


def load_affinity(session: Session, study: Study) -> pd.DataFrame:
    """The study's stored affinity matrices in long form (AFFINITY_COLUMNS); empty if none was measured."""
    stmt = (
        select(Affinity.size, Affinity.source, Affinity.target, Affinity.value)
        .where(Affinity.study_id == study.id)
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=AFFINITY_COLUMNS)
    # Sorted here, not by ORDER BY: PostgreSQL's collation would order task names unlike SQLite's.
    return frame.sort_values(["size", "source", "target"], ignore_index=True)


def affinity_measurements(session: Session, study: Study) -> dict[str, int]:
    """How many lookahead measurements each stored size's matrix averages (an export keeps it)."""
    stmt = (
        select(Affinity.size, func.max(Affinity.measurements))
        .where(Affinity.study_id == study.id)
        .group_by(Affinity.size)
    )
    return {str(size): int(count) for size, count in session.execute(stmt).all()}


@dataclass(frozen=True)
class AffinityImport:
    """The sizes whose matrix an import added, replaced, or found stored already (for the CLI to report)."""

    added: list[str]
    replaced: list[str]
    unchanged: list[str]


def import_affinity(session: Session, study: Study, rows: Iterable[Mapping[str, Any]], *, replace: bool) -> AffinityImport:
    """Store imported matrices (mappings with AFFINITY_COLUMNS keys and `measurements`) inside the
    caller's transaction, a size's matrix as a whole.

    As for results: a matrix equal to the stored one (to db.results.SAME_NUMBER_DIGITS) is left alone,
    so importing the same export again is harmless; one that differs is a ConflictError unless
    `replace`, so a measured matrix is never silently overwritten. That error starts with the
    `origin` of the row that differs, when rows have one (see store_results).
    """
    by_size: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_size.setdefault(str(row["size"]), []).append(row)
    stored: dict[str, list[Affinity]] = {}
    for entry in session.scalars(select(Affinity).where(Affinity.study_id == study.id)):
        stored.setdefault(entry.size, []).append(entry)
    added: list[str] = []
    replaced: list[str] = []
    unchanged: list[str] = []
    for size, size_rows in by_size.items():
        measurements = int(size_rows[0]["measurements"])
        if size in stored:
            difference = _difference(stored[size], size_rows, measurements)
            if difference is None:
                unchanged.append(size)
                continue
            if not replace:
                row, text = difference
                raise ConflictError(f"{origin_prefix(row)}the affinity matrix of size {size} is stored with "
                                    f"{text}; use --replace to overwrite")
        store_affinity(session, study, size_rows, measurements=measurements)
        (replaced if size in stored else added).append(size)
    return AffinityImport(added, replaced, unchanged)


def _difference(
    stored: list[Affinity], rows: list[Mapping[str, Any]], measurements: int
) -> tuple[Mapping[str, Any], str] | None:
    """How an imported matrix differs from the stored one: the input row that shows it (the size's
    first when the whole matrix does) and the difference in words; None if it does not."""
    old = {(entry.source, entry.target): entry.value for entry in stored}
    new = {(str(row["source"]), str(row["target"])): row for row in rows}
    if set(old) != set(new):
        tasks = (sorted({source for source, _ in pairs}) for pairs in (old, new))
        return rows[0], "the tasks {}, the input has {}".format(*(", ".join(names) for names in tasks))
    if stored[0].measurements != measurements:
        return rows[0], f"{stored[0].measurements} measurements, the input says {measurements}"
    for (source, target), row in new.items():
        value = float(row["affinity"])
        if not same_number(old[source, target], value):
            return row, f"the affinity of {source} onto {target} {old[source, target]!r}, the input says {value!r}"
    return None
