"""Four worker processes over 200 jobs on SQLite and PostgreSQL: every job done exactly once.

The jobs use the `dry` runner (no network training, made-up deterministic losses, a checkpoint
file per step) so that the test measures the scheduler, not the network; real training under
faults is covered by test_faults.py.
"""

from __future__ import annotations

import threading
from collections import Counter

from jobs.backends import BACKENDS, WorkRequest
from jobs.runners import dry_loss
from tests.jobs.helpers import expected_keys, job_states, make_study, result_keys, settings


def test_four_workers_do_200_jobs_exactly_once(db_url, tmp_path):
    store = make_study(db_url, jobs=200)
    request = WorkRequest(
        db_url=db_url, study="s", devices=("cpu",), per_device=4, settings=settings(tmp_path, heartbeat=1.0, grace=30.0),
        runner_options={"steps": 2}, log_dir=tmp_path / "logs",
    )
    summaries = BACKENDS.get("local")().run(request, threading.Event())

    assert len(summaries) == 4, "every worker process reported back"
    assert sum(s.done for s in summaries) == 200
    assert sum(s.failed + s.lost + s.requeued for s in summaries) == 0
    assert job_states(store) == {"done": 200}
    keys = result_keys(store)
    duplicated = [key for key, count in Counter(keys).items() if count > 1]
    assert duplicated == [] and set(keys) == expected_keys(store)
    logs = "".join(path.read_text() for path in (tmp_path / "logs").glob("worker-*.log"))
    assert "locked" not in logs and "ERROR" not in logs and "WARNING" not in logs


def test_results_are_the_runners_losses(db_url, tmp_path):
    from jobs.worker import Worker
    from jobs.runners import build_runner
    from sqlalchemy import select
    from db.models import Candidate, Result

    store = make_study(db_url, jobs=10)
    Worker(store, "s", "cpu", settings(tmp_path), build_runner("dry")).run()
    with store.session() as session:
        rows = session.execute(select(Candidate.tasks, Candidate.size, Result.stage, Result.task, Result.split,
                                      Result.loss).join(Candidate)).all()
    assert len(rows) == len(expected_keys(store))
    for tasks, size, stage, task, split, loss in rows:
        assert loss == dry_loss(tasks, size, stage, task, split)
