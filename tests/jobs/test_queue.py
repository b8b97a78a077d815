"""The job queue on SQLite and PostgreSQL: claims, heartbeats, reclaiming, ownership, attempts."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select, update

from db.models import Job, Study
from jobs.claim import JobOutput
from jobs.clock import database_seconds_ago
from jobs.manage import cancel_queued, live_jobs
from jobs.queue import JobQueue
from jobs.runners import build_runner
from jobs.status import study_status
from jobs.worker import Heartbeat, Reachability, Worker
from tests.jobs.helpers import expected_keys, job_states, make_study, result_keys, settings, wait_for


def queue_of(store, tmp_path, **changes):
    with store.session() as session:
        study_id = Study.find_or_raise_by_name(session, "s").id
    return JobQueue(store, study_id, settings(tmp_path, **changes))


def output_for(claim):
    return JobOutput(val_losses={t: 1.0 for t in claim.tasks}, test_losses={t: 2.0 for t in claim.tasks}, epochs=1)


def test_each_job_is_claimed_by_one_worker_only(db_url, tmp_path):
    store = make_study(db_url, jobs=5)
    queue = queue_of(store, tmp_path)
    claims = [queue.claim(f"w{i}", "cpu") for i in range(7)]
    taken = [claim.job_id for claim in claims if claim is not None]
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 5
    assert claims[5] is None and claims[6] is None
    assert job_states(store) == {"running": 5}


def test_a_job_whose_heartbeat_stops_is_reclaimed_and_its_old_worker_cannot_write(db_url, tmp_path):
    store = make_study(db_url, jobs=1)
    queue = queue_of(store, tmp_path, grace=1.0, heartbeat=0.2)
    first = queue.claim("old", "cpu")
    assert queue.claim("new", "cpu") is None  # fresh heartbeat: not stale yet
    time.sleep(1.3)
    second = queue.claim("new", "cpu")
    assert second is not None and second.job_id == first.job_id and second.attempt == 2
    assert second.reclaimed_from == "old"
    assert second.checkpoint_dir == first.checkpoint_dir  # the new worker resumes the old one's checkpoint
    assert queue.heartbeat(first, 0.5) is False
    assert queue.finish(first, output_for(first)) is False
    assert result_keys(store) == []
    assert queue.finish(second, output_for(second)) is True
    assert sorted(result_keys(store)) == sorted(expected_keys(store))
    assert job_states(store) == {"done": 1}


def test_heartbeats_keep_a_job_from_being_reclaimed(db_url, tmp_path):
    store = make_study(db_url, jobs=1)
    queue = queue_of(store, tmp_path, grace=1.0, heartbeat=0.2)
    claim = queue.claim("w", "cpu")
    for _ in range(8):
        time.sleep(0.2)
        assert queue.heartbeat(claim, 0.1)
    assert queue.claim("other", "cpu") is None


def last_heard_of(store, job_id: int, seconds_ago: float) -> None:
    with store.session() as session:
        when = database_seconds_ago(session.get_bind().dialect, seconds_ago)
        session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=when))


def running_and_live(store) -> tuple[list[tuple[float, bool]], int]:
    """What `status` says of each running job (its grace period, worker gone?), and how many jobs
    count as held by a live worker (what configure and study delete check)."""
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, "s")
        return [(job.grace, job.worker_gone) for job in study_status(session, study).running], live_jobs(session, study)


def test_a_job_is_judged_by_the_grace_period_of_the_worker_holding_it(db_url, tmp_path):
    """A worker started with --heartbeat 100 --grace 600, last heard of 5 minutes ago: live for status,
    cancel, configure and a worker started with the default 60 s; 11 minutes ago: gone, and taken over."""
    store = make_study(db_url, jobs=2)
    patient = queue_of(store, tmp_path, heartbeat=100.0, grace=600.0).claim("patient", "cpu")
    hasty = queue_of(store, tmp_path, grace=60.0)
    last_heard_of(store, patient.job_id, seconds_ago=300)
    assert running_and_live(store) == ([(600.0, False)], 1)
    with store.session() as session:
        assert cancel_queued(session, Study.find_or_raise_by_name(session, "s")) == (1, 0)  # the queued one only
    assert hasty.claim("hasty", "cpu") is None

    last_heard_of(store, patient.job_id, seconds_ago=660)
    assert running_and_live(store) == ([(600.0, True)], 0)
    taken = hasty.claim("hasty", "cpu")
    assert taken is not None and taken.job_id == patient.job_id and taken.reclaimed_from == "patient"
    last_heard_of(store, patient.job_id, seconds_ago=300)
    assert running_and_live(store) == ([(60.0, True)], 0), "now held by a worker with a 60 s grace period"


def test_a_job_claimed_before_workers_stored_their_grace_period_is_judged_by_the_default(db_url, tmp_path):
    store = make_study(db_url, jobs=1)
    claim = queue_of(store, tmp_path, grace=600.0).claim("old", "cpu")
    with store.session() as session:
        session.execute(update(Job).where(Job.id == claim.job_id).values(grace=None))
    last_heard_of(store, claim.job_id, seconds_ago=30)
    assert running_and_live(store) == ([(60.0, False)], 1)
    last_heard_of(store, claim.job_id, seconds_ago=90)
    assert running_and_live(store) == ([(60.0, True)], 0)
    assert queue_of(store, tmp_path, grace=600.0).claim("new", "cpu").reclaimed_from == "old"


def test_after_an_outage_a_stale_job_is_taken_over_only_by_a_worker_that_reached_the_database_for_its_grace(
        db_url, tmp_path):
    """When the database comes back every heartbeat is old, live jobs' too; a worker started just then
    took over live workers' jobs at once. Each job is now taken only by a worker that has reached the
    database for that job's own grace period (in which a live holder beats), whatever its own grace."""
    store = make_study(db_url, jobs=3)
    quick = queue_of(store, tmp_path, heartbeat=0.5, grace=2.0).claim("quick", "cpu")
    patient = queue_of(store, tmp_path, heartbeat=5.0, grace=10.0).claim("patient", "cpu")
    for claim in (quick, patient):
        last_heard_of(store, claim.job_id, seconds_ago=120)  # as an outage leaves them
    newcomer = queue_of(store, tmp_path, grace=60.0)
    assert newcomer.claim("new", "cpu", reachable_for=1.0).reclaimed_from is None  # the queued job: at once
    assert newcomer.claim("new", "cpu", reachable_for=1.9) is None
    assert newcomer.claim("new", "cpu", reachable_for=2.0).reclaimed_from == "quick"
    assert newcomer.claim("new", "cpu", reachable_for=9.9) is None
    assert newcomer.claim("new", "cpu", reachable_for=10.0).reclaimed_from == "patient"


def test_after_an_outage_a_live_job_on_its_last_attempt_is_not_failed_by_a_worker_that_just_reached_the_database(
        db_url, tmp_path):
    store = make_study(db_url, jobs=1)
    queue = queue_of(store, tmp_path, heartbeat=0.5, grace=2.0, max_attempts=1)
    claim = queue.claim("holder", "cpu")
    last_heard_of(store, claim.job_id, seconds_ago=120)
    assert queue.give_up_stale(reachable_for=1.9) == []
    assert queue.heartbeat(claim, 0.5), "the holder was alive and beats again"
    last_heard_of(store, claim.job_id, seconds_ago=120)  # then it dies
    assert queue.give_up_stale(reachable_for=2.0) == [
        ("job 1 a@full (full)", "worker holder stopped sending heartbeats during attempt 1 of 1; giving up")]


def test_a_worker_started_after_an_outage_leaves_a_live_workers_job_to_it_and_takes_it_once_it_dies(
        db_url, tmp_path, caplog):
    """The live worker's next heartbeat found its job reclaimed by a worker started as the database came
    back, and it abandoned the job: the compute spent on it was lost."""
    store = make_study(db_url, jobs=1)
    holder_queue = queue_of(store, tmp_path, heartbeat=0.5, grace=3.0)
    holder = holder_queue.claim("holder", "cpu")
    last_heard_of(store, holder.job_id, seconds_ago=120)  # as an outage leaves it
    newcomer = Worker(store, "s", "cpu", settings(tmp_path), build_runner("dry", {"steps": 1}))
    summaries = []
    thread = threading.Thread(target=lambda: summaries.append(newcomer.run()))
    with caplog.at_level(logging.INFO, logger="taskgroup"):
        with Heartbeat(holder_queue, holder, 0.5, Reachability()) as beat:
            thread.start()
            wait_for(lambda: "nothing queued: waiting" in caplog.text or beat.lost.is_set(), 60,
                     "the new worker to look at the queue")
            wait_for(lambda: newcomer.reachability.seconds() > 2 * 3.0 or beat.lost.is_set(), 60,
                     "the new worker to have reached the database for two of the job's grace periods")
            assert not beat.lost.is_set(), "the live holder's job was taken over"
        # the holder dies: its heartbeats stop, and the new worker takes the job over
        thread.join(timeout=60)
    assert not thread.is_alive()
    (summary,) = summaries
    assert (summary.done, summary.lost) == (1, 0)
    with store.session() as session:
        job = session.scalars(select(Job)).one()
    assert (job.state, job.worker, job.attempts) == ("done", newcomer.name, 2)
    assert "reclaimed from holder" in caplog.text


def test_a_worker_started_after_an_outage_takes_over_a_dead_workers_job_after_that_jobs_grace_period(
        db_url, tmp_path, caplog):
    """Judged by the dead worker's grace period (2 s), not the new worker's own (60 s)."""
    store = make_study(db_url, jobs=1)
    dead = queue_of(store, tmp_path, heartbeat=0.5, grace=2.0).claim("dead", "cpu")
    last_heard_of(store, dead.job_id, seconds_ago=120)  # it died during the outage
    stop = threading.Event()
    timer = threading.Timer(120.0, stop.set)  # only against a hang
    timer.start()
    try:
        with caplog.at_level(logging.INFO, logger="taskgroup"):
            worker = Worker(store, "s", "cpu", settings(tmp_path, grace=60.0), build_runner("dry", {"steps": 1}))
            summary = worker.run(stop)
    finally:
        timer.cancel()
    assert not stop.is_set(), "the dead worker's job was not taken over"
    assert (summary.done, summary.lost) == (1, 0)
    waited, took = caplog.text.find("nothing queued: waiting"), caplog.text.find("reclaimed from dead")
    assert 0 <= waited < took, "taken over at once, before the database had been reachable for the job's grace period"


def test_a_job_is_failed_after_its_last_attempt_goes_stale(db_url, tmp_path):
    store = make_study(db_url, jobs=1)
    queue = queue_of(store, tmp_path, grace=0.5, heartbeat=0.2, max_attempts=2)
    assert queue.claim("w1", "cpu").attempt == 1
    time.sleep(0.7)
    assert queue.claim("w2", "cpu").attempt == 2
    time.sleep(0.7)
    assert queue.claim("w3", "cpu") is None  # out of attempts: not taken, but given up on
    assert queue.give_up_stale() == [("job 1 a@full (full)", "worker w2 stopped sending heartbeats during attempt 2 "
                                      "of 2; giving up")]
    with store.session() as session:
        job = session.scalars(select(Job)).one()
    assert job.state == "failed" and "w2 stopped sending heartbeats during attempt 2 of 2" in job.error
    assert queue.give_up_stale() == []


def test_a_worker_counts_the_gone_workers_job_it_gives_up_on_as_failed(db_url, tmp_path, caplog):
    """A dead worker's job on its last attempt was marked failed by the next worker, whose summary
    said `failed 0`: it counts it now, as failed and as stale, and logs why."""
    store = make_study(db_url, jobs=2)
    dead = queue_of(store, tmp_path, max_attempts=3).claim("dead", "cpu")
    with store.session() as session:
        session.execute(update(Job).where(Job.id == dead.job_id).values(attempts=3))
    last_heard_of(store, dead.job_id, seconds_ago=120)
    summary = Worker(store, "s", "cpu", settings(tmp_path, max_attempts=3), build_runner("dry", {"steps": 1})).run()
    assert (summary.done, summary.failed, summary.failed_stale, summary.requeued, summary.lost) == (1, 1, 1, 0, 0)
    assert job_states(store) == {"done": 1, "failed": 1}
    assert "worker dead stopped sending heartbeats during attempt 3 of 3; giving up" in caplog.text


def test_a_failed_attempt_is_retried_until_attempts_run_out(db_url, tmp_path):
    store = make_study(db_url, jobs=1)
    queue = queue_of(store, tmp_path, max_attempts=2)
    claim = queue.claim("w", "cpu")
    assert queue.record_failure(claim, "out of memory", permanent=False) == "queued"
    claim = queue.claim("w", "cpu")
    assert queue.record_failure(claim, "out of memory again", permanent=False) == "failed"
    with store.session() as session:
        job = session.scalars(select(Job)).one()
    assert (job.state, job.attempts, job.error) == ("failed", 2, "out of memory again")


def test_released_job_goes_back_to_the_queue_without_using_an_attempt(db_url, tmp_path):
    store = make_study(db_url, jobs=1)
    queue = queue_of(store, tmp_path)
    claim = queue.claim("w", "cpu")
    assert queue.release(claim)
    again = queue.claim("w2", "cpu")
    assert again.attempt == 1 and again.job_id == claim.job_id


def test_finishing_twice_writes_results_once(db_url, tmp_path):
    store = make_study(db_url, jobs=1)
    queue = queue_of(store, tmp_path)
    claim = queue.claim("w", "cpu")
    assert queue.finish(claim, output_for(claim))
    assert queue.finish(claim, output_for(claim))  # a retried finish whose first commit went through
    assert len(result_keys(store)) == len(set(result_keys(store))) == 2


def test_worker_runs_every_job_and_stops_when_the_queue_is_empty(db_url, tmp_path):
    store = make_study(db_url, jobs=12)
    worker = Worker(store, "s", "cpu", settings(tmp_path), build_runner("dry", {"steps": 2}))
    summary = worker.run()
    assert summary.done == 12 and summary.failed == summary.lost == 0
    assert sorted(result_keys(store)) == sorted(expected_keys(store))


def test_a_stop_request_checkpoints_and_releases_the_job(db_url, tmp_path):
    import threading

    store = make_study(db_url, jobs=1)
    stop = threading.Event()
    runner = build_runner("dry", {"steps": 50, "step_seconds": 0.02})
    worker = Worker(store, "s", "cpu", settings(tmp_path), runner)
    threading.Timer(0.4, stop.set).start()
    summary = worker.run(stop)
    assert summary.released == 1 and summary.done == 0
    assert job_states(store) == {"queued": 1}
    with store.session() as session:
        assert session.scalars(select(Job.attempts)).one() == 0
    resumed = Worker(store, "s", "cpu", settings(tmp_path), runner).run()
    assert resumed.done == 1
    assert sorted(result_keys(store)) == sorted(expected_keys(store))


def test_imported_results_are_neither_overwritten_by_a_job_nor_trained_again(db_url, tmp_path):
    """A worker finishing a network whose results were imported meanwhile used to replace them silently,
    and then to fill in what the import lacked, mixing two runs' losses in one network."""
    from db.results import results_frame, store_results

    store = make_study(db_url, jobs=3)  # a, b, c: one full-stage job each
    queue = queue_of(store, tmp_path)
    running = queue.claim("w", "cpu")
    rows = [{"tasks": tasks, "size": "full", "cost": 1.0, "stage": "full", "split": split, "task": tasks, "loss": 0.125}
            for tasks, split in (("a", "val"), ("b", "val"), ("b", "test"))]  # a's validation loss only
    with store.session() as session:
        summary = store_results(session, Study.find_or_raise_by_name(session, "s"), rows, replace=False)
    assert running.tasks == ("a",)
    assert (summary.queued_jobs_removed, summary.running_jobs) == (1, 1)  # b's job would only replace them
    assert job_states(store) == {"running": 1, "queued": 1}
    assert queue.finish(running, output_for(running)) is True
    with store.session() as session:
        stored = results_frame(session, Study.find_or_raise_by_name(session, "s"))
    a = stored[stored["tasks"] == "a"]
    assert list(zip(a["split"], a["loss"])) == [("val", 0.125)]  # neither the job's val loss nor its test loss
    assert len(stored) == 3 and job_states(store) == {"done": 1, "queued": 1}


def test_an_import_that_fills_a_failed_network_removes_its_job(db_url, tmp_path):
    """`retry` would otherwise train it again only for the worker to keep the imported losses."""
    from db.results import store_results

    store = make_study(db_url, jobs=2)  # a, b
    queue = queue_of(store, tmp_path)
    failing = queue.claim("w", "cpu")
    queue.record_failure(failing, "diverged", permanent=True)
    rows = [{"tasks": "a", "size": "full", "cost": 1.0, "stage": "full", "split": split, "task": "a", "loss": 0.5}
            for split in ("val", "test")]
    with store.session() as session:
        summary = store_results(session, Study.find_or_raise_by_name(session, "s"), rows, replace=False)
    assert (summary.failed_jobs_removed, summary.queued_jobs_removed) == (1, 0)
    assert job_states(store) == {"queued": 1}


def test_a_worker_with_nothing_to_claim_says_once_that_it_waits_for_others_jobs(tmp_path, caplog):
    """It sat silent for as long as another worker's job ran (hours, with real training), and looked hung."""
    store = make_study(f"sqlite:///{tmp_path / 'db.sqlite'}", tasks=["a"], jobs=1)
    with store.session() as session:
        study_id = session.scalars(select(Study.id)).one()
    JobQueue(store, study_id, settings(tmp_path, grace=60.0)).claim("elsewhere:1", "cpu")  # alive: just claimed
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    with caplog.at_level(logging.INFO, logger="taskgroup"):
        summary = Worker(store, "s", "cpu", settings(tmp_path, grace=60.0), build_runner("dry")).run(stop)
    assert summary.done == 0
    assert caplog.text.count("nothing queued: waiting for the running jobs of other workers") == 1  # not every poll
