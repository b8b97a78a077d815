"""The local backend: one worker process per device slot on this machine.

A single slot runs in the calling process (no start-up cost, and signals reach it directly). More
slots run in processes started with `spawn` (safe with CUDA and threads); a stop request is passed
on to them as SIGTERM, and each checkpoints and releases its job before exiting. A slot whose parent
dies without passing it on (SIGKILL) stops the same way.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from queue import Empty
from typing import Any

from db.store import open_store
from jobs.backends.base import BACKENDS, Backend, WorkRequest
from jobs.runners import build_runner
from jobs.worker import Worker, WorkerSummary, worker_name

log = logging.getLogger("taskgroup.jobs")


def run_slot(request: WorkRequest, slot: int, stop: threading.Event) -> WorkerSummary:
    """Run the worker of slot `slot` in this process until it is done or `stop` is set."""
    device = request.slots[slot]
    if device == "cpu":
        _share_cores(request)
    store = open_store(request.db_url)
    try:
        worker = Worker(
            store, request.study, device, request.settings,
            build_runner(request.settings.runner, request.runner_options), name=worker_name(f"{device}#{slot}"),
        )
        return worker.run(stop)
    finally:
        store.dispose()


def _share_cores(request: WorkRequest) -> None:
    """Give each CPU slot its share of the cores: torch's default of one thread per core in every slot
    oversubscribes the machine, which made a small job ~9x slower with two slots on two cores
    (benchmarks/demo_threads.py, docs/benchmarks.md)."""
    import torch

    cpu_slots = sum(device == "cpu" for device in request.slots)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // cpu_slots))


def _slot_process(request: WorkRequest, slot: int, results: Any) -> None:
    """Entry point of a spawned slot: signals ask the worker to stop, logs go where asked."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    _configure_logging(request, slot)
    _stop_when_parent_dies(stop)
    try:
        results.put((slot, run_slot(request, slot, stop)))
    except Exception:
        log.exception("worker slot %d (%s) stopped with an error", slot, request.slots[slot])
        sys.exit(1)


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


@BACKENDS.register("local")
class LocalBackend(Backend):
    """Worker processes on this machine, `per_device` on each device."""

    name = "local"

    def run(self, request: WorkRequest, stop: threading.Event) -> list[WorkerSummary]:
        if len(request.slots) == 1:
            return [run_slot(request, 0, stop)]
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        processes = [
            context.Process(target=_slot_process, args=(request, slot, results), name=f"taskgroup-worker-{slot}")
            for slot in range(len(request.slots))
        ]
        for process in processes:
            process.start()
        summaries: dict[int, WorkerSummary] = {}
        forwarded = False
        crashed: set[int] = set()
        while any(process.is_alive() for process in processes):
            _drain(results, summaries)
            if stop.is_set() and not forwarded:
                for process in processes:
                    if process.is_alive():
                        process.terminate()  # SIGTERM: the worker checkpoints and releases its job
                forwarded = True
            _report_crashes(request, processes, crashed, forwarded)
            time.sleep(0.2)
        for process in processes:
            process.join()
        _report_crashes(request, processes, crashed, forwarded)
        finished = sum(process.exitcode == 0 for process in processes)
        while len(summaries) < finished:
            slot, summary = results.get(timeout=10)
            summaries[slot] = summary
        return [summaries[slot] for slot in sorted(summaries)]


def _report_crashes(request: WorkRequest, processes: list[Any], reported: set[int], forwarded: bool) -> None:
    """Log each slot process that died, once and when it dies (the others go on: before, one line
    came only after the run's table). After a stop was passed on, exiting by that SIGTERM is no crash:
    it can land while a worker that also got the terminal's Ctrl-C exits, its job already released."""
    for slot, process in enumerate(processes):
        code = process.exitcode
        if slot in reported or code in (0, None) or (forwarded and code == -signal.SIGTERM):
            continue
        reported.add(slot)
        log.error("worker slot %d (%s) exited with code %s; the other slots go on, and its job is taken over once "
                  "its grace period has passed without a heartbeat", slot, request.slots[slot], code)


def _drain(results: Any, summaries: dict[int, WorkerSummary]) -> None:
    while True:
        try:
            slot, summary = results.get_nowait()
        except Empty:
            return
        summaries[slot] = summary
