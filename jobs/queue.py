"""The job queue in the database: claiming, heartbeats, finishing, releasing and failing jobs.

Every state change is one short transaction guarded by ownership: a worker may only change a job
that is `running` under its own name and attempt number. A worker whose job was reclaimed (its
heartbeat was late) therefore cannot record results or a state any more, which is what keeps
each result exactly once. Claims lock the row they take: `FOR UPDATE SKIP LOCKED` on PostgreSQL,
so workers never wait on each other, and an immediate (write-locked) transaction on SQLite.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from db.models import Candidate, Job, Result, Study
from db.store import Store
from jobs.claim import Claim, JobOutput, checkpoint_dir, job_run_key
from jobs.clock import database_now, database_seconds_ago
from jobs.settings import WorkerSettings
from jobs.transient import retry_transient

log = logging.getLogger("taskgroup.jobs")

OPEN_STATES = ("queued", "running")


def open_jobs(store: Store, study_id: int, deadline: float) -> int:
    """The study's queued and running jobs (retrying through a short database outage): what backends
    keep workers for."""
    def count() -> int:
        with store.session() as session:
            return int(session.scalar(
                select(func.count()).select_from(Job).where(Job.study_id == study_id, Job.state.in_(OPEN_STATES))
            ) or 0)

    return retry_transient(count, deadline=deadline, what="counting open jobs")


def holder_grace() -> ColumnElement:
    """A job's grace period: the one its worker was started with (the default for jobs claimed before
    it was stored)."""
    return func.coalesce(Job.grace, WorkerSettings.grace)


def worker_gone(dialect: Any) -> ColumnElement:
    """A running job's worker is gone: no heartbeat within the grace period that worker was started
    with. Judging each job by its own worker's setting keeps a worker with a long --heartbeat/--grace
    from being taken for dead by `status`, `cancel` or a worker started with a shorter one."""
    return and_(Job.state == "running",
                or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < database_seconds_ago(dialect, holder_grace())))


def takeover_due(dialect: Any, reachable_for: float) -> ColumnElement:
    """A running job another worker may take over (or give up on): its worker is gone, and the worker
    looking has reached the database for at least that job's grace period.

    After an outage every heartbeat is old, live jobs' too. A live worker beats at least twice per
    grace period, so once the database has been reachable for a grace period it has beaten again,
    with as much slack as in normal running (half a grace period would leave none for a worker
    beating at exactly half its grace); a worker that has not is gone. `reachable_for` is
    measured by the looking worker (a duration, never a clock compared with the database's);
    `math.inf` judges by the heartbeat alone.
    """
    gone = worker_gone(dialect)
    return gone if math.isinf(reachable_for) else and_(gone, holder_grace() <= reachable_for)


def finished_values(output: JobOutput, now: Any) -> dict[str, Any]:
    """The columns of a job finished at `now` with `output` (a time, or the database's clock as SQL)."""
    return {"state": "done", "finished_at": now, "heartbeat_at": now, "error": None, "progress": 1.0,
            "epochs": output.epochs, "best_epoch": output.best_epoch, "wall_time": output.wall_time,
            "curve": output.curve}


def job_results(candidate_id: int, job_id: int, stage: str, output: JobOutput) -> list[Result]:
    """One result row per task and split of a finished job's output."""
    return [
        Result(candidate_id=candidate_id, job_id=job_id, stage=stage, split=split, task=task, loss=float(loss))
        for split, losses in (("val", output.val_losses), ("test", output.test_losses))
        for task, loss in sorted(losses.items())
    ]


def training_of(study: Study, candidate: Candidate) -> dict[str, Any]:
    """The study's training options with the candidate's own weighting method, if it has one."""
    return {**(study.training or {}), **(candidate.weighting or {})}


class JobQueue:
    """The jobs of one study, seen by workers."""

    def __init__(self, store: Store, study_id: int, settings: WorkerSettings) -> None:
        self.store = store
        self.study_id = study_id
        self.settings = settings
        self.dialect = store.engine.dialect

    def _owned(self, claim: Claim) -> Any:
        return and_(
            Job.id == claim.job_id,
            Job.state == "running",
            Job.worker == claim.worker,
            Job.attempts == claim.attempt,
        )

    def claim(self, worker: str, device: str, *, reachable_for: float = math.inf) -> Claim | None:
        """Take the next queued job, or a running one with attempts left whose worker is gone, once the
        claiming worker has reached the database for that job's grace period (`takeover_due`:
        `reachable_for` seconds, as that worker measured them); the job then keeps this worker's
        grace. Returns None when nothing can be claimed now.

        A stale job whose attempts are used up is not taken: `give_up_stale` marks it failed.
        """
        with self.store.session(immediate=True) as session:
            job = session.scalars(self._next_claimable(reachable_for)).first()
            if job is None:
                return None
            previous = job.worker if job.state == "running" else None
            attempt = job.attempts + 1
            values: dict[str, Any] = {
                "state": "running",
                "worker": worker,
                "device": device,
                "attempts": attempt,
                "started_at": database_now(self.dialect),
                "heartbeat_at": database_now(self.dialect),
                "grace": self.settings.grace,
            }
            if previous is not None:
                values["error"] = f"reclaimed from worker {previous}, whose heartbeat stopped"
            session.execute(update(Job).where(Job.id == job.id).values(**values))
            return self._claim_of(session, job, worker, device, attempt, previous)

    def give_up_stale(self, reachable_for: float = math.inf) -> list[tuple[str, str]]:
        """Mark failed every running job whose worker is gone during its last attempt (reclaiming it
        would exceed --max-attempts), judged as `claim` judges them (`takeover_due`: a live job after an
        outage is not failed). Returns each job's label and error, naming its gone worker: the worker
        that gave up on them counts and reports them, since no attempt of its own failed."""
        gave_up: list[tuple[str, str]] = []
        given_up = (Job.study_id == self.study_id, takeover_due(self.dialect, reachable_for),
                    Job.attempts >= self.settings.max_attempts)
        with self.store.session() as session:  # a plain read first: the write lock only when there is one
            if session.scalar(select(Job.id).where(*given_up).limit(1)) is None:
                return gave_up
        with self.store.session(immediate=True) as session:
            for job in session.scalars(self._locked(select(Job).where(*given_up).order_by(Job.id))).all():
                error = (f"worker {job.worker} stopped sending heartbeats during attempt {job.attempts} "
                         f"of {self.settings.max_attempts}; giving up")
                session.execute(update(Job).where(Job.id == job.id).values(
                    state="failed", finished_at=database_now(self.dialect), error=error))
                candidate = session.get(Candidate, job.candidate_id)
                assert candidate is not None  # a foreign key guarantees it
                gave_up.append((f"job {job.id} {candidate.tasks}@{candidate.size} ({job.stage})", error))
        return gave_up

    def _next_claimable(self, reachable_for: float) -> Any:
        """The study's next queued job, or running one due for takeover with attempts left."""
        stale = and_(takeover_due(self.dialect, reachable_for), Job.attempts < self.settings.max_attempts)
        return self._locked(
            select(Job)
            .where(Job.study_id == self.study_id, or_(Job.state == "queued", stale))
            .order_by(Job.priority.desc(), Job.id)
            .limit(1)
        )

    def _locked(self, stmt: Any) -> Any:
        """`stmt` locking the rows it reads; on PostgreSQL skipping those another worker has locked
        (SQLite's immediate transaction already holds the whole database)."""
        return stmt.with_for_update(skip_locked=True) if self.dialect.name == "postgresql" else stmt

    def _claim_of(
        self, session: Session, job: Job, worker: str, device: str, attempt: int, previous: str | None
    ) -> Claim:
        candidate = session.get(Candidate, job.candidate_id)
        study = session.get(Study, job.study_id)
        assert candidate is not None and study is not None  # foreign keys guarantee both
        size = dict(next((s for s in study.sizes if s["label"] == candidate.size), {"label": candidate.size}))
        dataset = dict(study.dataset or {})
        training = training_of(study, candidate)
        return Claim(
            job_id=job.id,
            study=study.name,
            worker=worker,
            attempt=attempt,
            device=device,
            tasks=tuple(candidate.task_list),
            size=size,
            stage=job.stage,
            dataset=dataset,
            training=training,
            checkpoint_dir=checkpoint_dir(
                self.settings.checkpoint_root, study.checkpoint_folder, job.id,
                job_run_key(study.created_at, dataset, candidate.tasks, size, job.stage, training),
            ),
            reclaimed_from=previous,
            data_splits=dict(study.data_splits) if study.data_splits else None,
        )

    def heartbeat(self, claim: Claim, progress: float | None) -> bool:
        """Record that the job is alive (and how far it is); False once the job is no longer ours."""
        with self.store.session() as session:
            values: dict[str, Any] = {"heartbeat_at": database_now(self.dialect)}
            if progress is not None:
                values["progress"] = progress
            return session.execute(update(Job).where(self._owned(claim)).values(**values)).rowcount == 1

    def job_exists(self, claim: Claim) -> bool:
        """Whether the claimed job is still in the database: `study delete --force` removes a running
        job's row, another worker reclaiming it does not."""
        with self.store.session() as session:
            return session.get(Job, claim.job_id) is not None

    def finish(self, claim: Claim, output: JobOutput) -> bool:
        """Write every result of the job and its `done` state in one transaction, if the job is still ours.

        Returns False (and writes nothing) when the job was reclaimed by another worker. Results of
        the candidate at this stage from earlier training runs are replaced, so each (task, split) is
        stored once. If results were imported for it meanwhile (no job), none of this run's are
        stored: a network's losses come from one run, and only `import --replace` overwrites imports.
        """
        with self.store.session(immediate=True) as session:
            changed = session.execute(
                update(Job).where(self._owned(claim)).values(**finished_values(output, database_now(self.dialect)))
            ).rowcount
            if changed != 1:
                return self._finished_by(session, claim)
            candidate_id = session.scalars(select(Job.candidate_id).where(Job.id == claim.job_id)).one()
            of_stage = and_(Result.candidate_id == candidate_id, Result.stage == claim.stage)
            imported = session.scalars(select(Result.id).where(of_stage, Result.job_id.is_(None)).limit(1)).first()
            if imported is None:
                session.execute(delete(Result).where(of_stage, Result.job_id.is_not(None)))
                session.add_all(job_results(candidate_id, claim.job_id, claim.stage, output))
        if imported is not None:
            log.warning("job %d: its network has imported results, so this run's losses are not stored", claim.job_id)
        return True

    @staticmethod
    def _finished_by(session: Session, claim: Claim) -> bool:
        """Whether this very attempt already finished the job (a retried finish whose first commit
        succeeded but whose acknowledgement was lost with the connection)."""
        job = session.get(Job, claim.job_id)
        return job is not None and job.state == "done" and job.worker == claim.worker and job.attempts == claim.attempt

    def release(self, claim: Claim) -> bool:
        """Put a job stopped on request back in the queue; the interrupted attempt does not count."""
        with self.store.session() as session:
            return session.execute(
                update(Job).where(self._owned(claim)).values(
                    state="queued", worker=None, device=None, heartbeat_at=None, attempts=Job.attempts - 1
                )
            ).rowcount == 1

    def record_failure(self, claim: Claim, message: str, *, permanent: bool) -> str | None:
        """Store the error of a failed attempt; the job is queued again unless the failure is
        `permanent` (retrying cannot help) or the attempts are used up. Returns the new state, or
        None when the job was no longer ours."""
        final = permanent or claim.attempt >= self.settings.max_attempts
        state = "failed" if final else "queued"
        values: dict[str, Any] = {"state": state, "error": message}
        if final:
            values["finished_at"] = database_now(self.dialect)
        else:
            values.update(worker=None, device=None, heartbeat_at=None)
        with self.store.session() as session:
            changed = session.execute(update(Job).where(self._owned(claim)).values(**values)).rowcount
        return state if changed == 1 else None

    def has_open_jobs(self) -> bool:
        """Whether any job is queued or running, i.e. whether a worker should keep waiting."""
        with self.store.session() as session:
            count = session.scalar(
                select(func.count()).select_from(Job).where(Job.study_id == self.study_id, Job.state.in_(OPEN_STATES))
            )
        return bool(count)
