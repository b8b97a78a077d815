"""Building studies and counting results for the scheduler tests."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from sqlalchemy import select

from db import Store, open_store
from db.models import Candidate, Job, Result, Study
from jobs.plans import add_jobs, subsets
from jobs.settings import WorkerSettings

ONE_SIZE = [{"label": "full", "encoder": "xception", "width": 0.25, "cost": 1.0}]


def make_study(url: str, name: str = "s", tasks: list[str] | None = None, *, jobs: int | None = None,
               dataset: dict | None = None, training: dict | None = None) -> Store:
    """A study of `tasks` with one size; with `jobs`, that many full-stage jobs queued (smallest subsets first)."""
    store = open_store(url)
    with store.session() as session:
        study = Study(name=name, tasks=tasks or list("abcdefgh"), sizes=ONE_SIZE, dataset=dataset or {},
                      training=training or {})
        session.add(study)
        session.flush()
        if jobs is not None:
            keys = [(tasks_, "full", "full") for tasks_ in subsets(study.tasks)][:jobs]
            assert len(keys) == jobs
            add_jobs(session, study, keys)
    return store


def settings(tmp_path: Path, **changes: object) -> WorkerSettings:
    """Fast timings for tests: beats every 0.2 s, stale after 1.5 s."""
    values = dict(heartbeat=0.2, grace=1.5, poll=0.1, checkpoint_root=tmp_path / "checkpoints", runner="dry")
    values.update(changes)
    return WorkerSettings(**values)  # type: ignore[arg-type]


def job_states(store: Store) -> Counter[str]:
    with store.session() as session:
        return Counter(session.scalars(select(Job.state)))


def result_keys(store: Store) -> list[tuple[str, str, str, str, str]]:
    """Every stored result as (tasks, size, stage, split, task), duplicates kept."""
    with store.session() as session:
        rows = session.execute(
            select(Candidate.tasks, Candidate.size, Result.stage, Result.split, Result.task).join(Candidate)
        ).all()
    return [tuple(row) for row in rows]


def expected_keys(store: Store, stage: str = "full") -> set[tuple[str, str, str, str, str]]:
    """The results a study's jobs should produce: every task of every job's candidate, on val and test."""
    with store.session() as session:
        rows = session.execute(select(Candidate.tasks, Candidate.size, Job.stage).join(Job)).all()
    return {(tasks, size, stage_, split, task) for tasks, size, stage_ in rows for split in ("val", "test")
            for task in tasks.split("+")}


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds (a hang, not a timing check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
