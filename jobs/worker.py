"""One worker: claims jobs of a study one at a time, keeps each alive with a heartbeat, runs it, and
records its results, until nothing is left to do or it is asked to stop.

A stop request (Ctrl-C, SIGTERM) is honoured between training steps: the runner checkpoints, the
job goes back to `queued` (the interrupted attempt not counted), and the worker exits. Database
errors that a retry can cure are retried (see `jobs.transient`), so a restarting PostgreSQL
server or a busy SQLite file only delays a worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TypeVar

from db.errors import StorageError
from db.models import Study
from db.store import Store
from jobs.claim import Claim, JobInterrupted, JobOutput
from jobs.queue import JobQueue
from jobs.runners import JobRunner
from jobs.settings import WorkerSettings
from jobs.training_options import divergence_advice
from jobs.transient import is_transient, retry_transient
from taskgroup.errors import DivergenceError, TaskgroupError

T = TypeVar("T")
log = logging.getLogger("taskgroup.jobs")
OUTCOME_LOGGER = "taskgroup.jobs.outcome"
"""Where a worker logs how each job ended: a Ray task leaves these lines to its driver (see `JobOutcome`)."""
outcome_log = logging.getLogger(OUTCOME_LOGGER)


def worker_name(slot: str = "") -> str:
    """A name no other worker, here or on another machine, will ever have: host, pid, slot, nonce."""
    suffix = f":{slot}" if slot else ""
    return f"{socket.gethostname()}:{os.getpid()}{suffix}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerSummary:
    """What one worker did, for the CLI and the tests. `failed` counts every job this worker marked
    failed; `failed_stale` those of them it did not run: a gone worker's job out of attempts, which
    the worker that finds it gives up on (without it, `failed 0` hid a job this run failed)."""

    worker: str
    done: int = 0
    failed: int = 0
    failed_stale: int = 0
    requeued: int = 0
    released: int = 0
    lost: int = 0

    def plus(self, other: WorkerSummary, worker: str | None = None) -> WorkerSummary:
        """Both summaries' counts added up, under `worker` (default: this one's name): one row for what
        several processes did in turn (a restarted slot's, a reused Ray worker's)."""
        counts = {field.name: getattr(self, field.name) + getattr(other, field.name)
                  for field in fields(WorkerSummary) if field.name != "worker"}
        return WorkerSummary(worker or self.worker, **counts)


class Reachability:
    """Since when a worker has reached the database with no lost connection in between.

    After an outage every heartbeat is old, live jobs' too, and a worker that did not see the outage
    (it started after it, or it is a new Ray task) cannot tell from the heartbeats. So a worker takes
    over a stale job only once it has itself reached the database for that job's grace period, in
    which a live holder beats again (`jobs.queue.takeover_due`). The moment counts from the first
    call that succeeded after the last one that failed (not from that failure: a retry backoff of
    seconds may lie between), and from the worker's start. Shared by the worker's claiming thread
    and its heartbeat thread, hence the lock; times are `time.monotonic()`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = time.monotonic()

    def lost(self) -> None:
        """A call failed for a lost connection or a lock timeout: unreachable until one succeeds."""
        with self._lock:
            self._since = None

    def reached(self) -> None:
        """A call succeeded: reachable from now on, if it was not already."""
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()

    def seconds(self) -> float:
        """How long the database has been reachable without a break (0 while it is not)."""
        with self._lock:
            return 0.0 if self._since is None else time.monotonic() - self._since


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended under a worker (done, failed, queued again, released). A worker logs it and
    keeps it, so that a Ray driver can report it too: a Ray task's own log lines reach the driver's
    terminal late, and not at all once the driver shuts Ray down."""

    level: int
    label: str
    what: str
    detail: str = ""

    def line(self, worker: str | None = None) -> str:
        """`job 7 a+b@full (full): done`, with ` on WORKER` after `done` when given."""
        where = f" on {worker}" if worker else ""
        return f"{self.label}: {self.what}{where}" + (f": {self.detail}" if self.detail else "")


class Heartbeat:
    """A thread that refreshes the job's heartbeat (and progress) every `interval` seconds and sets
    `lost` once the job is no longer this worker's, so training stops instead of wasting the GPU.
    Whether each beat reached the database goes to `reachability`."""

    def __init__(self, queue: JobQueue, claim: Claim, interval: float, reachability: Reachability) -> None:
        self.queue, self.claim, self.interval, self.reachability = queue, claim, interval, reachability
        self.lost = threading.Event()
        self.deleted = False
        """Set with `lost` when the job's row is gone (its study deleted with --force), not reclaimed."""
        self.progress: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{claim.job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self.interval):
            try:
                owned = self.queue.heartbeat(self.claim, self.progress)
            except Exception as error:  # a missed beat is harmless; the grace period covers several
                if is_transient(error):
                    self.reachability.lost()
                else:
                    log.warning("%s: heartbeat failed: %s", self.claim.label, error)
                continue
            self.reachability.reached()
            if not owned:
                self.deleted = not self.queue.job_exists(self.claim)
                if self.deleted:
                    log.warning("%s: the job is gone from the database (its study was deleted with --force); "
                                "stopping it", self.claim.label)
                else:
                    log.warning("%s: the job was reclaimed by another worker; abandoning it", self.claim.label)
                self.lost.set()
                return


class Worker:
    """Runs jobs of one study on one device until the study has no open jobs or `stop` is set."""

    def __init__(
        self,
        store: Store,
        study: str,
        device: str,
        settings: WorkerSettings,
        runner: JobRunner,
        *,
        name: str | None = None,
    ) -> None:
        self.store, self.study, self.device, self.settings, self.runner = store, study, device, settings, runner
        self.name = name or worker_name(device)
        with store.session() as session:
            self.study_id = Study.find_or_raise_by_name(session, study).id
        self.queue = JobQueue(store, self.study_id, settings)
        self.reachability = Reachability()
        """Since when this worker has reached the database: it takes over stale jobs only after their
        grace period of it (a live holder beats again in that time after an outage)."""
        self.outcomes: list[JobOutcome] = []
        """How each job this worker ran or gave up on ended, in order."""

    def _retry(self, action: Callable[[], T], what: str) -> T:
        def noting_outages() -> T:
            try:
                result = action()
            except StorageError as error:
                if is_transient(error):
                    self.reachability.lost()
                raise
            self.reachability.reached()
            return result

        return retry_transient(noting_outages, deadline=self.settings.db_retry_deadline, what=what)

    def run(self, stop: threading.Event | None = None, max_jobs: int | None = None,
            after_each_job: Callable[[WorkerSummary], None] | None = None) -> WorkerSummary:
        """Claim and run jobs until none is queued or running, `max_jobs` have run, or `stop` is set.

        (`max_jobs=1` is how the Ray backend runs each job as its own Ray task.) `after_each_job`
        gets the summary so far: a slot process that is killed later has already reported it.
        """
        stop = stop or threading.Event()
        summary = WorkerSummary(self.name)
        ran, waiting = 0, False
        while not stop.is_set() and (max_jobs is None or ran < max_jobs):
            self._give_up_stale(summary)
            claim = self._retry(lambda: self.queue.claim(self.name, self.device,
                                                         reachable_for=self.reachability.seconds()), "claiming a job")
            if claim is None:
                if not self._retry(self.queue.has_open_jobs, "reading the queue"):
                    break
                if not waiting:  # said once: a worker silent for as long as others' jobs run looks hung
                    log.info("nothing queued: waiting for the running jobs of other workers, to take over any whose "
                             "worker stops sending heartbeats for its grace period (counted from this worker's "
                             "start or reconnection, so that live workers beat first after an outage; "
                             "Ctrl-C to leave)")
                    waiting = True
                stop.wait(self.settings.poll)  # others' jobs are running: one may go stale
                continue
            waiting = False
            self._execute(claim, stop, summary)
            ran += 1
            if after_each_job is not None:
                after_each_job(summary)
        return summary

    def _give_up_stale(self, summary: WorkerSummary) -> None:
        """Fail the stale jobs out of attempts, judged as claims judge them (after an outage every
        heartbeat is old), counted and logged as this worker's doing."""
        gave_up = self._retry(lambda: self.queue.give_up_stale(self.reachability.seconds()),
                              "failing stale jobs out of attempts")
        for label, error in gave_up:
            self._outcome(logging.ERROR, label, "failed", error)
        summary.failed += len(gave_up)
        summary.failed_stale += len(gave_up)

    def _execute(self, claim: Claim, stop: threading.Event, summary: WorkerSummary) -> None:
        resumed = claim.checkpoint_dir.is_dir() and any(claim.checkpoint_dir.iterdir())
        log.info(
            "%s: started on %s (attempt %d%s%s)", claim.label, self.device, claim.attempt,
            f", reclaimed from {claim.reclaimed_from}" if claim.reclaimed_from else "",
            ", resuming from checkpoint" if resumed else "",
        )
        with Heartbeat(self.queue, claim, self.settings.heartbeat, self.reachability) as beat:

            def progress(done: int, total: int) -> None:
                beat.progress = done / total if total else None

            def should_stop() -> bool:
                return stop.is_set() or beat.lost.is_set()

            try:
                output = self.runner.run(claim, should_stop, progress)
            except JobInterrupted:
                output = None
            except DivergenceError as error:  # the same settings diverge again: the study's must change
                # no `taskgroup retry` here: `status`, and `run`/`work` when they end in this error, say it after
                self._fail(claim, f"{error} ({divergence_advice(self.study)})", permanent=True, summary=summary)
                return
            except TaskgroupError as error:  # bad data or settings: another attempt fails alike
                self._fail(claim, str(error), permanent=True, summary=summary)
                return
            except Exception as error:
                log.error("%s: attempt %d raised", claim.label, claim.attempt, exc_info=error)  # the traceback, in the log
                self._fail(claim, _describe(error), permanent=False, summary=summary)
                return
        if output is None:
            self._interrupted(claim, beat.lost.is_set(), beat.deleted, summary)
        else:
            self._finish(claim, output, summary)

    def _finish(self, claim: Claim, output: JobOutput, summary: WorkerSummary) -> None:
        if self._retry(lambda: self.queue.finish(claim, output), f"recording {claim.label}"):
            summary.done += 1
            self._outcome(logging.INFO, claim.label, "done")
        else:
            summary.lost += 1
            self._outcome(logging.WARNING, claim.label, "finished",
                          "another worker had reclaimed it, so its results were not written")

    def _interrupted(self, claim: Claim, lost: bool, deleted: bool, summary: WorkerSummary) -> None:
        if lost:
            summary.lost += 1
            if deleted:
                _remove_checkpoint(claim)
            return
        if self._retry(lambda: self.queue.release(claim), f"releasing {claim.label}"):
            summary.released += 1
            self._outcome(logging.INFO, claim.label, "stopped and checkpointed", "back in the queue")

    def _fail(self, claim: Claim, message: str, *, permanent: bool, summary: WorkerSummary) -> None:
        state = self._retry(
            lambda: self.queue.record_failure(claim, message, permanent=permanent), f"recording the failure of {claim.label}"
        )
        if state == "failed":
            summary.failed += 1
            self._outcome(logging.ERROR, claim.label, "failed", message)
        elif state == "queued":
            summary.requeued += 1
            self._outcome(logging.WARNING, claim.label, f"attempt {claim.attempt} failed", f"{message}; queued again")

    def _outcome(self, level: int, label: str, what: str, detail: str = "") -> None:
        """Log how a job ended and keep it for `outcomes`."""
        outcome = JobOutcome(level, label, what, detail)
        self.outcomes.append(outcome)
        outcome_log.log(level, "%s", outcome.line())


def _remove_checkpoint(claim: Claim) -> None:
    """Delete the checkpoint of a job whose study was deleted while it ran (`study delete --force`
    removed the folder before this worker's last save wrote it again), and its study's folder if
    that is now empty: nothing would ever remove them."""
    shutil.rmtree(claim.checkpoint_dir, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty: another job's, or another study's shared folder
        claim.checkpoint_dir.parent.rmdir()
    log.info("%s: removed its checkpoint %s", claim.label, claim.checkpoint_dir)


def _describe(error: Exception) -> str:
    """One line for the job's stored error (and the CLI's `error:` line): the traceback is in the log."""
    last = "".join(traceback.format_exception_only(error)).strip().splitlines()[-1]
    return f"{last} (traceback in the worker log)"
