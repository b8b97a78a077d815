"""Plans: which (candidate, stage) jobs an estimator needs, and creating them idempotently.

`exact` needs every task subset at every size fully trained; `esa` every candidate at the
early stage (the full training of the chosen networks comes later, from `finalize`); `hoa` only
singles and pairs, fully trained; `lookahead` only singles, fully trained (plus one all-task run
from `taskgroup affinity measure`). Planning twice adds nothing; candidates that already have
results at the stage (imported, or trained before) get no job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Candidate, Job, Result, Study
from taskgroup.registry import Registry

JobKey = tuple[str, str, str]
"""(tasks joined by `+`, size label, stage)"""


class Plan(ABC):
    """The jobs one estimator needs before it can estimate."""

    name: ClassVar[str]

    @abstractmethod
    def jobs(self, tasks: Sequence[str], sizes: Sequence[str]) -> Iterator[JobKey]:
        """Every job of the plan, smallest subsets first."""

    def runs(self, tasks: Sequence[str], sizes: Sequence[str], affinity_sizes: Collection[str] = ()) -> Iterator[JobKey]:
        """Every training run the estimator depends on, queued or not: what its compute is, and the
        results reports let it estimate from. `affinity_sizes`: the sizes at which `taskgroup
        affinity measure` trained the all-task network (lookahead's one run; others ignore it)."""
        return self.jobs(tasks, sizes)


PLANS: Registry[type[Plan]] = Registry("plan")


def subsets(tasks: Sequence[str], max_size: int | None = None) -> Iterator[str]:
    """Canonical names of the non-empty subsets of `tasks` (up to `max_size` tasks), by size then name."""
    ordered = sorted(tasks)
    for k in range(1, min(len(ordered), max_size or len(ordered)) + 1):
        for subset in combinations(ordered, k):
            yield "+".join(subset)


@PLANS.register("exact")
class ExactPlan(Plan):
    """Every subset at every size, trained to convergence."""

    name = "exact"

    def jobs(self, tasks: Sequence[str], sizes: Sequence[str]) -> Iterator[JobKey]:
        for size in sizes:
            for name in subsets(tasks):
                yield name, size, "full"


@PLANS.register("esa")
class EarlyStoppingPlan(Plan):
    """Every subset at every size at the early stage (ESA), to be finalized later."""

    name = "esa"

    def jobs(self, tasks: Sequence[str], sizes: Sequence[str]) -> Iterator[JobKey]:
        for size in sizes:
            for name in subsets(tasks):
                yield name, size, "early"


@PLANS.register("hoa")
class HigherOrderPlan(Plan):
    """Singles and pairs at every size, trained to convergence (HOA predicts the rest)."""

    name = "hoa"

    def jobs(self, tasks: Sequence[str], sizes: Sequence[str]) -> Iterator[JobKey]:
        for size in sizes:
            for name in subsets(tasks, max_size=2):
                yield name, size, "full"


@PLANS.register("lookahead")
class LookaheadPlan(Plan):
    """Singles at every size, trained to convergence: the lookahead estimator scales each task's
    single-task loss by the affinities that one all-task run measures (`taskgroup affinity measure`,
    which is not a queued job: it trains with lookahead measurements and stores the matrix, and
    records its run as the all-task network's finished job)."""

    name = "lookahead"

    def jobs(self, tasks: Sequence[str], sizes: Sequence[str]) -> Iterator[JobKey]:
        for size in sizes:
            for name in subsets(tasks, max_size=1):
                yield name, size, "full"

    def runs(self, tasks: Sequence[str], sizes: Sequence[str], affinity_sizes: Collection[str] = ()) -> Iterator[JobKey]:
        yield from self.jobs(tasks, sizes)
        for size in sizes:
            if size in affinity_sizes:
                yield "+".join(sorted(tasks)), size, "full"


@dataclass(frozen=True)
class PlanSummary:
    """What planning changed, for the CLI to report."""

    planned: int
    candidates_added: int
    jobs_added: int
    jobs_existing: int
    with_results: int
    jobs_done: int = 0
    """Of `jobs_existing`, those already trained (the rest are queued, running or failed)."""
    jobs_failed: int = 0

    @property
    def jobs_pending(self) -> int:
        """Existing jobs still queued or running."""
        return self.jobs_existing - self.jobs_done - self.jobs_failed

    def to_json(self) -> dict[str, int]:
        return {
            "planned": self.planned,
            "candidates_added": self.candidates_added,
            "jobs_added": self.jobs_added,
            "jobs_existing": self.jobs_existing,
            "jobs_done": self.jobs_done,
            "jobs_failed": self.jobs_failed,
            "with_results": self.with_results,
        }


def plan_study(session: Session, study: Study, estimator: str) -> PlanSummary:
    """Create the jobs `estimator` needs for `study` (inside the caller's transaction)."""
    keys = list(PLANS.get(estimator)().jobs(study.tasks, study.size_labels()))
    return add_jobs(session, study, keys)


def add_jobs(session: Session, study: Study, keys: Iterable[JobKey], priority: int = 0) -> PlanSummary:
    """Queue a job for each (tasks, size, stage) that has neither a job nor results yet; candidates
    are created as needed, at their size's declared cost."""
    keys = list(dict.fromkeys(keys))
    size_cost = {size["label"]: float(size["cost"]) for size in study.sizes}
    candidates = {(c.tasks, c.size): c for c in Candidate.all_of_study(session, study.id)}
    jobs = {
        (candidate_id, stage): state
        for candidate_id, stage, state in session.execute(
            select(Job.candidate_id, Job.stage, Job.state).where(Job.study_id == study.id)
        )
    }
    with_results = {
        (candidate_id, stage)
        for candidate_id, stage in session.execute(
            select(Result.candidate_id, Result.stage).join(Candidate).where(Candidate.study_id == study.id).distinct()
        )
    }
    missing = list(dict.fromkeys((tasks, size) for tasks, size, _ in keys if (tasks, size) not in candidates))
    for tasks, size in missing:
        candidates[(tasks, size)] = Candidate(study_id=study.id, tasks=tasks, size=size, cost=size_cost[size])
    session.add_all(candidates[key] for key in missing)
    session.flush()
    added_jobs, skipped, existing = 0, 0, Counter()
    for tasks, size, stage in keys:
        candidate = candidates[(tasks, size)]
        if (candidate.id, stage) in jobs:
            existing[jobs[(candidate.id, stage)]] += 1
        elif (candidate.id, stage) in with_results:
            skipped += 1
        else:
            session.add(Job(study_id=study.id, candidate_id=candidate.id, stage=stage, state="queued",
                            priority=priority, attempts=0))
            jobs[(candidate.id, stage)] = "queued"
            added_jobs += 1
    session.flush()
    return PlanSummary(len(keys), len(missing), added_jobs, existing.total(), skipped,
                       jobs_done=existing["done"], jobs_failed=existing["failed"])
