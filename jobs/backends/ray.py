"""The Ray backend: every job runs as its own Ray task on a cluster, with the GPU (or CPU) it needs.

For users with more GPUs than one machine holds. A task opens the study's database by URL and runs
a `jobs.worker.Worker` for one job (`max_jobs=1`): the same claim, heartbeat, train and commit code
as a local worker, so results reach the driver only through the shared database (PostgreSQL in
practice) and checkpoints through a shared folder. The driver keeps one task in flight per open
job; Ray places them on whatever node has a free GPU.

A task lost with its node or worker process leaves its job `running` with a heartbeat that stops.
The driver submits a replacement task, which reclaims the job once its heartbeat is older than the
grace period (by the database clock) and resumes it from its last checkpoint, like any stale job.

Ray is imported only here and only when this backend runs, so taskgroup works without it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from db.errors import StorageError
from db.models import Study
from db.store import Store, open_store
from jobs.backends.base import BACKENDS, Backend, WorkRequest
from jobs.queue import open_jobs
from jobs.runners import build_runner
from jobs.worker import OUTCOME_LOGGER, JobOutcome, Worker, WorkerSummary, worker_name
from taskgroup.errors import InvalidInputError, TaskgroupError

log = logging.getLogger("taskgroup.jobs")

DEVICE_KINDS = ("cpu", "cuda")
STOP_POLL_SECONDS = 2.0
"""How often a task asks the driver whether to stop (a stop takes effect within this, plus a step)."""
MIN_LOST_IN_A_ROW = 20
"""Tasks lost one after another, with none finishing, before the driver gives up on the cluster."""
WORKER_DIED = "A worker died or was killed while executing a task by an unexpected system error"
"""How Ray's message to the driver about a killed worker process begins (see `skip_worker_died_message`)."""


def import_ray() -> ModuleType:
    """Ray, or one clear error saying how to install it."""
    if "ray" not in sys.modules:
        skip_worker_died_message()
    try:
        import ray
    except ImportError:
        raise InvalidInputError(
            "the ray backend needs Ray, which is not installed; run: pip install 'taskgroup[ray]'"
        ) from None
    return ray


def skip_worker_died_message() -> None:
    """Have the driver leave out Ray's message about a worker process that died mid-task, which
    Ray prints to stdout (breaking `--json`, drawing over the live display): the driver logs its own
    one-line warning for the lost task instead. Ray has no setting for that message but its
    documented `RAY_DEDUP_LOGS_SKIP_REGEX`, read when `ray` is first imported; a pattern the user set
    there is kept."""
    ours = re.escape(WORKER_DIED)
    theirs = os.environ.get("RAY_DEDUP_LOGS_SKIP_REGEX")
    os.environ["RAY_DEDUP_LOGS_SKIP_REGEX"] = f"{ours}|{theirs}" if theirs else ours


def parse_cluster_devices(text: str | None) -> tuple[str, ...]:
    """`cpu` or `cuda` (one kind: Ray puts each job on any free device of the cluster); none or
    `auto` means GPUs if the cluster has any, decided once connected."""
    if text is None or text.strip() in ("", "auto"):
        return ("auto",)
    kinds = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    for kind in kinds:
        if kind.startswith("cuda:"):
            raise InvalidInputError(
                f"--devices {text!r}: on a Ray cluster each job gets whichever GPU is free; write --devices cuda "
                "(and --per-device N to share each GPU between N jobs)"
            )
        if kind not in DEVICE_KINDS:
            raise InvalidInputError(f"--devices {text!r}: the ray backend runs jobs on cpu or cuda, not {kind!r}")
    if len(kinds) != 1:
        raise InvalidInputError(f"--devices {text!r}: the ray backend runs every job on one kind of device; "
                                "give cpu or cuda")
    return kinds


def task_resources(kind: str, per_device: int) -> dict[str, float]:
    """What one job asks Ray for: a 1/`per_device` share of a GPU and one CPU, or one CPU."""
    if kind == "cuda":
        return {"num_gpus": 1 / per_device, "num_cpus": 1}
    return {"num_cpus": 1}


class StopFlag:
    """A tiny Ray actor the driver sets on Ctrl-C; tasks poll it and stop gracefully."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


class StopWatcher:
    """A thread in a task that sets `stop` once the driver's flag is set, or the driver is gone
    (its actor died): the worker then checkpoints and releases its job instead of losing it.

    Only this thread calls `ray.get`: Ray lends a task's CPU to another task while the task's main
    thread is blocked in `ray.get`, so a main-thread check would let one more job run than the
    cluster has CPUs for."""

    def __init__(self, flag: Any, stop: threading.Event, interval: float = STOP_POLL_SECONDS) -> None:
        self.flag, self.stop, self.interval = flag, stop, interval
        self._done = threading.Event()
        self._checked_once = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ray-stop-watcher", daemon=True)

    def __enter__(self) -> StopWatcher:
        self._thread.start()
        self._checked_once.wait()  # a stop sent before this task started is seen before it claims a job
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        try:
            self._check()
        finally:
            self._checked_once.set()
        while not self.stop.is_set() and not self._done.wait(self.interval):
            self._check()

    def _check(self) -> None:
        import ray

        try:
            if ray.get(self.flag.is_set.remote(), timeout=30):
                self.stop.set()
        except ray.exceptions.GetTimeoutError:
            return
        except ray.exceptions.RayActorError:
            log.warning("the Ray driver is gone; checkpointing and releasing the job")
            self.stop.set()


def task_device(kind: str) -> str:
    """The torch device of this task: Ray hides every GPU but the task's own, which is then `cuda:0`."""
    if kind == "cpu":
        return "cpu"
    import ray

    assigned = [str(gpu) for gpu in ray.get_gpu_ids()]
    visible = [part.strip() for part in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if part.strip()]
    if not assigned:
        raise InvalidInputError("the Ray task was given no GPU; was the job submitted with --devices cuda?")
    return f"cuda:{visible.index(assigned[0]) if assigned[0] in visible else assigned[0]}"


@functools.cache
def configure_task_logging(log_dir: Path | None, level: int) -> None:
    """Once per Ray worker process (Ray reuses them across tasks): job logs to a file per process
    in `log_dir`, else to stderr, which Ray forwards to the driver. Forwarded, a job's outcome line
    is left out: the driver logs it from the task's `TaskReport` (forwarding may lose it)."""
    handler: logging.Handler
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_dir / f"ray-{socket.gethostname()}-{os.getpid()}.log")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(lambda record: record.name != OUTCOME_LOGGER)
    handler.setFormatter(logging.Formatter("%(asctime)s [ray %(process)d] %(levelname)s %(message)s"))
    root = logging.getLogger("taskgroup")
    root.addHandler(handler)
    root.setLevel(level)


@dataclass(frozen=True)
class TaskReport:
    """What one Ray task hands back: its worker's counts, and how its job (and any it gave up on)
    ended, for the driver to log."""

    summary: WorkerSummary
    outcomes: list[JobOutcome]


def run_job_task(request: WorkRequest, kind: str, flag: Any) -> TaskReport:
    """The body of one Ray task: a worker that runs at most one job of the study, then reports."""
    configure_task_logging(request.log_dir, request.log_level)
    device = task_device(kind)
    stop = threading.Event()
    store = open_store(request.db_url)
    try:
        worker = Worker(store, request.study, device, request.settings,
                        build_runner(request.settings.runner, request.runner_options), name=worker_name(f"ray-{device}"))
        with StopWatcher(flag, stop):
            summary = worker.run(stop, max_jobs=1)
        return TaskReport(summary, worker.outcomes)
    finally:
        store.dispose()


@BACKENDS.register("ray")
class RayBackend(Backend):
    """Each job a Ray task on the cluster at `request.options["address"]` (None: `RAY_ADDRESS`, a
    cluster started on this machine with `ray start`, or else a new one-machine cluster)."""

    name = "ray"

    @classmethod
    def devices(cls, text: str | None) -> tuple[str, ...]:
        return parse_cluster_devices(text)

    def run(self, request: WorkRequest, stop: threading.Event) -> list[WorkerSummary]:
        ray = import_ray()
        store = open_store(request.db_url)
        try:
            with store.session() as session:
                study_id = Study.find_or_raise_by_name(session, request.study).id
            if not open_jobs(store, study_id, request.settings.db_retry_deadline):
                return []  # nothing to run: no need for the cluster
            connected_here = connect(ray, request.options.get("address"), log_to_driver=request.log_dir is None)
            try:
                return RayDriver(ray, request, store, study_id).run(stop)
            finally:
                if connected_here:
                    ray.shutdown()
        finally:
            store.dispose()


def connect(ray: ModuleType, address: str | None, *, log_to_driver: bool) -> bool:
    """Join the cluster (unless this process already has); True if this call connected."""
    if ray.is_initialized():
        return False
    given = address or os.environ.get("RAY_ADDRESS") or None
    where = f"at {address}" if address else f"at {given} (from RAY_ADDRESS)" if given else \
        "(no --address given, none found on this machine)"
    if given:
        check_cluster(given, where)
    try:
        with keeping_our_sigterm_handler():
            ray.init(address=address, log_to_driver=log_to_driver, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise InvalidInputError(f"cannot connect to the Ray cluster {where}: {error}") from error
    return True


class _DropRecord(logging.Filter):
    """Drops one known log record by the start of its message."""

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


@contextmanager
def keeping_our_sigterm_handler() -> Iterator[None]:
    """`ray.init` replaces the SIGTERM handler with one that exits at once, so a `work` stopped with
    SIGTERM lost its running jobs to the grace period instead of checkpointing and releasing them:
    put ours back. From another thread (`run` drives the workers from one) Ray cannot set it and
    warns so on every run; that warning is ours to drop, since our handler stays."""
    main = threading.current_thread() is threading.main_thread()
    ours = signal.getsignal(signal.SIGTERM) if main else None
    quiet = _DropRecord("SIGTERM handler is not set")
    ray_worker_log = logging.getLogger("ray._private.worker")
    ray_worker_log.addFilter(quiet)
    try:
        yield
    finally:
        ray_worker_log.removeFilter(quiet)
        if main:
            signal.signal(signal.SIGTERM, ours)


def check_cluster(address: str, where: str, timeout: float = 10.0) -> None:
    """Refuse at once an address where no Ray cluster answers, by asking its GCS for the cluster's
    id as `ray.init` does first: Ray itself retries a closed port, or hangs on a port that is not
    the GCS's (the dashboard's, say), for minutes."""
    host, sep, port = address.rpartition(":")
    if address.startswith("ray://") or address == "auto" or not sep or not port.isdigit():
        return  # Ray Client addresses and `auto` are Ray's to resolve
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel).GetClusterId(
                gcs_service_pb2.GetClusterIdRequest(), timeout=timeout)
        except grpc.RpcError as error:
            problem = cluster_problem(error.code(), error.details() or "", timeout)
            if problem:
                raise InvalidInputError(f"cannot connect to the Ray cluster {where}: {problem}") from None


def cluster_problem(code: Any, details: str, timeout: float) -> str | None:
    """What a failed cluster-id request says to the user; None when it shows a cluster is there."""
    import grpc

    if code == grpc.StatusCode.UNAUTHENTICATED:
        if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
            return None  # ray.init sends the token this request did not
        return ("the cluster uses token authentication; set RAY_AUTH_MODE=token, with the cluster's token in "
                "~/.ray/auth_token or RAY_AUTH_TOKEN")
    if code == grpc.StatusCode.UNIMPLEMENTED or "HTTP/2" in details:
        return ("something answers there, but not a Ray cluster's GCS; give the GCS port (6379 unless "
                "`ray start --head --port` chose another; 8265 is the dashboard's)")
    reason = f"no answer within {timeout:g} s" if code == grpc.StatusCode.DEADLINE_EXCEEDED else \
        details.rsplit(": ", 1)[-1]
    return (f"{reason}; is `ray start --head` running there, and is this its GCS port (6379 unless --port "
            "was given)?")


class RayDriver:
    """Keeps one Ray task in flight per open job, replaces lost tasks, and passes a stop request on."""

    def __init__(self, ray: ModuleType, request: WorkRequest, store: Store, study_id: int) -> None:
        self.ray, self.request, self.store, self.study_id = ray, request, store, study_id
        self.kind = self._device_kind()
        self.pending: set[Any] = set()
        self.summaries: dict[str, WorkerSummary] = {}
        self.flag: Any = None
        self.task: Any = None

    def _device_kind(self) -> str:
        (kind,) = self.request.devices
        gpus = self.ray.cluster_resources().get("GPU", 0)
        if kind == "auto":
            return "cuda" if gpus else "cpu"
        if kind == "cuda" and not gpus:
            raise InvalidInputError("--devices cuda, but the Ray cluster has no GPUs (see `ray status`); "
                                    "start its nodes on GPU machines, or use --devices cpu")
        return kind

    def run(self, stop: threading.Event) -> list[WorkerSummary]:
        self.flag = self.ray.remote(num_cpus=0)(StopFlag).remote()
        self.ray.get(self.flag.is_set.remote())  # started before any task asks it (and waits for it)
        self.task = self.ray.remote(run_job_task).options(
            max_retries=0, name=f"taskgroup:{self.request.study}", **task_resources(self.kind, self.request.per_device)
        )
        self._top_up()
        forwarded, lost_in_a_row, peak = False, 0, len(self.pending)
        while self.pending:
            if stop.is_set() and not forwarded:
                self.flag.set.remote()  # running tasks checkpoint and release; new ones claim nothing
                forwarded = True
            ready, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=1.0)  # each outcome at once
            for ref in ready:
                self.pending.discard(ref)
                if self._collect(ref):
                    lost_in_a_row = 0
                else:
                    lost_in_a_row += 1
            if lost_in_a_row > max(MIN_LOST_IN_A_ROW, 2 * peak):
                self.flag.set.remote()
                raise InvalidInputError(
                    f"Ray lost {lost_in_a_row} worker tasks in a row and none finished; check the cluster "
                    f"(`ray status`), then run `taskgroup work {self.request.study}` again"
                )
            if ready and not forwarded:
                self._top_up()
                peak = max(peak, len(self.pending))
        return [self.summaries[name] for name in sorted(self.summaries)]

    def _top_up(self) -> None:
        """Submit tasks until one is in flight per queued or running job (a job running under a lost
        task gets a task that waits until it is stale, then reclaims it)."""
        open_now = open_jobs(self.store, self.study_id, self.request.settings.db_retry_deadline)
        for _ in range(open_now - len(self.pending)):
            self.pending.add(self.task.remote(self.request, self.kind, self.flag))

    def _collect(self, ref: Any) -> bool:
        """Log how a finished task's job ended and record its summary (True), or log a lost task
        (False); an error raised by the task itself (a missing study, a bad setting) stops the run."""
        exceptions = self.ray.exceptions
        try:
            report: TaskReport = self.ray.get(ref)
        except (exceptions.RayTaskError, exceptions.RuntimeEnvSetupError, exceptions.TaskUnschedulableError) as error:
            self.flag.set.remote()
            cause = getattr(error, "cause", None)
            if isinstance(cause, TaskgroupError | StorageError):
                raise cause from error
            raise
        except exceptions.RayError as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            log.warning("a Ray worker task was lost (%s: %s); its job, if it had one, is reclaimed once its "
                        "heartbeat is %gs old", type(error).__name__, first_line, self.request.settings.grace)
            return False
        process = report.summary.worker.rsplit(":", 1)[0]
        for outcome in report.outcomes:
            log.log(outcome.level, "%s", outcome.line(process))
        self._add(process, report.summary)
        return True

    def _add(self, key: str, summary: WorkerSummary) -> None:
        """Sum the one-job summaries per Ray worker process (`key`: host:pid:device), which Ray reuses."""
        self.summaries[key] = self.summaries.get(key, WorkerSummary(key)).plus(summary)
