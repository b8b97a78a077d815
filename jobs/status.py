"""How far a study's jobs have come: counts by state, what is running where, what failed and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import JOB_STATES, Candidate, Job, Study
from jobs.clock import as_utc, database_time
from jobs.settings import WorkerSettings


@dataclass(frozen=True)
class JobView:
    """One job as `status` shows it."""

    id: int
    tasks: str
    size: str
    stage: str
    state: str
    attempts: int
    worker: str | None
    device: str | None
    progress: float | None
    heartbeat_age: float | None
    error: str | None
    grace: float | None = None
    """Running jobs: the grace period of the worker holding it."""
    worker_gone: bool | None = None
    """Running jobs: no heartbeat within that grace period (it goes to the next worker, or `cancel`)."""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class StudyStatus:
    """Counts by state, the running and failed jobs, and an estimate of the time left."""

    study: str
    counts: dict[str, int]
    running: list[JobView] = field(default_factory=list)
    failed: list[JobView] = field(default_factory=list)
    eta_seconds: float | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        return self.counts["queued"] == 0 and self.counts["running"] == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "jobs": {**self.counts, "total": self.total},
            "running": [job.to_json() for job in self.running],
            "failed": [job.to_json() for job in self.failed],
            "eta_seconds": self.eta_seconds,
        }


def study_status(session: Session, study: Study) -> StudyStatus:
    """The status of `study`'s jobs, with heartbeat ages measured by the database's clock."""
    now = database_time(session)
    rows = session.execute(
        select(Job, Candidate.tasks, Candidate.size).join(Candidate).where(Job.study_id == study.id).order_by(Job.id)
    ).all()
    counts = {state: 0 for state in JOB_STATES}
    running, failed, durations = [], [], []
    for job, tasks, size in rows:
        counts[job.state] = counts.get(job.state, 0) + 1
        if job.state == "done" and job.started_at and job.finished_at:
            durations.append((as_utc(job.finished_at) - as_utc(job.started_at)).total_seconds())
        if job.state in ("running", "failed"):
            age = (now - as_utc(job.heartbeat_at)).total_seconds() if job.heartbeat_at else None
            grace = (job.grace or WorkerSettings.grace) if job.state == "running" else None
            gone = (age is None or age > grace) if grace is not None else None
            view = JobView(job.id, tasks, size, job.stage, job.state, job.attempts, job.worker, job.device,
                           job.progress, age, job.error, grace, gone)
            (running if job.state == "running" else failed).append(view)
    return StudyStatus(study.name, counts, running, failed, _eta(counts, running, durations))


def _eta(counts: dict[str, int], running: list[JobView], durations: list[float]) -> float | None:
    """Time left if the remaining jobs take as long as the finished ones did, spread over the
    workers now running (None before any job has finished, or once nothing is left)."""
    if not durations or not running:
        return None
    mean = sum(durations) / len(durations)
    left = counts["queued"] + sum(1 - (job.progress or 0.0) for job in running)
    return left * mean / len(running)
