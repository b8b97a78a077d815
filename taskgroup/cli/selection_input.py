"""What `select`, `sweep` and `report` read from the store before choosing networks."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from db import open_store
from db.affinity import load_affinity
from db.models import Study
from db.results import candidates_frame, results_frame
from taskgroup.cli.affinity import affinity_remedy
from taskgroup.cli.common import parse_names, print_note
from taskgroup.cost import MEASURED_COLUMNS, UNITS, CostMeasurement, candidate_costs, reference_size
from taskgroup.errors import InfeasibleError, InvalidInputError, UnknownNameError
from taskgroup.estimators import ESTIMATORS, get_estimator
from taskgroup.estimators.lookahead import MissingAffinityError
from taskgroup.estimators.own_runs import OwnRunsOnly, RunKey
from taskgroup.selection import InfeasibleRow, Selection, Selector, TooFarApartError
from taskgroup.selection.names import exhaustive_count
from taskgroup.selection.results import fully_trained
from taskgroup.wording import counted

DECLARED_UNIT = "declared"
"""The candidates' declared costs (the paper's units: a size's cost from `--sizes`, or the imported `cost`)."""

EVERY_ESTIMATOR = sorted(ESTIMATORS.names(), key=lambda name: name != "exact")
"""`sweep` and `report` compare every registered estimator by default, exact first: the reference."""

ESTIMATORS_HELP = (f"Comma-separated estimators to compare. Default: every one the study's results can serve "
                   f"({', '.join(EVERY_ESTIMATOR)}).")


@dataclass(frozen=True)
class StudyEvidence:
    """A study's results frame, cost overrides for the chosen unit and extra estimator tables."""

    name: str
    tasks: list[str]
    results: pd.DataFrame
    costs: dict[tuple[str, str], float] | None
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
    size_count: int = 1
    """How many sizes the study declares (an exhaustive search trains every subset at each)."""
    trainable: bool = True
    """Whether the study has a dataset to train on (else it holds imported results only)."""
    unit: str = DECLARED_UNIT
    """The unit `costs` are in: the one asked for, or declared (`relative` before any measurement)."""

    @cached_property
    def trained(self) -> set[tuple[str, str]]:
        """The (tasks, size) networks trained fully: what exact chooses among."""
        return fully_trained(self.results)

    @property
    def possible(self) -> int:
        """How many networks an exhaustive search of the study trains."""
        return exhaustive_count(len(self.tasks), self.size_count)


def load_study_evidence(db: str | None, name: str, unit: str = "relative") -> StudyEvidence:
    """Read a study for selection; `unit` other than the declared `relative` needs measured costs."""
    with open_store(db, create=False).session() as session:
        study = Study.find_or_raise_by_name(session, name)
        results = results_frame(session, study)
        candidates = candidates_frame(session, study)
        affinity = load_affinity(session, study)
        tasks, sizes = list(study.tasks), list(study.sizes)
        size_count, trainable = len(sizes), bool(study.dataset)
    if results.empty:
        raise InvalidInputError(f"study {name!r} has no results yet: {_how_to_get_results(name, trainable)}")
    missing = [task for task in tasks if task not in set(results["task"])]
    if missing:
        raise InvalidInputError(
            f"{counted(len(missing), 'task')} of study {name!r} {'has' if len(missing) == 1 else 'have'} no results yet "
            f"({', '.join(missing)}), so no choice can serve every task: {_how_to_get_results(name, trainable)}")
    extras = {"affinity": affinity} if not affinity.empty else {}
    costs = measured_costs(candidates, unit, name, sizes)
    if costs is not None:
        unmeasured = sorted({(row.tasks, row.size) for row in results.itertuples(index=False)} - set(costs))
        if unmeasured:
            tasks_, size = unmeasured[0]
            raise InvalidInputError(
                f"{counted(len(unmeasured), 'candidate')} with results {'has' if len(unmeasured) == 1 else 'have'} no measured cost (e.g. {tasks_}@{size}); "
                f"run `taskgroup cost {name}` to measure them, or use --unit declared"
            )
    return StudyEvidence(name, tasks, results, costs, extras, size_count, trainable, DECLARED_UNIT if costs is None else unit)


def note_measured_unit(unit: str) -> None:
    """Say so where `relative` means measured costs: until `taskgroup cost` ran it meant the declared
    ones, so budgets and costs compared with an earlier run's may differ for that reason alone."""
    if unit == "relative":  # `StudyEvidence.unit`: declared where nothing is measured
        print_note("--unit relative: costs are measured latency (`taskgroup cost`) relative to a full-size "
                   "single-task network, not the declared costs (--unit declared)")


UNIT_WORDS = {
    DECLARED_UNIT: "declared costs (each size's cost from --sizes, or the imported cost: the paper's units, "
                   "1 = a full-size single-task network)",
    "relative": "measured latency relative to a full-size single-task network",
    "ms": "measured latency in milliseconds",
    "macs": "multiply-accumulates per image",
    "params": "parameters",
}
"""What a budget counts in each unit, for reports."""


def _how_to_get_results(study: str, trainable: bool, estimator: str | None = None) -> str:
    """The command that fills a study's gap: training where it has a dataset, else importing."""
    if not trainable:
        return f"import them (`taskgroup import {study} FILE`); the study has no dataset to train on"
    return f"train them (`taskgroup run {study}{f' --estimator {estimator}' if estimator else ''}`) or import them"


def measured_costs(candidates: pd.DataFrame, unit: str, name: str,
                   sizes: list[dict[str, Any]]) -> dict[tuple[str, str], float] | None:
    """Costs in `unit` from the candidates' measurements; None keeps the declared costs (`declared`,
    or `relative` without measurements, as for imported results). `relative` is scaled by the
    study's reference size (`sizes`: the study's, see `reference_size`)."""
    if unit == DECLARED_UNIT:
        return None
    if unit not in UNITS:
        known = ", ".join(sorted([DECLARED_UNIT, *UNITS.names()]))
        raise UnknownNameError(f"unknown cost unit {unit!r} (known: {known})")
    measured = candidates.dropna(subset=list(MEASURED_COLUMNS))
    if unit == "relative" and measured.empty:
        return None
    if measured.empty:
        raise InvalidInputError(f"--unit {unit} needs measured costs: run `taskgroup cost {name}` first")
    measurements = {(row.tasks, row.size): CostMeasurement.from_stored(row) for row in measured.itertuples(index=False)}
    size, declared = reference_size(sizes)
    return candidate_costs(measurements, unit, reference_size=size, reference_cost=declared)


@contextmanager
def affinity_remedied(evidence: StudyEvidence) -> Iterator[None]:
    """Around making a Selector: a missing affinity matrix, which the estimator reports without a
    remedy (it knows no studies), as an error that says how this study gets one."""
    try:
        yield
    except MissingAffinityError as missing:
        if len(evidence.tasks) == 1:  # `affinity measure` refuses it: there is no other task to measure
            raise InvalidInputError(f"study {evidence.name!r} has one task ({evidence.tasks[0]}): lookahead has no "
                                    "tasks to group; --estimator exact chooses among its sizes") from None
        raise InvalidInputError(f"{missing}; {affinity_remedy(evidence.name, evidence.trainable)}") from None


def estimator_names(option: str | None) -> list[str] | None:
    """The estimators an `--estimators a,b` option names, in order; None (not given) means every one."""
    return None if option is None else parse_names(option, "--estimators")


def usable_selectors(
    names: list[str] | None, evidence: StudyEvidence, own_runs: Mapping[str, Collection[RunKey]] | None = None
) -> tuple[list[Selector], list[str]]:
    """A prepared selector for each estimator among `names` (None: every registered one) that can
    estimate from the study's evidence (estimated once, so `sweep` reuses it), and notes on those
    left out: one each for named estimators, one line for the rest (an imported study has no
    affinities for lookahead, and needs no reminder of why at length). An unknown name is an error;
    so is a study no estimator can serve, with every reason. With `own_runs`, an estimator listed
    there estimates from the results of those runs alone (`report`: the paper's protocol)."""
    usable, reasons = [], {}
    for name in EVERY_ESTIMATOR if names is None else names:
        estimator = get_estimator(name)
        if own_runs is not None and name in own_runs:
            estimator = OwnRunsOnly(estimator, own_runs[name])
        try:
            with affinity_remedied(evidence):
                selector = Selector(evidence.results, estimator, costs=evidence.costs, tasks=evidence.tasks,
                                    extras=evidence.extras)
        except InvalidInputError as missing:
            reasons[name] = (f"estimator {name}: {missing}", f"estimator {name} left out: {missing}")
            continue
        if selector.estimates.empty:
            reason = nothing_to_estimate(selector, evidence)
            reasons[name] = (reason, f"{reason}; left out")
        else:
            usable.append(selector)
    if not usable:
        raise InvalidInputError(f"no estimator can select for study {evidence.name!r}. " + " ".join(
            f"{reason.rstrip('.')}." for reason, _ in reasons.values()))
    if names is None and reasons:
        needs = ", ".join(f"{name} (needs {ESTIMATORS.get(name).needs})" for name in reasons)
        return usable, [f"not compared, with nothing to estimate from: {needs}"]
    return usable, [note for _, note in reasons.values()]


def check_estimable(selector: Selector, evidence: StudyEvidence) -> None:
    """Refuse a choice by an estimator that has nothing to estimate from (`select`, `finalize`)."""
    if selector.estimates.empty:
        raise InvalidInputError(nothing_to_estimate(selector, evidence))


def nothing_to_estimate(selector: Selector, evidence: StudyEvidence) -> str:
    """Why `selector` cannot choose for the study, and the command that gets what it needs."""
    name = selector.estimator.name
    return (f"estimator {name} has nothing to estimate from in study {evidence.name!r}: it needs "
            f"{selector.estimator.needs} ({_how_to_get_results(evidence.name, evidence.trainable, name)})")


def check_any_feasible(rows: Sequence[Selection | InfeasibleRow], budgets: Sequence[float]) -> None:
    """A sweep where no estimator can choose at any budget is an error, as such a `select` is: a
    table of nothing but "infeasible" is no answer (`sweep`, `report`)."""
    if rows and all(isinstance(row, InfeasibleRow) for row in rows):
        raise InfeasibleError(f"no estimator can choose at budget{'s' if len(budgets) > 1 else ''} "
                              f"{', '.join(f'{budget:g}' for budget in budgets)}: {rows[0].error}")


@contextmanager
def naming_options_that_leave_out(*, max_loss: bool = True) -> Iterator[None]:
    """Add to a `TooFarApartError` the options that leave its culprit out: --forbid, and for a loss
    --max-loss where the command has it (`select`, `sweep` and `report`, whose baselines honour it
    too; not `finalize`)."""
    try:
        yield
    except TooFarApartError as error:
        cap = "" if error.task is None or not max_loss else f" (or cap {error.task}'s loss with --max-loss {error.task}=L)"
        raise InvalidInputError(f"{error}, or leave {error.candidate} out with --forbid {error.candidate}{cap}") from error
