"""Storing and reading a study's lookahead affinity matrices (one per size)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import Affinity, Study

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
