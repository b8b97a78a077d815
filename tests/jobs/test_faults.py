"""A worker killed with SIGKILL mid-job: another worker reclaims the job once its heartbeat is stale,
resumes it from the checkpoint, and the study ends with every result exactly once."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Job, Result
from jobs.backends import BACKENDS, WorkRequest
from jobs.runners import build_runner
from jobs.worker import Worker
from tests.jobs.helpers import expected_keys, job_states, make_study, result_keys, settings, wait_for
from tests.taskgroup.cli.helpers import run_ok

TASKGROUP = Path(sys.executable).parent / "taskgroup"


def start_worker(url: str, tmp_path: Path, *extra: str) -> subprocess.Popen:
    command = [str(TASKGROUP), "work", "s", "--db", url, "--devices", "cpu", "--heartbeat", "0.5", "--grace", "3",
               "--checkpoint-root", str(tmp_path / "checkpoints"), *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "killed.log", "wb"))


def running_job_checkpoint(store, tmp_path: Path, filename: str) -> Path | None:
    """The checkpoint file of the running job, once it exists."""
    with store.session() as session:
        job_id = session.scalars(select(Job.id).where(Job.state == "running")).first()
    if job_id is None:
        return None
    found = list((tmp_path / "checkpoints").glob(f"*/job-{job_id}-*/{filename}"))
    return found[0] if found else None


def kill_mid_job_and_finish(store, url, tmp_path, caplog, runner, filename, *extra):
    victim = start_worker(url, tmp_path, *extra)
    try:
        wait_for(lambda: running_job_checkpoint(store, tmp_path, filename) is not None, 240, "a checkpoint")
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    assert job_states(store)["running"] == 1, "the killed worker left its job running"
    with caplog.at_level(logging.INFO, logger="taskgroup"):
        summary = Worker(store, "s", "cpu", settings(tmp_path, heartbeat=0.5, grace=3, runner=runner[0]),
                         build_runner(*runner)).run()
    assert summary.failed == summary.lost == 0
    assert "reclaimed from" in caplog.text and "resuming from checkpoint" in caplog.text
    assert set(job_states(store)) == {"done"}
    keys = result_keys(store)
    assert [k for k, n in Counter(keys).items() if n > 1] == [] and set(keys) == expected_keys(store)
    with store.session() as session:
        attempts = session.scalars(select(Job.attempts).where(Job.attempts > 1)).all()
    assert attempts == [2], "exactly the killed job was claimed twice"


def test_killed_worker_dry_jobs_are_reclaimed_and_finished_once(db_url, tmp_path, caplog):
    store = make_study(db_url, jobs=3)
    kill_mid_job_and_finish(store, db_url, tmp_path, caplog, ("dry", {"steps": 30, "step_seconds": 0.1}), "dry.json",
                            "--runner", "dry", "--runner-option", "steps=30", "--runner-option", "step_seconds=0.1")


@pytest.mark.slow
def test_killed_worker_training_resumes_from_checkpoint_with_the_same_losses(tmp_path, caplog):
    """Real training: the resumed run's losses equal an uninterrupted run's (CPU training is deterministic)."""
    from taskgroup.data import DatasetSpec, load_splits
    from taskgroup.models import SizeSpec
    from taskgroup.training import TrainConfig, train_candidate

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    dataset = {"name": "synthetic", "root": None, "options": {"images": 40, "resolution": 16}}
    training = {"max_epochs": 4, "batch_size": 8, "amp": False, "patience": 10}
    store = make_study(url, tasks=["depth", "normal"], jobs=1, dataset=dataset, training=training)
    splits = load_splits(DatasetSpec("synthetic", options=dataset["options"]), ["depth"])
    kill_mid_job_and_finish(store, url, tmp_path, caplog, ("train", None), "last.pt")

    reference = train_candidate(["depth"], SizeSpec("full", "xception", 0.25, 1.0), splits, "cpu",
                                TrainConfig(**training))
    with store.session() as session:
        stored = {(split, task): loss for split, task, loss in session.execute(select(Result.split, Result.task, Result.loss))}
        job = session.scalars(select(Job)).one()
    assert stored == {("val", "depth"): reference.val_losses["depth"], ("test", "depth"): reference.test_losses["depth"]}
    assert job.epochs == reference.epochs and len(job.curve) == reference.epochs


def test_a_diverging_job_fails_at_once_with_its_message(tmp_path):
    """Retrying the same settings cannot help, so a NaN/inf loss fails the job on its first attempt."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    dataset = {"name": "synthetic", "root": None, "options": {"images": 12, "resolution": 16}}
    training = {"max_epochs": 2, "batch_size": 4, "amp": False, "lr": 1e30, "optimizer": "sgd", "momentum": 0.0}
    store = make_study(url, tasks=["depth"], jobs=1, dataset=dataset, training=training)
    summary = Worker(store, "s", "cpu", settings(tmp_path, runner="train"), build_runner("train")).run()
    assert summary.failed == 1 and summary.requeued == 0
    with store.session() as session:
        job = session.scalars(select(Job)).one()
    assert (job.state, job.attempts) == ("failed", 1)
    assert "diverged" in job.error and "depth" in job.error
    assert job.error.endswith("(`taskgroup configure s --set lr=...` or `--set weighting=...`)")


def test_a_data_error_fails_the_job_at_once(tmp_path):
    """Bad data on disk fails every attempt alike: it is not retried (on real data each try may take long)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    dataset = {"name": "nyuv2", "root": str(tmp_path / "no-such-folder"), "options": {}}
    store = make_study(url, tasks=["depth"], jobs=1, dataset=dataset, training={"max_epochs": 1})
    summary = Worker(store, "s", "cpu", settings(tmp_path, runner="train"), build_runner("train")).run()
    assert summary.failed == 1 and summary.requeued == 0
    with store.session() as session:
        job = session.scalars(select(Job)).one()
    assert (job.state, job.attempts) == ("failed", 1) and "no-such-folder" in job.error


def test_a_corrupt_checkpoint_fails_the_job_at_once_naming_the_file(tmp_path):
    """A damaged `last.pt` in a job's folder: one line that names it and says to delete it, not torch's paragraph."""
    from jobs.queue import JobQueue
    from tests.taskgroup.cli.helpers import run_error

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    dataset = {"name": "synthetic", "root": None, "options": {"images": 12, "resolution": 16}}
    store = make_study(url, tasks=["depth"], jobs=1, dataset=dataset, training={"max_epochs": 1, "batch_size": 4})
    queue = JobQueue(store, 1, settings(tmp_path))
    claim = queue.claim("earlier", "cpu")  # where the job checkpoints, then back in the queue
    queue.release(claim)
    checkpoint = claim.checkpoint_dir / "last.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"PK\x03\x04 cut short")
    error = run_error("work", "s", "--db", url, "--devices", "cpu", "--checkpoint-root", str(tmp_path / "checkpoints"))
    assert (f"failed: checkpoint {checkpoint} is corrupt or unreadable (not a checkpoint taskgroup wrote, or cut short); "
            "delete it to train this run again from scratch; see `taskgroup status s`") in error
    assert job_states(store) == {"failed": 1} and checkpoint.read_bytes() == b"PK\x03\x04 cut short"


@pytest.mark.skipif(__import__("torch").backends.mps.is_available(), reason="needs a machine without MPS")
def test_an_unexpected_error_is_retried_and_stored_as_one_line_with_the_traceback_in_the_log(tmp_path, caplog):
    """torch's own error (here: a device the machine lacks) may be transient: it costs an attempt. The job's
    error, which `work` prints as its `error:` line, is one line; the traceback goes to the worker log."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    dataset = {"name": "synthetic", "root": None, "options": {"images": 12, "resolution": 16}}
    store = make_study(url, tasks=["depth"], jobs=1, dataset=dataset, training={"max_epochs": 1, "batch_size": 4})
    with caplog.at_level(logging.INFO, logger="taskgroup.jobs"):
        summary = Worker(store, "s", "mps", settings(tmp_path, runner="train", max_attempts=2),
                         build_runner("train")).run()
    assert (summary.requeued, summary.failed) == (1, 1)
    with store.session() as session:
        job = session.scalars(select(Job)).one()
    assert (job.state, job.attempts) == ("failed", 2)
    assert "\n" not in job.error and "Traceback" not in job.error and job.error.endswith("(traceback in the worker log)")
    assert "mps" in job.error.lower()
    assert any(record.exc_info for record in caplog.records if "raised" in record.getMessage())


def _children(pid: int) -> list[int]:
    listed = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in listed.split()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"  # an unreaped zombie is gone too
    except FileNotFoundError:
        return False


def _two_slots_on_three_dry_jobs(tmp_path: Path, steps: int) -> tuple[Any, subprocess.Popen]:
    """A study of three dry jobs of `steps` steps of 0.1 s, and `work --per-device 2` started on it."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = make_study(url, jobs=3)
    parent = start_worker(url, tmp_path, "--per-device", "2", "--runner", "dry", "--runner-option", f"steps={steps}",
                          "--runner-option", "step_seconds=0.1")
    return store, parent


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_worker_processes_stop_and_release_their_jobs_when_work_is_killed(tmp_path):
    """`work --per-device 2` SIGKILLed: its spawned workers used to go on training, unseen, to the end of the queue."""
    store, parent = _two_slots_on_three_dry_jobs(tmp_path, steps=600)
    try:
        wait_for(lambda: job_states(store)["running"] == 2, 120, "two running jobs")
        workers = _children(parent.pid)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert workers
    try:
        wait_for(lambda: not any(_alive(pid) for pid in workers), 60, "the orphaned workers to stop")
    finally:
        for pid in filter(_alive, workers):  # after a failure: leave no worker behind
            os.kill(pid, signal.SIGKILL)
    assert job_states(store) == Counter({"queued": 3})  # each released its job, checkpointed, for the next `work`
    # a multiprocessing.Queue between them left named semaphores, which Python's resource tracker then reported
    assert "leaked semaphore" not in (tmp_path / "killed.log").read_text()


def _pid(worker: str) -> int:
    """The process of a worker named host:pid:device#slot:nonce."""
    return int(worker.split(":")[1])


def _running_workers(store) -> set[str]:
    with store.session() as session:
        return set(session.scalars(select(Job.worker).where(Job.state == "running")))


def _kill_a_slot_and_wait_for_its_successor(store, started: set[str], victim: str) -> str:
    """SIGKILL the slot process running `victim`'s job; return the worker of a process not among
    `started` once it runs a job: the slot started again."""
    os.kill(_pid(victim), signal.SIGKILL)
    found: list[str] = []

    def restarted() -> bool:
        found[:] = _running_workers(store) - started
        return bool(found)

    wait_for(restarted, 120, "a restarted slot to run a job")
    return found[0]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_worker_process_that_dies_is_restarted_and_a_stop_is_not_taken_for_a_crash(tmp_path):
    """`work --per-device 2` with one slot SIGKILLed logged the death, and the run went on with one slot
    less: its capacity was lost for the rest of the run. Now the slot starts again; a stop passed on
    to the slots (SIGTERM to `work`) restarts nothing."""
    store, parent = _two_slots_on_three_dry_jobs(tmp_path, steps=600)  # a minute a job: the third waits for a slot
    log = tmp_path / "killed.log"
    try:
        wait_for(lambda: len(_running_workers(store)) == 2, 120, "two running jobs")
        started = _running_workers(store)
        victim = sorted(started)[0]
        successor = _kill_a_slot_and_wait_for_its_successor(store, started, victim)
        assert "exited with code -9; restarting it (restart 1 of 3)" in log.read_text()
        assert _pid(successor) in _children(parent.pid)  # `work`'s own, running beside the slot that lived
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=120) == 130
    finally:
        if parent.poll() is None:
            parent.kill()
    said = log.read_text()
    assert said.count("restarting it") == 1 and "giving up" not in said and "while stopping" not in said
    assert _running_workers(store) <= {victim}  # the live slots released their jobs (the successor may hold the victim's)


def test_a_killed_slots_finished_jobs_still_count_in_its_row(tmp_path):
    """A slot sent its summary only when it ended, so a slot killed after finishing jobs lost them
    from `work`'s table and `--json` (5 done where 6 were)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = make_study(url, jobs=6)
    request = WorkRequest(db_url=url, study="s", devices=("cpu",), per_device=2,
                          settings=settings(tmp_path, heartbeat=0.5, grace=2.0), runner_options={"steps": 15, "step_seconds": 0.1},
                          log_dir=tmp_path / "logs")
    summaries: list = []
    backend = threading.Thread(target=lambda: summaries.extend(BACKENDS.get("local")().run(request, threading.Event())))
    backend.start()
    victims: list[str] = []

    def finished_one_and_runs_another() -> bool:
        with store.session() as session:
            finished = {_pid(worker) for worker in session.scalars(select(Job.worker).where(Job.state == "done"))}
        victims[:] = [worker for worker in _running_workers(store) if _pid(worker) in finished]
        return bool(victims)

    try:
        wait_for(finished_one_and_runs_another, 120, "a slot that finished a job and runs another")
        os.kill(_pid(victims[0]), signal.SIGKILL)
    finally:
        backend.join(timeout=300)
    assert not backend.is_alive()
    assert job_states(store) == {"done": 6}
    assert len(summaries) == 2 and sum(summary.done for summary in summaries) == 6


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_slot_that_keeps_dying_is_given_up_on_and_the_others_go_on(tmp_path, caplog):
    """Restarts are limited (here to one): a slot that dies at every start must not be restarted forever."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = make_study(url, jobs=4)
    request = WorkRequest(db_url=url, study="s", devices=("cpu",), per_device=2,
                          settings=settings(tmp_path, heartbeat=0.5, grace=60), runner_options={"steps": 600, "step_seconds": 0.1},
                          log_dir=tmp_path / "logs", options={"max_restarts": 1})
    stop = threading.Event()
    summaries: list = []
    with caplog.at_level(logging.INFO, logger="taskgroup"):
        backend = threading.Thread(target=lambda: summaries.extend(BACKENDS.get("local")().run(request, stop)))
        backend.start()
        try:
            wait_for(lambda: len(_running_workers(store)) == 2, 120, "two running jobs")
            started = _running_workers(store)
            survivor, victim = sorted(started)
            successor = _kill_a_slot_and_wait_for_its_successor(store, started, victim)
            assert "restarting it (restart 1 of 1)" in caplog.text
            os.kill(_pid(successor), signal.SIGKILL)
            wait_for(lambda: "giving up on this slot" in caplog.text, 60, "the slot to be given up on")
            assert "after 1 restart; giving up on this slot (the other slots go on)" in caplog.text
            assert _running_workers(store) >= {survivor}  # the other slot goes on with its job
        finally:
            stop.set()
            backend.join(timeout=120)
    assert not backend.is_alive()
    assert caplog.text.count("restarting it") == 1
    (summary,) = summaries  # the survivor's; the given-up slot's processes died without one
    assert summary.worker == survivor and summary.released == 1


def test_a_job_whose_study_is_deleted_while_it_runs_stops_and_leaves_no_checkpoint(tmp_path, caplog):
    """`study delete --force` beside a live worker: it said the job was "reclaimed by another worker",
    and its next checkpoint wrote the deleted study's folder again, which nothing would remove."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = make_study(url, jobs=1)
    worker = Worker(store, "s", "cpu", settings(tmp_path, runner="dry"),
                    build_runner("dry", {"steps": 200, "step_seconds": 0.05}))
    with caplog.at_level(logging.INFO, logger="taskgroup"):
        thread = threading.Thread(target=lambda: summaries.append(worker.run()))
        summaries: list = []
        thread.start()
        checkpoints = tmp_path / "checkpoints"
        wait_for(lambda: any(checkpoints.rglob("dry.json")), 60, "the job's first checkpoint")
        run_ok("study", "delete", "s", "--yes", "--force", "--db", url)
        thread.join(timeout=60)
    assert not thread.is_alive() and summaries[0].lost == 1
    assert "the job is gone from the database (its study was deleted with --force); stopping it" in caplog.text
    assert "reclaimed by another worker" not in caplog.text
    assert not any(checkpoints.rglob("*"))  # neither the job's folder nor the study's
