"""Writing and reading results in bulk: the import path and the frame every query starts from."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import ConflictError
from db.models import Candidate, Job, Result, Study

RESULT_COLUMNS = ["tasks", "size", "cost", "stage", "split", "task", "loss"]
SAME_NUMBER_DIGITS = 12
"""Significant digits to which an imported number must match a stored one to count as the same: a
spreadsheet keeps 15, so an export opened and saved again imports as unchanged."""


def same_number(stored: float, imported: float) -> bool:
    """Whether `imported` is `stored` written with fewer digits (see SAME_NUMBER_DIGITS)."""
    return math.isclose(stored, imported, rel_tol=10.0 ** -SAME_NUMBER_DIGITS)


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed, for the CLI to report."""

    candidates_added: int
    results_added: int
    results_replaced: int
    results_unchanged: int
    queued_jobs_removed: int = 0
    """Queued jobs of networks the import gave results: a network's losses come from one run."""
    running_jobs: int = 0
    """Jobs of networks the import gave results that a worker is training; their losses are not stored."""
    failed_jobs_removed: int = 0
    """Failed jobs of networks the import gave results: `retry` would only train them to be discarded."""


def store_results(session: Session, study: Study, rows: Iterable[Mapping[str, Any]], *, replace: bool) -> ImportSummary:
    """Add result rows (exchange-format mappings) to `study` inside the caller's transaction.

    A row equal to a stored one (to SAME_NUMBER_DIGITS) is left alone; one that contradicts a stored
    loss or cost is a ConflictError unless `replace`, so re-importing the same file is harmless and
    nothing is silently overwritten. A row's optional `origin` (where the caller read it, e.g.
    `FILE, line N`) starts that error's message, so the user can find the line.
    """
    candidates = {(c.tasks, c.size): c for c in Candidate.all_of_study(session, study.id)}
    stored = {
        (r.candidate_id, r.stage, r.split, r.task): r
        for r in session.scalars(select(Result).join(Candidate).where(Candidate.study_id == study.id))
    }
    added_candidates = added = replaced = unchanged = 0
    filled: set[tuple[int, str]] = set()
    for row in rows:
        key = (row["tasks"], row["size"])
        candidate = candidates.get(key)
        if candidate is None:
            candidate = Candidate(study=study, tasks=row["tasks"], size=row["size"], cost=float(row["cost"]))
            session.add(candidate)
            session.flush()
            candidates[key] = candidate
            added_candidates += 1
        elif not same_number(candidate.cost, float(row["cost"])):
            if not replace:
                raise ConflictError(
                    f"{origin_prefix(row)}candidate {row['tasks']} ({row['size']}) is stored with cost "
                    f"{candidate.cost}, the input says {row['cost']}; use --replace to overwrite"
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
            filled.add((candidate.id, row["stage"]))
        elif same_number(result.loss, float(row["loss"])):
            unchanged += 1
        elif replace:
            result.loss, result.job_id = float(row["loss"]), row.get("job_id")  # imported now, not that job's
            replaced += 1
            filled.add((candidate.id, row["stage"]))
        else:
            raise ConflictError(
                f"{origin_prefix(row)}{row['task']} loss of {row['tasks']} ({row['size']}, {row['stage']}, "
                f"{row['split']}) is stored as {result.loss!r}, the input says {row['loss']!r}; use --replace to overwrite"
            )
    session.flush()
    removed, failed, running = _settle_jobs(session, study, filled)
    return ImportSummary(added_candidates, added, replaced, unchanged, removed, running, failed)


def origin_prefix(row: Mapping[str, Any]) -> str:
    """`ORIGIN: ` to start an error about `row` with, when the caller said where it read the row."""
    return f"{row['origin']}: " if row.get("origin") else ""


def _settle_jobs(session: Session, study: Study, filled: set[tuple[int, str]]) -> tuple[int, int, int]:
    """Remove the queued and failed jobs of each (candidate, stage) the import gave results, even in
    part: a network's losses come from one run, imported or trained, never both (a trained test loss
    beside an imported validation loss would score a choice on another network's run), and `plan`
    does not queue a network that has results. Running ones are counted; their worker stores none
    of its losses (see JobQueue.finish)."""
    removed = failed = running = 0
    jobs = select(Job).where(Job.study_id == study.id, Job.state.in_(("queued", "running", "failed")))
    for job in session.scalars(jobs):
        if (job.candidate_id, job.stage) in filled:
            if job.state == "running":
                running += 1
                continue
            session.delete(job)
            removed, failed = (removed + 1, failed) if job.state == "queued" else (removed, failed + 1)
    session.flush()
    return removed, failed, running


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
