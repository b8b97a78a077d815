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


def test_workers_survive_a_postgres_restart(own_postgres, tmp_path):
    url = own_postgres.create_database("restart")
    store = make_study(url, jobs=40)
    request = WorkRequest(
        db_url=url, study="s", devices=("cpu",), per_device=2, settings=settings(tmp_path, grace=6.0, heartbeat=0.5),
        runner_options={"steps": 3, "step_seconds": 0.1}, log_dir=tmp_path / "logs",
    )
    summaries: list = []
    run = threading.Thread(target=lambda: summaries.extend(BACKENDS.get("local")().run(request, threading.Event())))
    run.start()
    deadline = time.monotonic() + 120
    while job_states(store)["done"] < 5:
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.2)
    assert job_states(store)["done"] < 40, "the restart must happen mid-run"
    own_postgres.restart(down_seconds=2.0)
    run.join(timeout=300)
    assert not run.is_alive()
    store.dispose()
    assert job_states(store) == {"done": 40}
    keys = result_keys(store)
    assert [k for k, n in Counter(keys).items() if n > 1] == [] and set(keys) == expected_keys(store)
    assert len(summaries) == 2 and sum(s.done for s in summaries) == 40
