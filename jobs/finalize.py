"""Finalize: after any estimator, fully train the networks it chose at some budgets.

This closes the paper's protocol for the cheap estimators: ESA ranks candidates by early-stopped
losses, HOA predicts larger networks from pairs and lookahead from one all-task run, but the
networks to deploy must still be trained to convergence before their real losses are known. Every
choice here is made with what is known (`MeasuredFirst`): a network already trained fully is judged
on its real losses, not on its prediction. Once queues one round of full training; `QueuedTraining`
is the "train these networks" step of `taskgroup.finalization.finalize_actively`, which repeats
rounds until the choice stops changing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db import Store
from db.models import Candidate, Job, Study
from db.results import results_frame
from jobs.plans import PlanSummary, add_jobs
from taskgroup.errors import InvalidInputError
from taskgroup.jsonable import json_total
from taskgroup.finalization import Exploration, NetworkKey
from taskgroup.selection import CandidateSpec, Selection, Selector
from taskgroup.selection.build import matching
from taskgroup.wording import counted

FINALIZE_PRIORITY = 10
"""Finalize jobs go ahead of any other queued work of the study."""


@dataclass(frozen=True)
class FinalizeSummary:
    """The networks chosen at each budget, the jobs queued to train them, and the forbidden networks
    whose queued jobs (from an earlier finalize) were removed."""

    estimator: str
    selections: dict[float, Selection]
    plan: PlanSummary
    removed: list[NetworkKey]

    @property
    def chosen(self) -> dict[float, list[NetworkKey]]:
        return {budget: [(n.name, n.size) for n in s.networks] for budget, s in self.selections.items()}

    def to_json(self) -> dict[str, Any]:
        return {"estimator": self.estimator, "budgets": budgets_json(self.selections), **self.plan.to_json(),
                "jobs_removed": len(self.removed)}


def budgets_json(selections: Mapping[float, Selection]) -> list[dict[str, Any]]:
    """Per budget: the chosen networks and, where they are trained fully, their real losses."""
    return [
        {
            "budget": budget,
            "networks": [{"tasks": list(n.tasks), "size": n.size, "cost": n.cost} for n in selection.networks],
            "predicted_loss": json_total(selection.predicted_loss),
            "val_loss": json_total(selection.val_loss),
            "test_loss": json_total(selection.test_loss),
        }
        for budget, selection in selections.items()
    ]


def check_estimates_done(session: Session, study: Study) -> None:
    """Refuse while the plan's own jobs (whose results the estimates need) are queued or running;
    earlier finalize jobs do not count."""
    open_jobs = session.scalar(
        select(func.count()).select_from(Job).where(
            Job.study_id == study.id, Job.state.in_(("queued", "running")), Job.priority < FINALIZE_PRIORITY
        )
    )
    if open_jobs:
        raise InvalidInputError(
            f"study {study.name!r} still has {open_jobs} queued or running jobs; finalize once they are done "
            f"(see `taskgroup status {study.name}`)"
        )


def check_queue_empty(session: Session, study: Study) -> None:
    """Refuse `finalize --until-stable --max-trained` while jobs are queued (by a plain `finalize`, a
    stopped run, or `retry`): its workers would train them too, beyond the limit and uncounted."""
    queued = session.scalar(
        select(func.count()).select_from(Job).where(Job.study_id == study.id, Job.state == "queued")
    )
    if queued:
        raise InvalidInputError(
            f"study {study.name!r} has {counted(queued, 'queued job')} (from an earlier `finalize`, or a stopped run); "
            f"finalize --until-stable would train {'it' if queued == 1 else 'them'} too, outside --max-trained: train {'it' if queued == 1 else 'them'} first (`taskgroup work {study.name}`) or remove "
            f"{'it' if queued == 1 else 'them'} (`taskgroup cancel {study.name}`)"
        )


def queue_full_training(session: Session, study: Study, networks: Sequence[NetworkKey],
                        explored_budget: float | None = None) -> PlanSummary:
    """Queue full-stage jobs for `networks`, ahead of other work (those with results or a job get none);
    `explored_budget`: the budget they explore for, when `finalize --explore` queues them, recorded on
    the study even when their jobs were already queued (by a run that was stopped)."""
    if explored_budget is not None:
        study.last_explored_budget = explored_budget
    return add_jobs(session, study, [(tasks, size, "full") for tasks, size in networks], priority=FINALIZE_PRIORITY)


def remove_forbidden_jobs(session: Session, study: Study, forbid: Iterable[CandidateSpec]) -> list[NetworkKey]:
    """Remove the queued full-training jobs an earlier finalize queued for `forbid` networks, and return
    those networks: a forbidden network is never to be trained, and workers would train them. Running
    ones finish; jobs `plan` queued (lower priority) are the plan's, and finalize refuses while they are open."""
    rows = session.execute(
        select(Job.id, Candidate.tasks, Candidate.size).join(Candidate, Job.candidate_id == Candidate.id).where(
            Job.study_id == study.id, Job.state == "queued", Job.stage == "full", Job.priority >= FINALIZE_PRIORITY
        )
    ).all()
    queued = {(tasks, size): job_id for job_id, tasks, size in rows}
    forbidden = sorted({key for spec in forbid for key in matching(spec, queued)})
    return [key for key in forbidden if _delete_if_queued(session, queued[key])]


def _delete_if_queued(session: Session, job_id: int) -> bool:
    """Whether the job was still queued (a worker may have claimed it meanwhile) and is now removed."""
    return session.execute(delete(Job).where(Job.id == job_id, Job.state == "queued")).rowcount == 1


def finalize_study(session: Session, study: Study, budgets: Sequence[float], selector: Selector,
                   forbid: Iterable[CandidateSpec] = ()) -> FinalizeSummary:
    """Queue full training of every network `selector` chooses at each of `budgets` without the `forbid`
    candidates (an estimator's predictions with the fully trained networks' real losses in their
    place: `known_selector`), and remove the queued jobs of `forbid` networks an earlier finalize
    queued. Idempotent."""
    check_estimates_done(session, study)
    forbid = tuple(forbid)
    selections = {budget: selector.select(budget, forbid=forbid) for budget in budgets}
    networks = [(n.name, n.size) for s in selections.values() for n in s.networks]
    estimator_name = next(iter(selections.values())).estimator
    removed = remove_forbidden_jobs(session, study, forbid)
    return FinalizeSummary(estimator_name, selections, queue_full_training(session, study, networks), removed)


class QueuedTraining:
    """Trains networks through the job queue: queue their full-stage jobs, let `run_workers` work the
    queue off, and read back their full-stage rows (the `train` step of `finalize_actively`)."""

    def __init__(self, store: Store, study: str, run_workers: Callable[[], object],
                 on_round: Callable[[Sequence[NetworkKey], Exploration | None], None] | None = None) -> None:
        self.store = store
        self.study = study
        self.run_workers = run_workers
        self.on_round = on_round

    def __call__(self, networks: Sequence[NetworkKey], exploration: Exploration | None = None) -> pd.DataFrame:
        with self.store.session() as session:
            queue_full_training(session, Study.find_or_raise_by_name(session, self.study), networks,
                                None if exploration is None else exploration.budget)
        if self.on_round is not None:
            self.on_round(networks, exploration)
        self.run_workers()
        with self.store.session() as session:
            frame = results_frame(session, Study.find_or_raise_by_name(session, self.study))
        wanted = set(networks)
        keys = zip(frame["tasks"], frame["size"], strict=True)
        trained = pd.Series([key in wanted for key in keys], index=frame.index, dtype=bool)
        return frame[trained & (frame["stage"] == "full")].reset_index(drop=True)
