"""What runs inside one worker slot of the local backend: the worker, its logging, and the watch
on the `work` process that started it.

A slot started as its own process sends its `WorkerSummary` back over a pipe of its own (no
`multiprocessing.Queue`: its locks are named semaphores, which a `work` killed with SIGKILL never
unlinks, so Python's resource tracker warned of "leaked semaphore objects" when the slots exited).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

from db.store import open_store
from jobs.backends.base import WorkRequest
from jobs.runners import build_runner
from jobs.transient import retry_transient
from jobs.worker import Worker, WorkerSummary, worker_name

log = logging.getLogger("taskgroup.jobs")


def run_slot(request: WorkRequest, slot: int, stop: threading.Event,
             after_each_job: Callable[[WorkerSummary], None] | None = None) -> WorkerSummary:
    """Run the worker of slot `slot` in this process until it is done or `stop` is set."""
    device = request.slots[slot]
    if device == "cpu":
        _share_cores(request)
    # A slot (re)started while the database is away waits for it, as a running worker does, instead
    # of dying at once and being given up on after its restarts.
    deadline = request.settings.db_retry_deadline
    store = retry_transient(lambda: open_store(request.db_url), deadline=deadline, what="opening the database")
    try:
        runner = build_runner(request.settings.runner, request.runner_options)
        worker = retry_transient(
            lambda: Worker(store, request.study, device, request.settings, runner, name=worker_name(f"{device}#{slot}")),
            deadline=deadline, what="finding the study",
        )
        return worker.run(stop, after_each_job=after_each_job)
    finally:
        store.dispose()


def _share_cores(request: WorkRequest) -> None:
    """Give each CPU slot its share of the cores: torch's default of one thread per core in every slot
    oversubscribes the machine, which made a small job ~9x slower with two slots on two cores
    (benchmarks/demo_threads.py, docs/benchmarks.md)."""
    import torch

    cpu_slots = sum(device == "cpu" for device in request.slots)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // cpu_slots))


def slot_process(request: WorkRequest, slot: int, summaries: Connection) -> None:
    """Entry point of a spawned slot: signals ask the worker to stop, logs go where asked, and the
    summary goes back on `summaries` (the write end of this slot's pipe)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    _configure_logging(request, slot)
    _stop_when_parent_dies(stop)
    try:
        summary = run_slot(request, slot, stop, after_each_job=lambda so_far: _send(summaries, so_far))
    except Exception:
        log.exception("worker slot %d (%s) stopped with an error", slot, request.slots[slot])
        sys.exit(1)
    _send(summaries, summary)
    summaries.close()


def _send(summaries: Connection, summary: WorkerSummary) -> None:
    """The slot's summary so far, to `work`: after each job, so a slot killed later has reported its jobs."""
    try:
        summaries.send(summary)
    except OSError:  # the `work` process is gone (SIGKILL): nobody is left to report to
        pass


def _stop_when_parent_dies(stop: threading.Event) -> None:
    """Stop (checkpointing and releasing the job) once the `work` process that started this slot is gone:
    killed with SIGKILL it cannot pass the stop on, and the slot would go on training unseen."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of its sentinel pipe closes: the parent exited
        if not stop.is_set():
            log.warning("the `taskgroup work` process that started this worker is gone; stopping")
            stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _configure_logging(request: WorkRequest, slot: int) -> None:
    handler: logging.Handler
    if request.log_dir is not None:
        request.log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(request.log_dir / f"worker-{slot}.log")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s [{request.slots[slot]}#{slot}] %(levelname)s %(message)s"))
    root = logging.getLogger("taskgroup")
    root.addHandler(handler)
    root.setLevel(request.log_level)
