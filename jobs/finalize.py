"""Finalize: after an ESA or HOA run, fully train the networks the estimates chose at some budgets.

This closes the paper's protocol for the cheap estimators: ESA ranks candidates by early-stopped
losses and HOA predicts larger networks from pairs, but the networks to deploy must still be
trained to convergence before their real losses are known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Job, Study
from db.results import results_frame
from jobs.plans import PlanSummary, add_jobs
from taskgroup.errors import InvalidInputError
from taskgroup.selection import Selector

FINALIZE_PRIORITY = 10
"""Finalize jobs go ahead of any other queued work of the study."""


@dataclass(frozen=True)
class FinalizeSummary:
    """The networks chosen at each budget and the jobs queued to train them."""

    estimator: str
    chosen: dict[float, list[tuple[str, str]]]
    plan: PlanSummary

    def to_json(self) -> dict[str, Any]:
        return {
            "estimator": self.estimator,
            "budgets": [
                {"budget": budget, "networks": [{"tasks": tasks.split("+"), "size": size} for tasks, size in networks]}
                for budget, networks in self.chosen.items()
            ],
            **self.plan.to_json(),
        }


def finalize_study(session: Session, study: Study, budgets: Sequence[float], estimator: str) -> FinalizeSummary:
    """Queue full training of every network `estimator` selects at each of `budgets` (idempotent)."""
    open_jobs = session.scalar(  # the plan's jobs, whose results the estimates need (not earlier finalize jobs)
        select(func.count()).select_from(Job).where(
            Job.study_id == study.id, Job.state.in_(("queued", "running")), Job.priority < FINALIZE_PRIORITY
        )
    )
    if open_jobs:
        raise InvalidInputError(
            f"study {study.name!r} still has {open_jobs} queued or running jobs; finalize once they are done "
            f"(see `taskgroup status {study.name}`)"
        )
    frame = results_frame(session, study)
    if frame.empty:
        raise InvalidInputError(
            f"study {study.name!r} has no results yet; first run `taskgroup run {study.name} --estimator {estimator}`"
        )
    selector = Selector(frame, estimator, tasks=study.tasks)
    chosen = {
        budget: [(network.name, network.size) for network in selector.select(budget).networks] for budget in budgets
    }
    keys = [(tasks, size, "full") for networks in chosen.values() for tasks, size in networks]
    return FinalizeSummary(selector.estimator.name, chosen, add_jobs(session, study, keys, priority=FINALIZE_PRIORITY))
