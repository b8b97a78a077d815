"""Changing a study's queue by hand: retry failed jobs, cancel queued ones, set training options."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.models import Affinity, Candidate, Job, Result, Study
from jobs.claim import JobOutput
from jobs.clock import database_time
from jobs.plans import add_jobs
from jobs.queue import finished_values, job_results, training_of, worker_gone
from jobs.training_options import checked_training
from taskgroup.errors import InvalidInputError
from taskgroup.wording import counted


def retry_failed(session: Session, study: Study) -> int:
    """Queue every failed job again with a fresh set of attempts; returns how many."""
    return session.execute(
        update(Job).where(Job.study_id == study.id, Job.state == "failed").values(
            state="queued", attempts=0, worker=None, device=None, heartbeat_at=None, finished_at=None
        )
    ).rowcount


def cancel_queued(session: Session, study: Study) -> tuple[int, int]:
    """Remove the study's queued jobs and its abandoned ones (running, but no heartbeat within their
    worker's grace period by the database's clock: the worker is gone); live running jobs finish,
    done ones keep their results. Returns (queued, abandoned) removed.

    Cancelled jobs are deleted rather than marked, so `plan` queues them again later.
    """
    queued = session.execute(delete(Job).where(Job.study_id == study.id, Job.state == "queued")).rowcount
    abandoned = session.execute(
        delete(Job).where(Job.study_id == study.id, worker_gone(session.get_bind().dialect))
    ).rowcount
    return queued, abandoned


def live_jobs(session: Session, study: Study) -> int:
    """How many of the study's jobs a worker holds now: running, with a heartbeat within its worker's
    grace period by the database's clock (an older one's worker is gone, and it would be reclaimed)."""
    return session.scalar(
        select(func.count()).select_from(Job).where(Job.study_id == study.id, Job.state == "running",
                                                    ~worker_gone(session.get_bind().dialect))
    )


def record_finished_run(
    session: Session, study: Study, tasks: str, size: str, output: JobOutput, *, worker: str, device: str
) -> int | None:
    """Record a full training run made outside the queue (the all-task network of `taskgroup affinity
    measure`) as its candidate's finished full-stage job, with its results: reports then count its
    epochs and device time like any job's. A queued or failed job of the candidate is finished by it.

    Returns the job's id, or None when the candidate already has full-stage results or a running job:
    those are left alone and nothing is recorded.
    """
    add_jobs(session, study, [(tasks, size, "full")])  # the candidate, and a queued job unless one exists or it has results
    candidate = Candidate.find_by_key(session, study.id, tasks, size)
    if session.scalar(select(Result.id).where(Result.candidate_id == candidate.id, Result.stage == "full").limit(1)):
        return None
    job = session.scalars(select(Job).where(Job.candidate_id == candidate.id, Job.stage == "full")).one()
    if job.state == "running":
        return None
    finished = database_time(session)
    for column, value in finished_values(output, finished).items():
        setattr(job, column, value)
    job.worker, job.device, job.attempts = worker, device, (job.attempts or 0) + 1
    job.started_at = finished - timedelta(seconds=output.wall_time or 0.0)
    session.flush()
    session.add_all(job_results(candidate.id, job.id, "full", output))
    session.flush()
    return job.id


def record_data_splits(session: Session, study: Study, sizes: Mapping[str, int], spec: Any) -> None:
    """Record the split sizes of the study's data (a `DatasetSpec`) as its runs open it; refuse other
    sizes once anything was trained on the recorded data. Until then they are recorded anew: data
    fixed after every job failed on it is not another dataset."""
    from taskgroup.data import check_same_data

    if study.data_splits is not None and dict(study.data_splits) != dict(sizes) and _trained_on_data(session, study):
        check_same_data(study.data_splits, sizes, spec)
    study.data_splits = dict(sizes)


def _trained_on_data(session: Session, study: Study) -> bool:
    """Whether a finished job or an affinity measurement of the study used its data (imported
    results did not)."""
    done = select(Job.id).where(Job.study_id == study.id, Job.state == "done").limit(1)
    measured = select(Affinity.id).where(Affinity.study_id == study.id).limit(1)
    return session.scalar(done) is not None or session.scalar(measured) is not None


def configure_training(
    session: Session,
    study: Study,
    options: Mapping[str, Any],
    *,
    candidate: tuple[str, str] | None = None,
    reset: bool = False,
) -> dict[str, Any]:
    """Set training options of the study, or (with `candidate` = (tasks, size)) that candidate's own
    weighting method; returns the effective options. Refused while workers hold jobs of the study
    (a heartbeat within their grace period), since they train with the current settings; a job whose
    worker is gone restarts from scratch under the new ones (its checkpoint is keyed by them)."""
    running = live_jobs(session, study)
    if running:
        raise InvalidInputError(
            f"study {study.name!r} has {counted(running, 'running job')} whose worker is still sending heartbeats; "
            "stop its workers before changing training settings (a killed worker's job stops counting once its "
            "heartbeat is older than the worker's --grace, 60 s by default)"
        )
    if candidate is None:
        options = _new_method_new_options(study.training or {}, options)
        merged = dict(options) if reset else {**(study.training or {}), **options}
        checked_training(merged, study.tasks)
        study.training = merged
        return merged
    found = _candidate(session, study, candidate)
    allowed = {"weighting", "weighting_options"}
    if not set(options) <= allowed:
        raise InvalidInputError(
            f"a candidate may only override {', '.join(sorted(allowed))}, not {', '.join(sorted(set(options) - allowed))}"
        )
    if options and len(found.task_list) == 1:
        raise InvalidInputError(
            f"{candidate[0]}@{candidate[1]} is a single-task network: a loss weighting balances the tasks of a "
            "multi-task network, so it has nothing to weigh here (`--reset` without `--set` removes one stored before)"
        )
    options = _new_method_new_options({**(study.training or {}), **(found.weighting or {})}, options)
    override = dict(options) if reset else {**(found.weighting or {}), **options}
    checked_training({**(study.training or {}), **override}, found.tasks.split("+"))
    found.weighting = override or None
    return {**(study.training or {}), **override}


def _new_method_new_options(current: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """`options`, with the weighting options emptied when they switch to another weighting method and
    give none: the previous method's options (a dwa temperature) do not apply to the new one."""
    switching = "weighting" in options and options["weighting"] != current.get("weighting", "uniform")
    if switching and "weighting_options" not in options and current.get("weighting_options"):
        return {**options, "weighting_options": {}}
    return dict(options)


def stored_training(session: Session, study: Study, candidate: tuple[str, str] | None = None) -> dict[str, Any]:
    """The training options set for the study, with (given `candidate` = (tasks, size)) that
    candidate's own weighting method over them; options not set take `TrainConfig`'s defaults."""
    if candidate is None:
        return dict(study.training or {})
    return training_of(study, _candidate(session, study, candidate))


def _candidate(session: Session, study: Study, candidate: tuple[str, str]) -> Candidate:
    """The study's candidate (tasks, size); an error names a task or size the study lacks, with the
    study's own, before it says to plan a candidate that could exist but was not planned yet."""
    tasks, size = candidate
    unknown = [f"no task {task!r} (its tasks: {', '.join(study.tasks)})" for task in tasks.split("+")
               if task not in study.tasks]
    if size not in study.size_labels():
        unknown.append(f"no size {size!r} (its sizes: {', '.join(study.size_labels())})")
    if unknown:
        raise InvalidInputError(f"study {study.name!r} has {'; and '.join(unknown)}")
    found = Candidate.find_by_key(session, study.id, tasks, size)
    if found is None:
        raise InvalidInputError(
            f"candidate {tasks}@{size} of study {study.name!r} is not planned yet; "
            f"`taskgroup plan {study.name}` queues its candidates"
        )
    return found
