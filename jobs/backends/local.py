"""The local backend: one worker process per device slot on this machine.

A single slot runs in the calling process (no start-up cost, and signals reach it directly). More
slots run in processes started with `spawn` (safe with CUDA and threads); a stop request is passed
on to them as SIGTERM, and each checkpoints and releases its job before exiting. A slot whose parent
dies without passing it on (SIGKILL) stops the same way (`jobs.backends.local_slot`).

A slot process that dies (the OOM killer, `kill -9`) is started again while the study has open
jobs, at most `MAX_RESTARTS` times per slot, so one crash does not cost the rest of the run that
slot's device share. A slot that exits because the stop was passed on to it is not restarted.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess

from db.models import Study
from db.store import open_store
from jobs.backends.base import BACKENDS, Backend, WorkRequest
from jobs.backends.local_slot import run_slot, slot_process
from jobs.queue import open_jobs
from jobs.worker import WorkerSummary
from taskgroup.wording import counted

log = logging.getLogger("taskgroup.jobs")

MAX_RESTARTS = 3
"""Restarts of one slot's process in a run (`request.options["max_restarts"]` overrides it): enough
for a slot killed now and then, few enough that a slot dying at every start is given up on."""
POLL_SECONDS = 0.2
"""How often the backend looks for a stop request while it waits on its slots."""


@dataclass
class SlotProcess:
    """The process now running one slot, the pipe its summary comes back on, and its restarts so far."""

    slot: int
    process: BaseProcess
    pipe: Connection
    restarts: int = 0
    earlier: WorkerSummary | None = None
    """What the slot's earlier processes (before restarts) reported."""
    latest: WorkerSummary | None = None
    """What this process has reported so far (after each job, and when it ends)."""
    ended: bool = False
    """Its exit has been dealt with (reported, and restarted or not)."""

    def summary(self) -> WorkerSummary | None:
        """The slot's row: every process's jobs, under the name of the latest to report."""
        if self.earlier is None or self.latest is None:
            return self.latest or self.earlier
        return self.earlier.plus(self.latest, worker=self.latest.worker)


@BACKENDS.register("local")
class LocalBackend(Backend):
    """Worker processes on this machine, `per_device` on each device."""

    name = "local"

    def run(self, request: WorkRequest, stop: threading.Event) -> list[WorkerSummary]:
        if len(request.slots) == 1:
            return [run_slot(request, 0, stop)]
        return SlotSupervisor(request).run(stop)


class SlotSupervisor:
    """Starts one process per slot, collects their summaries, passes a stop on, restarts the ones that die."""

    def __init__(self, request: WorkRequest) -> None:
        self.request = request
        self.max_restarts = int(request.options.get("max_restarts", MAX_RESTARTS))
        self.context: SpawnContext = multiprocessing.get_context("spawn")
        self.slots: list[SlotProcess] = []

    def run(self, stop: threading.Event) -> list[WorkerSummary]:
        self.slots = [self._start(slot) for slot in range(len(self.request.slots))]
        forwarded = False
        while True:
            if stop.is_set() and not forwarded:
                for running in self.slots:
                    if running.process.is_alive():
                        running.process.terminate()  # SIGTERM: the worker checkpoints and releases its job
                forwarded = True
            for running in self.slots:
                self._collect(running)
                if running.process.exitcode is not None and not running.ended:
                    self._ended(running, stopping=stop.is_set())
            if all(running.ended for running in self.slots):  # each exit dealt with, none restarted
                break
            wait([r.process.sentinel for r in self.slots if not r.ended]
                 + [r.pipe for r in self.slots if not r.pipe.closed], timeout=POLL_SECONDS)
        for running in self.slots:
            running.process.join()
            self._collect(running)
            running.pipe.close()
        return [summary for running in self.slots if (summary := running.summary()) is not None]

    def _start(self, slot: int, restarts: int = 0, earlier: WorkerSummary | None = None) -> SlotProcess:
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(target=slot_process, args=(self.request, slot, writer),
                                       name=f"taskgroup-worker-{slot}")
        process.start()
        writer.close()  # the slot holds the only write end: its exit shows here as the end of the pipe
        return SlotProcess(slot, process, reader, restarts, earlier)

    def _collect(self, running: SlotProcess) -> None:
        """Take the slot's latest summary (sent after each job and when it ends; a killed slot's last
        one stands, and its pipe just ends)."""
        if running.pipe.closed:
            return
        try:
            while running.pipe.poll():
                running.latest = running.pipe.recv()
        except EOFError:
            running.pipe.close()

    def _ended(self, running: SlotProcess, stopping: bool) -> None:
        """Deal with a slot process that exited, once: a crash is logged when it happens (the other
        slots go on) and, while jobs are left and no stop was asked for, the slot is started again.
        After a stop, exiting by the SIGTERM passed on is no crash: it can land while a worker that
        also got the terminal's Ctrl-C exits, its job already released."""
        running.ended = True
        code = running.process.exitcode
        if code == 0 or (stopping and code == -signal.SIGTERM):
            return
        slot, device = running.slot, self.request.slots[running.slot]
        taken_over = (f"its job is taken over once it has had no heartbeat for {self.request.settings.grace:g} s "
                      "(its grace period)")
        if stopping:
            log.error("worker slot %d (%s) exited with code %s while stopping; %s", slot, device, code, taken_over)
        elif running.restarts >= self.max_restarts:
            others = "the other slots go on" if any(r.process.is_alive() for r in self.slots) else \
                "no worker slot is left running"
            log.error("worker slot %d (%s) exited with code %s after %s; giving up on this slot (%s); %s",
                      slot, device, code, counted(running.restarts, "restart"), others, taken_over)
        elif not self._jobs_left():
            log.error("worker slot %d (%s) exited with code %s; not restarted: the study has no queued or running "
                      "job left", slot, device, code)
        else:
            restarts = running.restarts + 1
            log.error("worker slot %d (%s) exited with code %s; restarting it (restart %d of %d); %s",
                      slot, device, code, restarts, self.max_restarts, taken_over)
            self._collect(running)
            running.pipe.close()
            self.slots[slot] = self._start(slot, restarts, running.summary())

    def _jobs_left(self) -> bool:
        """Whether the study still has queued or running jobs (a dead slot's own job is one: running,
        its heartbeat stopped, for a worker to take over)."""
        store = open_store(self.request.db_url)
        try:
            with store.session() as session:
                study = Study.find_by_name(session, self.request.study)
                study_id = study.id if study is not None else None
            return study_id is not None and open_jobs(store, study_id, self.request.settings.db_retry_deadline) > 0
        finally:
            store.dispose()
