"""`taskgroup work` and `taskgroup run`: start workers on this machine's devices for a study.

`work` runs workers and logs each job to stderr; `run` plans first and shows a live progress
display instead (worker logs go to files), as `finalize --until-stable` does for each round.
Ctrl-C (or SIGTERM) stops them gracefully: running jobs are checkpointed and put back in the
queue; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from db import open_store
from db.models import Study
from taskgroup.cli.common import (
    DbOption, JsonOption, StopRequest, console, emit_json, err_console, parse_key_values, print_note, progress_bar,
    stop_on_signals,
)
from taskgroup.cli.plan import EstimatorOption, SetOption, planned
from taskgroup.errors import InvalidInputError
from taskgroup.wording import counted

STOP_MESSAGE = "stopping: checkpointing running jobs and putting them back in the queue (Ctrl-C again to stop at once)"

DevicesOption = Annotated[
    str | None,
    typer.Option("--devices", help="Comma-separated devices, e.g. cpu or cuda:0,cuda:1 (default: every GPU, else cpu)."),
]
PerDeviceOption = Annotated[int, typer.Option("--per-device", help="Worker processes per device.")]
BackendOption = Annotated[
    str, typer.Option("--backend", help="Where workers run: local (this machine), or ray (a Ray cluster, see --address).")
]
AddressOption = Annotated[
    str | None,
    typer.Option("--address", help="With --backend ray: the cluster's address, e.g. head-node:6379 (default: "
                 "$RAY_ADDRESS, else the cluster `ray start` began on this machine, else a new one-machine cluster)."),
]
HeartbeatOption = Annotated[float, typer.Option("--heartbeat", help="Seconds between a worker's heartbeats.")]
GraceOption = Annotated[
    float, typer.Option("--grace", help="Seconds without a heartbeat (database clock) after which a job is reclaimed; "
                        "at least twice --heartbeat, so one late beat never loses a live job.")
]
AttemptsOption = Annotated[int, typer.Option("--max-attempts", help="Claims of a job before it is marked failed.")]
CheckpointOption = Annotated[
    Path | None,
    typer.Option("--checkpoint-root", envvar="TASKGROUP_CHECKPOINTS",
                 help="Folder for job checkpoints (default TASKGROUP_HOME/checkpoints); share it between machines."),
]
RunnerOption = Annotated[
    str, typer.Option("--runner", help="train, or dry: no training, made-up losses, to test a set-up.")
]
RunnerSetOption = Annotated[list[str], typer.Option("--runner-option", help="Runner option KEY=VALUE (dry: steps, step_seconds).")]


def register(app: typer.Typer) -> None:
    app.command("work")(work)
    app.command("run")(run)


def _request(db: str | None, name: str, devices: str | None, per_device: int, heartbeat: float, grace: float,
             max_attempts: int, checkpoint_root: Path | None, runner: str, runner_options: list[str],
             log_dir: Path | None, backend: str, address: str | None) -> Any:
    from db.store import default_url, normalise_url
    from jobs.backends import BACKENDS, WorkRequest
    from jobs.settings import WorkerSettings, default_checkpoint_root

    settings = WorkerSettings(
        heartbeat=heartbeat, grace=grace, max_attempts=max_attempts,
        checkpoint_root=checkpoint_root or default_checkpoint_root(), runner=runner,
    )
    return WorkRequest(
        db_url=normalise_url(db) if db else default_url(), study=name, devices=BACKENDS.get(backend).devices(devices),
        per_device=per_device, settings=settings, runner_options=parse_key_values(runner_options, "--runner-option"), log_dir=log_dir,
        options={"address": address} if address else {},
    )


def _prepare(request: Any) -> None:
    """Check the study can run and prepare its data once, with a progress bar, before workers start."""
    from jobs.runners import build_runner

    with open_store(request.db_url).session() as session:
        study = Study.find_or_raise_by_name(session, request.study)
        dataset, tasks, training = dict(study.dataset or {}), list(study.tasks), dict(study.training or {})
    runner = build_runner(request.settings.runner, request.runner_options)
    with progress_bar("preparing data") as progress:
        bar = progress.add_task("data", total=None)
        sizes = runner.prepare(dataset, tasks, training,
                               lambda done, total: progress.update(bar, completed=done, total=total))
    if sizes is not None:
        _record_data(request, sizes, dataset)


def _record_data(request: Any, sizes: dict[str, int], dataset: dict[str, Any]) -> None:
    """Record the split sizes of the study's data (`dataset`, as stored), just opened (refused when
    the data changed)."""
    from jobs.manage import record_data_splits
    from jobs.runners import dataset_spec

    with open_store(request.db_url).session() as session:
        study = Study.find_or_raise_by_name(session, request.study, for_update=True)
        record_data_splits(session, study, sizes, dataset_spec(dataset))


def check_runnable(request: Any, study: Study) -> None:
    """Refuse a study the request's runner cannot run (an import-only study with the training runner)
    before a command queues anything for it."""
    from jobs.runners import build_runner

    runner = build_runner(request.settings.runner, request.runner_options)
    runner.check(dict(study.dataset or {}), dict(study.training or {}))


def log_dir(checkpoint_root: Path | None, db: str | None, name: str) -> Path:
    """Where commands with a live display write the workers' log lines of study `name`: beside the
    checkpoints, in a folder named as the study's checkpoint folder, which `study delete` deletes too."""
    from jobs.settings import default_checkpoint_root

    with open_store(db).session() as session:
        folder = Study.find_or_raise_by_name(session, name).checkpoint_folder
    return (checkpoint_root or default_checkpoint_root()) / "logs" / folder


@contextmanager
def _logging_to(path: Path | None) -> Iterator[None]:
    """Worker log lines of in-process workers: to stderr, or to a file when a live display owns the terminal."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path) if path is not None else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("taskgroup")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


def _status(request: Any) -> Any:
    from jobs.status import study_status
    from jobs.transient import retry_transient

    def read() -> Any:
        with open_store(request.db_url).session() as session:
            study = Study.find_by_name(session, request.study)
            if study is None:  # the command found it when it started
                raise InvalidInputError(f"study {request.study!r} was deleted while this command ran "
                                        "(`taskgroup study delete --force`)")
            return study_status(session, study)

    return retry_transient(read, deadline=request.settings.db_retry_deadline, what="reading the study's status")


def _finish(request: Any, summaries: list[Any], stop: StopRequest, json_output: bool,
            plan: dict[str, Any] | None = None) -> None:
    """The workers' table and the study's counts (`--json`: with `stopped`, the signal that stopped the
    workers or null when they ran out of jobs, and `run`'s `plan`); then the exit status."""
    report = _status(request)
    if json_output:
        emit_json({"workers": [summary.__dict__ for summary in summaries], **report.to_json(),
                   "stopped": stop.reason if stop.is_set() else None, **({"plan": plan} if plan is not None else {})})
    else:
        table = Table("worker", "done", "failed", "requeued", "released", "lost")
        for s in summaries:  # failed: with those of gone workers, out of attempts, that it gave up on
            failed = f"{s.failed} ({s.failed_stale} stale)" if s.failed_stale else str(s.failed)
            table.add_row(s.worker, str(s.done), failed, str(s.requeued), str(s.released), str(s.lost))
        console.print(table)
        counts = report.counts
        console.print(f"[bold]{request.study}[/]: {counts['done']}/{report.total} done, {counts['queued']} queued, "
                      f"{counts['running']} running, {counts['failed']} failed")
    _raise_if_unfinished(request, report, stop)


def _raise_if_unfinished(request: Any, report: Any, stop: threading.Event, resume: str | None = None) -> None:
    """Exit 130 when stopped (saying how to go on: `resume`, else the same command or `work`), an
    error when jobs failed or were left when the workers ended (every slot died): the queue was not
    worked off."""
    if stop.is_set():
        err_console.print(resume or f"stopped; run the command again (or `taskgroup work {request.study}`) to continue")
        raise typer.Exit(130)
    if not report.finished:
        counts = report.counts
        raise InvalidInputError(
            f"every worker ended with {counted(counts['queued'], 'job')} queued and {counts['running']} running; the "
            f"log says why (a worker slot that kept dying is given up on); run `taskgroup work {request.study}` again "
            "to go on"
        )
    if report.failed:
        first, more = report.failed[0], len(report.failed) - 1
        others = f" and {more} more" if more else ""
        raise InvalidInputError(
            f"job {first.id} {first.tasks}@{first.size} ({first.stage}) failed{others}: {first.error}; "
            f"see `taskgroup status {request.study}`, then `taskgroup retry {request.study}`"
        )


def run_queued_jobs(request: Any, backend: str, quiet: bool = False, resume: str | None = None) -> list[Any]:
    """Run workers on the study's queue until it is empty, as `run` does (a live display unless `quiet`,
    worker logs in `request.log_dir`; Ctrl-C stops gracefully and exits 130, printing `resume` if
    given; failed jobs end in an error). For commands that queue work and need it done before going
    on (`finalize --until-stable`); call `_prepare(request)` once first."""
    summaries, stop = _run_with_progress(request, backend, quiet)
    _raise_if_unfinished(request, _status(request), stop, resume)
    return summaries


def _run_with_progress(request: Any, backend: str, quiet: bool) -> tuple[list[Any], StopRequest]:
    """The backend's workers in a thread while a live display shows the queue; their log lines go to
    `request.log_dir`, since the display owns the terminal."""
    from jobs.backends import BACKENDS

    chosen = BACKENDS.get(backend)()
    summaries: list[Any] = []
    with stop_on_signals(STOP_MESSAGE) as stop, _logging_to(request.log_dir / "worker-main.log"):
        thread = threading.Thread(target=lambda: summaries.extend(chosen.run(request, stop)), daemon=True)
        thread.start()
        _show_progress(request, thread, quiet)
        thread.join()
    return summaries, stop


def _run_workers(request: Any, backend: str) -> tuple[list[Any], StopRequest]:
    """The backend's workers until the queue is empty or a signal stops them (logs to stderr)."""
    from jobs.backends import BACKENDS

    chosen = BACKENDS.get(backend)()
    with stop_on_signals(STOP_MESSAGE) as stop, _logging_to(None):
        summaries = chosen.run(request, stop)
    return summaries, stop


def work(
    name: Annotated[str, typer.Argument(help="Study name.")],
    devices: DevicesOption = None,
    per_device: PerDeviceOption = 1,
    backend: BackendOption = "local",
    address: AddressOption = None,
    heartbeat: HeartbeatOption = 10.0,
    grace: GraceOption = 60.0,
    max_attempts: AttemptsOption = 3,
    checkpoint_root: CheckpointOption = None,
    runner: RunnerOption = "train",
    runner_option: RunnerSetOption = [],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run workers (one per device slot) on the study's queued jobs until none is left."""
    request = _request(db, name, devices, per_device, heartbeat, grace, max_attempts, checkpoint_root, runner,
                       runner_option, None, backend, address)
    _prepare(request)
    summaries, stop = _run_workers(request, backend)
    _finish(request, summaries, stop, json_output)


def run(
    name: Annotated[str, typer.Argument(help="Study name.")],
    estimator: EstimatorOption = "exact",
    settings: SetOption = [],
    devices: DevicesOption = None,
    per_device: PerDeviceOption = 1,
    backend: BackendOption = "local",
    address: AddressOption = None,
    heartbeat: HeartbeatOption = 10.0,
    grace: GraceOption = 60.0,
    max_attempts: AttemptsOption = 3,
    checkpoint_root: CheckpointOption = None,
    runner: RunnerOption = "train",
    runner_option: RunnerSetOption = [],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Plan the study for an estimator and train it here, with a live progress display."""
    from jobs.plans import plan_study
    from taskgroup.cli.training_changes import changes_note, set_training

    request = _request(db, name, devices, per_device, heartbeat, grace, max_attempts, checkpoint_root, runner,
                       runner_option, log_dir(checkpoint_root, db, name), backend, address)
    changed: dict[str, Any] = {}
    _prepare(request)  # first: data that cannot be opened is refused before any job is queued
    with open_store(request.db_url).session() as session:  # one transaction: a refused study keeps its plan
        study = Study.find_or_raise_by_name(session, name)
        if settings:
            _, changed = set_training(session, study, parse_key_values(settings, "--set"))
        check_runnable(request, study)
        summary = plan_study(session, study, estimator)
    if not json_output:
        if settings:
            print_note(changes_note(changed))
        queued = _status(request).counts["queued"]  # with jobs other plans queued, which these workers run too
        console.print(f"Planned [bold]{estimator}[/] for study [bold]{name}[/]: {planned(summary, name)}; training "
                      f"the study's {counted(queued, 'queued job')}.")
    summaries, stop = _run_with_progress(request, backend, json_output)
    if not json_output:
        console.print(f"worker logs: {request.log_dir}")
    _finish(request, summaries, stop, json_output, {"estimator": estimator, **summary.to_json()})


def _show_progress(request: Any, thread: threading.Thread, quiet: bool) -> None:
    """Poll the database and show jobs done, running and failed with an ETA, until the workers exit."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=err_console, disable=quiet) as progress:
        bar = progress.add_task(request.study, total=None, detail="starting workers")
        while thread.is_alive():
            report = _status(request)
            counts = report.counts
            progress.update(bar, total=report.total, completed=counts["done"] + counts["failed"],
                            detail=progress_detail(report))
            thread.join(timeout=1.0)
        report = _status(request)
        progress.update(bar, total=report.total, completed=report.counts["done"] + report.counts["failed"],
                        detail=progress_detail(report))


def progress_detail(report: Any) -> str:
    """Running and failed counts, and the running jobs whose worker fell silent (a killed one's):
    without them the display would look stuck while a worker waits out the grace period of the silent
    one's worker to take its job over."""
    counts = report.counts
    silent = [job for job in report.running if job.heartbeat_age is None or job.heartbeat_age > job.grace / 2]
    grace = max((job.grace for job in silent), default=0.0)
    gone = f" ({len(silent)} silent, taken over after {grace:g} s without a heartbeat)" if silent else ""
    return f"{counts['running']} running{gone}, {counts['failed']} failed"
