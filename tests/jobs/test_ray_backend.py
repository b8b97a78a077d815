"""The Ray backend on a real local Ray cluster, started as a user starts one (`ray start --head`).

What a user relies on: a study run through Ray ends with the same losses as one run on this
machine, every result exactly once, in PostgreSQL and in a SQLite file; a Ray worker process
killed mid-job has its job reclaimed and finished; Ctrl-C puts running jobs back in the queue.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import HTTPServer, SimpleHTTPRequestHandler
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from db import open_store
from db.models import Candidate, Job, Result
from jobs.backends import BACKENDS, WorkRequest
from jobs.runners import build_runner, dry_loss
from taskgroup.errors import InvalidInputError
from tests.jobs.helpers import expected_keys, job_states, make_study, result_keys, settings
from tests.taskgroup.cli.helpers import run_error, run_json, run_ok

pytestmark = pytest.mark.ray

RAY = Path(sys.executable).parent / "ray"
STARTUP_SECONDS = 300  # the test machine is small and busy; Ray may take minutes to come up
TASKS = ["depth", "normal"]
TRAINING = {"max_epochs": 2, "batch_size": 8, "amp": False, "patience": 10, "seed": 7}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A one-node cluster with 2 CPUs, no dashboard, no usage reporting, all in a private folder;
    yields its address. Stopped with SIGTERM to its own `ray start --block` process only.

    Token authentication is on, as on a shared cluster, with the test's own token on both sides (given
    in the environment, so whatever ~/.ray/auth_token the machine has is neither read nor written).
    """
    root = Path(tempfile.mkdtemp(prefix="tgray-", dir="/tmp"))  # short: Ray's socket paths have a length limit
    ray_env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = {**os.environ, **ray_env, "TASKGROUP_HOME": str(root / "home"), "TASKGROUP_CACHE": str(root / "home" / "cache")}
    env.pop("RAY_ADDRESS", None)
    ports = {flag: str(_free_port()) for flag in (
        "--port", "--ray-client-server-port", "--dashboard-port", "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port",
        "--node-manager-port", "--object-manager-port")}
    command = [str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "2", "--num-gpus", "0",
               "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(root / "ray"),
               *[item for pair in ports.items() for item in pair]]
    log_path = root / "ray-start.log"
    with open(log_path, "wb") as log_file:
        head = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        address = _wait_for_address(head, log_path)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in ray_env.items():  # the drivers (this process) likewise
                patch.setenv(name, value)
            patch.delenv("RAY_ADDRESS", raising=False)
            yield address
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=120)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_address(head: subprocess.Popen, log_path: Path) -> str:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        found = re.search(r"ray start --address='([^']+)'", text)
        if found and "Ray runtime started" in text:
            return found.group(1)
        if head.poll() is not None:
            pytest.fail(f"`ray start --head` exited with code {head.returncode}:\n{text[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"the Ray cluster did not start within {STARTUP_SECONDS}s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every process of the test can see, as a cluster's shared file system would be."""
    return tmp_path_factory.mktemp("shared")


def dataset(shared: Path) -> dict:
    """A tiny synthetic dataset, cached in the shared folder so the driver and the Ray tasks read the same files."""
    return {"name": "synthetic", "root": None, "options": {"images": 40, "resolution": 16, "cache_dir": str(shared / "data")}}


def stored_losses(store) -> dict[tuple[str, str, str, str, str], float]:
    with store.session() as session:
        rows = session.execute(
            select(Candidate.tasks, Candidate.size, Result.stage, Result.split, Result.task, Result.loss).join(Candidate)
        ).all()
    assert len(rows) == len({row[:5] for row in rows}), "a result was stored twice"
    return {tuple(row[:5]): row[5] for row in rows}


@pytest.fixture(scope="module")
def local_losses(shared: Path) -> dict:
    """The tiny study trained on this machine with the local backend: the reference for the Ray runs."""
    build_runner("train").prepare(dataset(shared), TASKS, TRAINING)
    store = make_study(f"sqlite:///{shared / 'local.sqlite'}", tasks=TASKS, jobs=3, dataset=dataset(shared),
                       training=TRAINING)
    request = WorkRequest(db_url=store.url, study="s", devices=("cpu",),
                          settings=settings(shared / "local", runner="train", heartbeat=2.0, grace=30.0))
    BACKENDS.get("local")().run(request, threading.Event())
    assert job_states(store) == {"done": 3}
    return stored_losses(store)


def ray_request(url: str, tmp_path: Path, address: str, **changes: object) -> WorkRequest:
    values: dict = dict(heartbeat=2.0, grace=30.0, poll=0.5, runner="train")
    values.update(changes)
    return WorkRequest(db_url=url, study="s", devices=("cpu",), settings=settings(tmp_path, **values),
                       log_dir=tmp_path / "logs", options={"address": address})


@pytest.mark.slow
def test_ray_backend_trains_a_study_with_the_local_backends_losses(db_url, ray_cluster, shared, local_losses, tmp_path):
    """Three real training jobs as Ray tasks on PostgreSQL and on a SQLite file: every loss equals the
    local backend's for the same seed (CPU training is deterministic up to float rounding)."""
    store = make_study(db_url, tasks=TASKS, jobs=3, dataset=dataset(shared), training=TRAINING)
    summaries = BACKENDS.get("ray")().run(ray_request(db_url, tmp_path, ray_cluster), threading.Event())

    assert job_states(store) == {"done": 3}
    assert sum(s.done for s in summaries) == 3 and sum(s.failed + s.lost + s.requeued for s in summaries) == 0
    losses = stored_losses(store)
    assert set(losses) == set(local_losses) == expected_keys(store)
    for key, loss in local_losses.items():
        assert losses[key] == pytest.approx(loss, rel=1e-4, abs=1e-6), key
    with store.session() as session:
        workers = set(session.scalars(select(Job.worker)))
    assert all(":ray-cpu:" in worker for worker in workers), "the jobs ran in Ray worker processes"
    assert all(int(worker.split(":")[1]) != os.getpid() for worker in workers)


def test_cli_work_with_the_ray_backend(ray_cluster, tmp_path):
    """Six jobs of about a second each on the 2-CPU cluster: all done, never more than two at once."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b,c", "--sizes", "full=1.0", "--db", url)
    run_ok("plan", "s", "--estimator", "hoa", "--db", url)
    report = run_json("work", "s", "--db", url, "--backend", "ray", "--address", ray_cluster, "--devices", "cpu",
                      "--runner", "dry", "--runner-option", "steps=10", "--runner-option", "step_seconds=0.1",
                      "--checkpoint-root", str(tmp_path / "checkpoints"))
    assert report["jobs"] == {"queued": 0, "running": 0, "done": 6, "failed": 0, "total": 6}
    assert sum(worker["done"] for worker in report["workers"]) == 6
    assert most_jobs_at_once(open_store(url)) <= 2, "Ray ran more jobs at once than the cluster has CPUs"


def test_cli_work_with_the_ray_backend_reports_every_jobs_outcome_once(ray_cluster, tmp_path):
    """The driver logs each job's `done` line as its task returns, so the last one is not lost when
    Ray stops forwarding the tasks' output; the tasks' own copies are not forwarded, and stdout is
    only the JSON report."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0", "--db", url)
    run_ok("plan", "s", "--estimator", "hoa", "--db", url)
    result = run_ok("work", "s", "--db", url, "--backend", "ray", "--address", ray_cluster, "--devices", "cpu",
                    "--runner", "dry", "--runner-option", "steps=3", "--runner-option", "step_seconds=0.1",
                    "--checkpoint-root", str(tmp_path / "checkpoints"), "--json")
    assert json.loads(result.stdout)["jobs"]["done"] == 3
    done = re.findall(r"job (\d+) \S+@full \(full\): done on [^:\s]+:\d+:ray-cpu$", result.stderr, re.MULTILINE)
    assert sorted(done) == ["1", "2", "3"], result.stderr
    assert result.stderr.count(": done") == 3, "a job's done line was printed twice"


def test_sigterm_to_work_on_ray_puts_the_running_jobs_back_in_the_queue(ray_cluster, tmp_path):
    """`ray.init` replaced taskgroup's SIGTERM handler with one that exits at once: a `work` stopped by
    `kill` (or systemd, or Slurm) left its running jobs to wait out the grace period."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0", "--db", url)
    run_ok("plan", "s", "--estimator", "hoa", "--db", url)
    work = subprocess.Popen(
        [sys.executable, "-m", "taskgroup", "work", "s", "--db", url, "--backend", "ray", "--address", ray_cluster,
         "--devices", "cpu", "--runner", "dry", "--runner-option", "steps=600", "--runner-option", "step_seconds=0.1",
         "--heartbeat", "0.5", "--grace", "60", "--checkpoint-root", str(tmp_path / "checkpoints"), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _running_job_with_checkpoint(open_store(url), tmp_path, deadline=time.monotonic() + STARTUP_SECONDS)
        work.send_signal(signal.SIGTERM)
        stdout, stderr = work.communicate(timeout=STARTUP_SECONDS)
    finally:
        work.kill()
    assert work.returncode == 130, stderr
    assert json.loads(stdout)["stopped"] == "SIGTERM"
    states = job_states(open_store(url))
    assert states["running"] == 0 and states["done"] < 3, "the jobs were released, not left running"
    assert "SIGTERM handler is not set" not in stderr


def most_jobs_at_once(store) -> int:
    """The most jobs whose started..finished spans overlap at one moment (database times, in ms)."""
    with store.session() as session:
        spans = session.execute(select(Job.started_at, Job.finished_at)).all()
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])  # an end sorts first
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_killed_ray_worker_process_has_its_job_reclaimed_and_finished(db_url, ray_cluster, tmp_path, caplog, capsys):
    """SIGKILL the Ray worker process running a job: the driver says in one line that the task was
    lost (Ray's own message about the dead worker is not printed) and starts another, which reclaims
    the job once its heartbeat is stale and resumes it from its checkpoint."""
    store = make_study(db_url, jobs=3)
    request = ray_request(db_url, tmp_path, ray_cluster, runner="dry", heartbeat=0.5, grace=4.0)
    request = WorkRequest(**{**request.__dict__, "runner_options": {"steps": 40, "step_seconds": 0.1}})
    summaries: list = []
    run = threading.Thread(target=lambda: summaries.extend(BACKENDS.get("ray")().run(request, threading.Event())))
    with caplog.at_level(logging.INFO, logger="taskgroup"):
        run.start()
        victim = _running_job_with_checkpoint(store, tmp_path, deadline=time.monotonic() + STARTUP_SECONDS)
        os.kill(int(victim.worker.split(":")[1]), signal.SIGKILL)
        run.join(timeout=STARTUP_SECONDS)
    assert not run.is_alive(), "the Ray run did not finish"
    assert caplog.text.count("Ray worker task was lost (WorkerCrashedError") == 1
    assert re.search(rf"job {victim.id} .*: done on ", caplog.text), "the driver reports the killed job's end"
    printed = capsys.readouterr()
    assert "A worker died or was killed" not in printed.out + printed.err
    assert "Traceback" not in printed.out + printed.err + caplog.text
    task_logs = "".join(path.read_text() for path in (tmp_path / "logs").glob("ray-*.log"))
    assert f"job {victim.id} " in task_logs and f"reclaimed from {victim.worker}, resuming from checkpoint" in task_logs

    assert job_states(store) == {"done": 3}
    keys = result_keys(store)
    assert [k for k, n in Counter(keys).items() if n > 1] == [] and set(keys) == expected_keys(store)
    for (tasks, size, stage, split, task), loss in stored_losses(store).items():
        assert loss == dry_loss(tasks, size, stage, task, split)
    with store.session() as session:
        retried = session.execute(select(Job.id, Job.worker).where(Job.attempts > 1)).all()
    assert [job_id for job_id, _ in retried] == [victim.id], "exactly the killed job was claimed again"
    assert retried[0][1] != victim.worker, "another Ray worker finished it"
    assert sum(s.done for s in summaries) == 3


def _running_job_with_checkpoint(store, tmp_path: Path, deadline: float) -> Job:
    """A running job once its runner has written a checkpoint (so there is something to resume)."""
    while time.monotonic() < deadline:
        with store.session() as session:
            for job in session.scalars(select(Job).where(Job.state == "running")):
                if list((tmp_path / "checkpoints").glob(f"*/job-{job.id}-*/dry.json")):
                    return job
        time.sleep(0.1)
    pytest.fail("no Ray task started a job")


@pytest.mark.slow
def test_stop_puts_running_ray_jobs_back_in_the_queue(ray_cluster, tmp_path):
    """Ctrl-C on the driver: running tasks checkpoint and release their jobs, nothing is lost, and a
    second run finishes the study from the checkpoints."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = make_study(url, jobs=4)
    request = ray_request(url, tmp_path, ray_cluster, runner="dry", heartbeat=0.5, grace=4.0)
    request = WorkRequest(**{**request.__dict__, "runner_options": {"steps": 50, "step_seconds": 0.1}})
    stop = threading.Event()
    summaries: list = []
    run = threading.Thread(target=lambda: summaries.extend(BACKENDS.get("ray")().run(request, stop)))
    run.start()
    _running_job_with_checkpoint(store, tmp_path, deadline=time.monotonic() + STARTUP_SECONDS)
    stop.set()
    run.join(timeout=STARTUP_SECONDS)
    assert not run.is_alive()
    states = job_states(store)
    assert states["running"] == 0 and states["queued"] >= 1 and sum(s.released for s in summaries) >= 1
    with store.session() as session:
        assert set(session.scalars(select(Job.attempts).where(Job.state == "queued"))) == {0}

    BACKENDS.get("ray")().run(request, threading.Event())
    assert job_states(store) == {"done": 4}
    assert set(result_keys(store)) == expected_keys(store) and len(result_keys(store)) == len(expected_keys(store))


# Without a cluster: what a user gets wrong, and what a machine without Ray says.

@pytest.mark.parametrize(("devices", "message"), [
    ("cuda:0", "write --devices cuda"),
    ("cpu,cuda", "one kind of device"),
    ("tpu", "runs jobs on cpu or cuda"),
])
def test_cluster_devices_are_kinds_not_local_devices(devices, message):
    with pytest.raises(InvalidInputError, match=message):
        BACKENDS.get("ray").devices(devices)
    assert message in run_error("work", "s", "--backend", "ray", "--devices", devices)


def test_cluster_devices_and_what_each_job_asks_ray_for():
    from jobs.backends.ray import task_resources

    backend = BACKENDS.get("ray")
    assert backend.devices(None) == ("auto",) and backend.devices("cuda") == ("cuda",)
    assert backend.devices("cpu, cpu") == ("cpu",)
    assert task_resources("cuda", 1) == {"num_gpus": 1.0, "num_cpus": 1}
    assert task_resources("cuda", 4) == {"num_gpus": 0.25, "num_cpus": 1}
    assert task_resources("cpu", 3) == {"num_cpus": 1}


def test_without_ray_installed_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail as on a machine without it
    store = make_study(f"sqlite:///{tmp_path / 'db.sqlite'}", jobs=1)
    request = WorkRequest(db_url=store.url, study="s", devices=("cpu",), settings=settings(tmp_path))
    with pytest.raises(InvalidInputError, match=r"pip install 'taskgroup\[ray\]'"):
        BACKENDS.get("ray")().run(request, threading.Event())
    assert job_states(store) == {"queued": 1}


def test_without_the_token_mode_a_token_cluster_is_one_clear_error_saying_what_to_set(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE")
    store = make_study(f"sqlite:///{tmp_path / 'db.sqlite'}", jobs=1)
    message = run_error("work", "s", "--db", store.url, "--backend", "ray", "--address", ray_cluster,
                        "--devices", "cpu", "--runner", "dry")
    assert f"cannot connect to the Ray cluster at {ray_cluster}: the cluster uses token authentication" in message
    assert "set RAY_AUTH_MODE=token" in message and job_states(store) == {"queued": 1}


def test_an_address_nobody_listens_on_is_one_clear_error_at_once(tmp_path):
    """Ray would retry such an address for minutes; the user gets the error straight away instead."""
    store = make_study(f"sqlite:///{tmp_path / 'db.sqlite'}", jobs=1)
    closed = f"127.0.0.1:{_free_port()}"
    message = run_error("work", "s", "--db", str(tmp_path / "db.sqlite"), "--backend", "ray", "--address", closed,
                        "--devices", "cpu", "--runner", "dry")
    assert f"cannot connect to the Ray cluster at {closed}: Connection refused" in message
    assert "ray start --head" in message and job_states(store) == {"queued": 1}


def test_a_dead_RAY_ADDRESS_is_one_clear_error_at_once_naming_where_the_address_came_from(tmp_path, monkeypatch):
    make_study(f"sqlite:///{tmp_path / 'db.sqlite'}", jobs=1)
    closed = f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", closed)
    message = run_error("work", "s", "--db", str(tmp_path / "db.sqlite"), "--backend", "ray", "--devices", "cpu",
                        "--runner", "dry")
    assert f"cannot connect to the Ray cluster at {closed} (from RAY_ADDRESS): Connection refused" in message


def test_an_address_that_is_not_a_ray_gcs_port_says_so_at_once(tmp_path):
    """E.g. the dashboard's port: it accepts the connection, and Ray would wait on it for minutes."""
    make_study(f"sqlite:///{tmp_path / 'db.sqlite'}", jobs=1)
    server = HTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        message = run_error("work", "s", "--db", str(tmp_path / "db.sqlite"), "--backend", "ray", "--address", address,
                            "--devices", "cpu", "--runner", "dry")
    finally:
        server.shutdown()
        server.server_close()
    assert f"cannot connect to the Ray cluster at {address}: something answers there, but not a Ray cluster's GCS" in message
    assert "8265 is the dashboard's" in message


def test_with_no_open_job_the_ray_backend_does_not_need_the_cluster(tmp_path):
    store = make_study(f"sqlite:///{tmp_path / 'db.sqlite'}", jobs=0)
    closed = f"127.0.0.1:{_free_port()}"
    report = run_json("work", "s", "--db", store.url, "--backend", "ray", "--address", closed, "--devices", "cpu",
                      "--runner", "dry")
    assert report["workers"] == [] and report["jobs"]["total"] == 0
