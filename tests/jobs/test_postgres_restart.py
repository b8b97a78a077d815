"""A PostgreSQL restart in the middle of a run: workers reconnect and the run completes.

Uses a dedicated server (not the shared session fixture), since the restart cuts every connection.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from jobs.backends import BACKENDS, WorkRequest
from tests.jobs.helpers import expected_keys, job_states, make_study, result_keys, settings
from tests.postgres_server import running_postgres


@pytest.fixture
def own_postgres():
    with running_postgres() as server:
        if server is None:
            pytest.skip("PostgreSQL server binaries not installed")
        yield server


def start_workers(url: str, store, tmp_path, *, grace: float, heartbeat: float, steps: int, step_seconds: float,
                  until: str, count: int) -> tuple[threading.Thread, list]:
    """Two local dry-runner workers on study `s` in a thread, returned once `count` jobs are `until`
    (the thread, and the list their summaries are added to when they end)."""
    request = WorkRequest(
        db_url=url, study="s", devices=("cpu",), per_device=2, settings=settings(tmp_path, grace=grace, heartbeat=heartbeat),
        runner_options={"steps": steps, "step_seconds": step_seconds}, log_dir=tmp_path / "logs",
    )
    summaries: list = []
    run = threading.Thread(target=lambda: summaries.extend(BACKENDS.get("local")().run(request, threading.Event())))
    run.start()
    deadline = time.monotonic() + 120
    while job_states(store)[until] < count:
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.1)
    return run, summaries


def test_workers_survive_a_postgres_restart(own_postgres, tmp_path):
    url = own_postgres.create_database("restart")
    store = make_study(url, jobs=40)
    run, summaries = start_workers(url, store, tmp_path, grace=6.0, heartbeat=0.5, steps=3, step_seconds=0.1, until="done", count=5)
    assert job_states(store)["done"] < 40, "the restart must happen mid-run"
    own_postgres.restart(down_seconds=2.0)
    run.join(timeout=300)
    assert not run.is_alive()
    store.dispose()
    assert job_states(store) == {"done": 40}
    keys = result_keys(store)
    assert [k for k, n in Counter(keys).items() if n > 1] == [] and set(keys) == expected_keys(store)
    assert len(summaries) == 2 and sum(s.done for s in summaries) == 40


def test_an_outage_longer_than_the_grace_period_does_not_hand_live_jobs_to_other_workers(own_postgres, tmp_path):
    """Every heartbeat is old when the server comes back; the first worker to reconnect used to reclaim
    the others' live jobs, whose finished results were then thrown away and trained again."""
    url = own_postgres.create_database("outage")
    store = make_study(url, jobs=8)
    run, summaries = start_workers(url, store, tmp_path, grace=2.0, heartbeat=0.4, steps=20, step_seconds=0.2, until="running", count=2)
    time.sleep(1.0)  # both a second into their 4-second jobs
    own_postgres.restart(down_seconds=5.0)  # down for longer than the grace period
    run.join(timeout=300)
    assert not run.is_alive()
    store.dispose()
    assert job_states(store) == {"done": 8}
    assert sum(s.lost for s in summaries) == 0 and sum(s.done for s in summaries) == 8
    keys = result_keys(store)
    assert [k for k, n in Counter(keys).items() if n > 1] == [] and set(keys) == expected_keys(store)


def test_a_worker_slot_started_while_the_server_is_down_waits_for_it(own_postgres, tmp_path):
    """A slot that `work` restarted during an outage died at once (its study lookup was not retried),
    and after three restarts `work` gave up on it."""
    from jobs.backends.local_slot import run_slot

    url = own_postgres.create_database("late")
    store = make_study(url, jobs=3)
    store.dispose()
    request = WorkRequest(db_url=url, study="s", devices=("cpu",), per_device=1, settings=settings(tmp_path),
                          runner_options={"steps": 2, "step_seconds": 0.05})
    own_postgres.stop()
    summaries: list = []
    slot = threading.Thread(target=lambda: summaries.append(run_slot(request, 0, threading.Event())))
    slot.start()
    time.sleep(2.0)  # the slot is trying to open the database meanwhile
    assert slot.is_alive()
    own_postgres.start()
    slot.join(timeout=120)
    assert not slot.is_alive()
    assert summaries[0].done == 3 and job_states(store) == {"done": 3}
