"""Writing and reading results in bulk: the import path and the frame every query starts from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import ConflictError
from db.models import Candidate, Result, Study

RESULT_COLUMNS = ["tasks", "size", "cost", "stage", "split", "task", "loss"]


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed, for the CLI to report."""

    candidates_added: int
    results_added: int
    results_replaced: int
    results_unchanged: int


def store_results(session: Session, study: Study, rows: Iterable[Mapping[str, Any]], *, replace: bool) -> ImportSummary:
    """Add result rows (exchange-format mappings) to `study` inside the caller's transaction.

    A row identical to a stored one is left alone; one that contradicts a stored loss or cost is a
    ConflictError unless `replace`, so re-importing the same file is harmless and nothing is
    silently overwritten.
    """
    candidates = {(c.tasks, c.size): c for c in Candidate.all_of_study(session, study.id)}
    stored = {
        (r.candidate_id, r.stage, r.split, r.task): r
        for r in session.scalars(select(Result).join(Candidate).where(Candidate.study_id == study.id))
    }
    added_candidates = added = replaced = unchanged = 0
    for row in rows:
        key = (row["tasks"], row["size"])
        candidate = candidates.get(key)
        if candidate is None:
            candidate = Candidate(study=study, tasks=row["tasks"], size=row["size"], cost=float(row["cost"]))
            session.add(candidate)
            session.flush()
            candidates[key] = candidate
            added_candidates += 1
        elif candidate.cost != float(row["cost"]):
            if not replace:
                raise ConflictError(
                    f"candidate {row['tasks']} ({row['size']}) is stored with cost {candidate.cost}, "
                    f"the input says {row['cost']}; use --replace to overwrite"
                )
            candidate.cost = float(row["cost"])
        result_key = (candidate.id, row["stage"], row["split"], row["task"])
        result = stored.get(result_key)
        if result is None:
            result = Result(
                candidate_id=candidate.id, stage=row["stage"], split=row["split"], task=row["task"],
                loss=float(row["loss"]), job_id=row.get("job_id"),
            )
            session.add(result)
            stored[result_key] = result
            added += 1
        elif result.loss == float(row["loss"]):
            unchanged += 1
        elif replace:
            result.loss = float(row["loss"])
            replaced += 1
        else:
            raise ConflictError(
                f"{row['task']} loss of {row['tasks']} ({row['size']}, {row['stage']}, {row['split']}) is stored "
                f"as {result.loss!r}, the input says {row['loss']!r}; use --replace to overwrite"
            )
    session.flush()
    return ImportSummary(added_candidates, added, replaced, unchanged)


def results_frame(session: Session, study: Study) -> pd.DataFrame:
    """All results of `study` in the exchange format's columns, sorted for stable output."""
    stmt = (
        select(Candidate.tasks, Candidate.size, Candidate.cost, Result.stage, Result.split, Result.task, Result.loss)
        .join(Result, Result.candidate_id == Candidate.id)
        .where(Candidate.study_id == study.id)
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=RESULT_COLUMNS)
    return frame.sort_values(["size", "tasks", "stage", "split", "task"], ignore_index=True)


def candidates_frame(session: Session, study: Study) -> pd.DataFrame:
    """Every candidate of `study` with declared and measured cost columns."""
    columns = ["tasks", "size", "cost", "params", "macs", "latency_ms", "latency_spread_ms",
               "peak_memory_bytes", "cost_device"]
    rows = [[getattr(c, name) for name in columns] for c in Candidate.all_of_study(session, study.id)]
    return pd.DataFrame(rows, columns=columns)
