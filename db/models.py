"""One SQLAlchemy model per table, each with class-method finders (as in optuna's storage layer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from db.checkpoint_folders import new_study_folder, shared_study_folder
from db.errors import NotFoundError

JOB_STATES = ("queued", "running", "done", "failed")
STAGES = ("full", "early")
SPLITS = ("val", "test")


class Base(DeclarativeBase):
    """Declarative base with a naming convention so Alembic can name constraints on every backend."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Study(Base):
    """A named question: which tasks, at which sizes, on which data, trained how."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tasks: Mapped[list[str]] = mapped_column(JSON)
    sizes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    dataset: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    training: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_explored_budget: Mapped[float | None] = mapped_column(Float, nullable=True)
    """The budget `finalize --explore` last queued training for: where its next run continues the
    budgets' turns (None until the study is explored)."""
    own_checkpoint_folder: Mapped[str | None] = mapped_column(
        String(250), nullable=True, default=lambda context: new_study_folder(context.get_current_parameters()["name"])
    )
    """The folder under the checkpoint root that only this study's runs use (None for a study created
    before revision 0007, which checkpoints in the folder named after it)."""
    data_splits: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    """The item count of each split of the data the study's runs opened first (None until opened):
    other counts mean the data changed, and results on both would be compared as one."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="study", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def checkpoint_folder(self) -> str:
        """Where under the checkpoint root the study's runs checkpoint."""
        return self.own_checkpoint_folder or shared_study_folder(self.name)

    @classmethod
    def find_by_name(cls, session: Session, name: str, for_update: bool = False) -> Study | None:
        stmt = select(cls).where(cls.name == name)
        if for_update:
            stmt = stmt.with_for_update()
        return session.scalars(stmt).one_or_none()

    @classmethod
    def find_or_raise_by_name(cls, session: Session, name: str, for_update: bool = False) -> Study:
        study = cls.find_by_name(session, name, for_update)
        if study is None:
            known = ", ".join(sorted(session.scalars(select(cls.name)))) or "none"
            raise NotFoundError(f"no study named {name!r} (studies: {known}); `taskgroup study create` makes one")
        return study

    @classmethod
    def all(cls, session: Session) -> list[Study]:
        """By name in code-point order, the same on every backend (PostgreSQL's collation ignores case)."""
        return sorted(session.scalars(select(cls)), key=lambda study: study.name)

    def size_labels(self) -> list[str]:
        return [size["label"] for size in self.sizes]


MAX_CANDIDATE_TASKS = 2000
"""Characters of a candidate's task list ("depth+normal"); PostgreSQL refuses longer, so study create does."""


class Candidate(Base):
    """One network to train: a subset of the study's tasks at one size, with its declared and measured cost."""

    __tablename__ = "candidate"
    __table_args__ = (UniqueConstraint("study_id", "tasks", "size", name="uq_candidate_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    tasks: Mapped[str] = mapped_column(String(MAX_CANDIDATE_TASKS))
    size: Mapped[str] = mapped_column(String(100))
    cost: Mapped[float] = mapped_column(Float)
    weighting: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    params: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    macs: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_spread_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cost_device: Mapped[str | None] = mapped_column(String(100), nullable=True)

    study: Mapped[Study] = relationship(back_populates="candidates")
    results: Mapped[list[Result]] = relationship(
        back_populates="candidate", cascade="all, delete-orphan", passive_deletes=True
    )
    jobs: Mapped[list[Job]] = relationship(
        back_populates="candidate", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def task_list(self) -> list[str]:
        return self.tasks.split("+")

    @classmethod
    def find_by_key(cls, session: Session, study_id: int, tasks: str, size: str) -> Candidate | None:
        stmt = select(cls).where(cls.study_id == study_id, cls.tasks == tasks, cls.size == size)
        return session.scalars(stmt).one_or_none()

    @classmethod
    def find_or_raise_by_id(cls, session: Session, candidate_id: int, for_update: bool = False) -> Candidate:
        stmt = select(cls).where(cls.id == candidate_id)
        if for_update:
            stmt = stmt.with_for_update()
        candidate = session.scalars(stmt).one_or_none()
        if candidate is None:
            raise NotFoundError(f"no candidate with id {candidate_id}")
        return candidate

    @classmethod
    def all_of_study(cls, session: Session, study_id: int) -> list[Candidate]:
        stmt = select(cls).where(cls.study_id == study_id)
        return sorted(session.scalars(stmt), key=lambda candidate: (candidate.size, candidate.tasks))  # as Study.all


class Job(Base):
    """One training run of one candidate at one stage, claimed by one worker at a time."""

    __tablename__ = "job"
    __table_args__ = (UniqueConstraint("candidate_id", "stage", name="uq_job_candidate_stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    device: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    epochs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    best_epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    wall_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    curve: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    grace: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Seconds without a heartbeat after which the worker that claimed it counts as gone (its
    `--grace`): every command judges the job by its own worker's setting (None: claimed before
    revision 0008, judged by the default)."""
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    candidate: Mapped[Candidate] = relationship(back_populates="jobs")

    @classmethod
    def find_or_raise_by_id(cls, session: Session, job_id: int, for_update: bool = False) -> Job:
        stmt = select(cls).where(cls.id == job_id)
        if for_update:
            stmt = stmt.with_for_update()
        job = session.scalars(stmt).one_or_none()
        if job is None:
            raise NotFoundError(f"no job with id {job_id}")
        return job

    @classmethod
    def all_of_study(cls, session: Session, study_id: int) -> list[Job]:
        return list(session.scalars(select(cls).where(cls.study_id == study_id).order_by(cls.id)))


class Result(Base):
    """One loss of one task of one candidate at one stage on one split."""

    __tablename__ = "result"
    __table_args__ = (
        UniqueConstraint("candidate_id", "stage", "split", "task", name="uq_result_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"), nullable=True)
    stage: Mapped[str] = mapped_column(String(20))
    split: Mapped[str] = mapped_column(String(20))
    task: Mapped[str] = mapped_column(String(200))
    loss: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    candidate: Mapped[Candidate] = relationship(back_populates="results")


class Affinity(Base):
    """One entry of a study's lookahead affinity matrix: how a step on `source` changed `target`'s loss."""

    __tablename__ = "affinity"
    __table_args__ = (UniqueConstraint("study_id", "size", "source", "target", name="uq_affinity_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"), nullable=True)
    size: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    measurements: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @classmethod
    def sizes_of_study(cls, session: Session, study_id: int) -> list[str]:
        """The sizes at which the study's affinities were measured, sorted."""
        return sorted(session.scalars(select(cls.size).where(cls.study_id == study_id).distinct()))
