"""Assemble a study's report from plain data: results, candidates, select objects, baselines, jobs.

The caller (the CLI) gathers these from the store and the selection engine; nothing here touches
the database, so the same report can be built from any source.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from taskgroup.affinity import AFFINITY_COLUMNS, corner_label, matrix_table
from taskgroup.estimators.lookahead import study_scaling
from taskgroup.report import figures
from taskgroup.report.affinity import gain_matrix, mutual_gains, pair_gains
from taskgroup.report.compute import EXACT, JOB_COLUMNS, NeedsJob, compute_against_distance, compute_spent, distance_from_exact
from taskgroup.report.document import Figure, Report, Section, Table
from taskgroup.report.selections import (
    SPLIT_WORDS,
    SelectObject,
    choices_table,
    chosen_network_costs,
    curve_split,
    loss_curves,
    serving_losses,
)
from taskgroup.selection.names import exhaustive_count, searched_among
from taskgroup.selection.sweep import RANDOM_SAMPLES
from taskgroup.selection.results import fully_trained

Progress = Callable[[int, int], None]
BASELINE_COLUMNS = ["budget", "baseline", "networks", "cost", "val_loss", "test_loss", "val_loss_std", "test_loss_std"]


@dataclass(frozen=True)
class ReportInput:
    """Everything a report shows. `selections` are `select --json` objects, one per (estimator, budget).

    `baselines` has BASELINE_COLUMNS; `jobs` has compute.JOB_COLUMNS; `needs` maps each estimator
    to the predicate telling which training runs it required; `lookahead_affinity` is the stored
    lookahead matrix in long form (taskgroup.affinity.AFFINITY_COLUMNS; empty if none was measured);
    `size_count` is how many network sizes the study declares, so that the report counts the possible
    networks as select and finalize do.
    """

    study: str
    tasks: Sequence[str]
    results: pd.DataFrame
    candidates: pd.DataFrame
    selections: Sequence[SelectObject]
    baselines: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BASELINE_COLUMNS))
    jobs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=JOB_COLUMNS))
    needs: Mapping[str, NeedsJob] = field(default_factory=dict)
    lookahead_affinity: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=AFFINITY_COLUMNS))
    size_count: int = 1
    notes: Sequence[str] = ()
    selection_options: Mapping[str, Any] = field(default_factory=dict)
    """The options every choice was made under, as `sweep` takes them (weights, max_loss, require,
    forbid, max_networks; candidates as TASKS[@SIZE] strings); those not given may be absent or empty."""
    unit: str = ""
    """The cost unit the budgets are in, as `--unit` names it (`declared`, `relative`, `ms`, ...)."""
    budget_unit: str = ""
    """What the budgets count (e.g. "measured latency in milliseconds"); stated with the loss curve."""


def build_report(data: ReportInput, progress: Progress | None = None) -> Report:
    """The report's six sections, figures drawn; `progress(done, total)` after each section."""
    steps: list[Callable[[ReportInput], Section]] = [
        _loss_section, _grouping_section, _affinity_section, _serving_section, _cost_section, _compute_section,
    ]
    sections = []
    for done, step in enumerate(steps, start=1):
        sections.append(step(data))
        if progress is not None:
            progress(done, len(steps))
    estimators = list(dict.fromkeys(s["estimator"] for s in data.selections))
    budgets = sorted({float(s["budget"]) for s in data.selections})
    summary = (
        f"Study {data.study}: {len(data.tasks)} tasks ({', '.join(data.tasks)}), "
        f"{data.candidates.shape[0]} candidate networks, estimators {', '.join(estimators) or 'none'}, "
        f"budgets {', '.join(f'{b:g}' for b in budgets) or 'none'}." + _exact_searched(data, estimators)
        + _constraints_text(data.selection_options)
    )
    document = {
        "study": data.study,
        "tasks": list(data.tasks),
        "budgets": budgets,
        "unit": data.unit,
        "estimators": estimators,
        "selection_options": _given(data.selection_options),
        "selections": [dict(s) for s in data.selections],
    }
    return Report(data.study, f"taskgroup report: {data.study}", summary, tuple(sections), document, tuple(data.notes))


OPTION_FLAGS = {"weights": "--weight", "max_loss": "--max-loss", "require": "--require", "forbid": "--forbid",
                "max_networks": "--max-networks"}
"""The `select` option of each selection keyword, for the report to state the choices' constraints."""


def _given(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that constrain the choices: those given, not empty."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in options.items()
            if value not in (None, (), [], {})}


def _constraints_text(options: Mapping[str, Any]) -> str:
    """A sentence naming the selection options every choice was made under, so that a reader does not
    take a constrained choice for the unconstrained optimum; empty where none was given."""
    given = _given(options)
    if not given:
        return ""
    parts = []
    for name, value in given.items():
        flag = OPTION_FLAGS[name]
        if isinstance(value, Mapping):
            parts += [f"{flag} {task}={number:g}" for task, number in value.items()]
        elif isinstance(value, list):
            parts += [f"{flag} {item}" for item in value]
        else:
            parts.append(f"{flag} {value}")
    return (f" Every choice was made under {', '.join(parts)} (as `taskgroup select` takes them); the baselines "
            "meet them too, --weight aside (they are scored on unweighted losses).")


def _loss_section(data: ReportInput) -> Section:
    curves = loss_curves(data.selections, data.baselines)
    split = SPLIT_WORDS[curve_split(curves)]
    return Section(
        "loss-vs-budget",
        "Total loss against budget",
        f"Sum over tasks of the {split} losses of the networks serving them, for the set each estimator "
        "chose at each budget, next to the baselines (the paper's Figure 4): all tasks in one network, one "
        "network per task, random groupings (band: one standard deviation) and the worst feasible grouping. "
        "Lower is better." + (f" Budgets are in {data.budget_unit}." if data.budget_unit else ""),
        figures=(Figure("loss_vs_budget", f"Total {split} loss against budget", figures.loss_vs_budget(curves)),),
        tables=(Table("choices", "Chosen sets, as taskgroup select --json prints them; each estimator chose from its own "
                      "training runs only (lookahead from its singles and its all-task run)", choices_table(data.selections)),
                Table("baselines", "Baselines where feasible (as in taskgroup sweep --json; random: mean and spread over every "
                      f"feasible grouping, or over a seeded sample of distinct ones where there are more than {RANDOM_SAMPLES})",
                      data.baselines.dropna(subset=["cost"]).reset_index(drop=True)),
                Table("loss_vs_budget", "Loss-against-budget series", curves)),
    )


def _grouping_section(data: ReportInput) -> Section:
    estimators = list(dict.fromkeys(s["estimator"] for s in data.selections))
    return Section(
        "groupings",
        "Chosen groupings",
        "Which networks each estimator deploys at each budget. Each task (left) is joined to the "
        "networks that include it (right); the solid edge goes to the network that serves it: the "
        "chosen network with its lowest validation loss.",
        figures=tuple(
            Figure(f"groupings_{name}", f"Groupings chosen by {name}", figures.groupings(data.selections, data.tasks, name))
            for name in estimators
        ),
    )


def _affinity_section(data: ReportInput) -> Section:
    gains = pair_gains(data.results)
    tables = [Table("affinity", "Gain of each task with each partner (fraction of its loss alone)", gains),
              Table("affinity_pairs", "Mutual gain of each pair (mean of its two tasks' gains)", mutual_gains(gains))]
    for size in dict.fromkeys(gains["size"]):
        matrix = gain_matrix(gains, size, data.tasks).reset_index(names=corner_label("task", "partner"))
        tables.append(Table(f"affinity_matrix_{size}", f"Gain matrix, {size} size (row task trained with column task)", matrix))
    text = (
        "For task a trained with partner b: (loss of a alone - loss of a in the pair) / loss of a alone, "
        "on fully trained test losses at the same size (the paper's Tables 1-2). Positive: the partner helps."
    )
    if gains.empty:
        text += " No single-task and pair networks of the same size have test results, so there is nothing to show."
    heatmap = () if gains.empty else (
        Figure("affinity_heatmap", "Pairwise gain heatmap", figures.affinity_heatmap(gains, data.tasks)),)
    for size in dict.fromkeys(data.lookahead_affinity["size"]):
        matrix = matrix_table(data.lookahead_affinity, size, data.tasks).reset_index(names=corner_label("source", "target"))
        tables.append(Table(f"lookahead_affinity_{size}", f"Lookahead affinity, {size} size (row: task stepped on; "
                            "column: relative drop of that task's loss)", matrix))
    if not data.lookahead_affinity.empty:
        text += (" The lookahead affinity tables (taskgroup affinity measure, one all-task run) show how much one "
                 "step on the row task's loss lowered the column task's loss, relative to it: positive helps.")
        text += _lookahead_scaling_text(data)
    return Section(
        "affinity", "Pairwise task affinity", text,
        figures=heatmap,
        tables=tuple(tables),
    )


def _lookahead_scaling_text(data: ReportInput) -> str:
    """The scaling behind the report's lookahead rows (fitted to lookahead's own runs, as those rows
    were chosen), and the one `select` fits to every trained network when that differs."""
    needs = data.needs.get("lookahead")
    if needs is None:
        own = study_scaling(data.results, data.lookahead_affinity)
        return f" {own.summary()}" + (f" {own.contradiction()}" if own.contradiction() else "")
    runs = [needs(tasks, size, stage) for tasks, size, stage in
            zip(data.results["tasks"], data.results["size"], data.results["stage"], strict=True)]
    own = study_scaling(data.results[runs], data.lookahead_affinity)
    text = f" For lookahead's rows, fitted to its own runs (the singles and the all-task run): {own.summary()}"
    text += f" {own.contradiction()}" if own.contradiction() else ""
    every = study_scaling(data.results, data.lookahead_affinity)
    if every != own:
        text += (f" `taskgroup select --estimator lookahead`, which uses every trained network's losses, fits "
                 f"another: {every.summary()}" + (f" {every.contradiction()}" if every.contradiction() else ""))
    return text


def _serving_section(data: ReportInput) -> Section:
    return Section(
        "serving-losses", "Per-task losses of the serving networks",
        "For every chosen set, each task's serving network and that network's fully trained "
        "validation and test loss for the task (blank where not measured).",
        tables=(Table("serving_losses", "Per-task losses", serving_losses(data.selections, data.results)),),
    )


def _cost_section(data: ReportInput) -> Section:
    costs = chosen_network_costs(data.selections, data.candidates)
    measured = costs[["params", "macs", "latency_ms"]].notna().any(axis=None) if not costs.empty else False
    text = "Every network chosen anywhere in the sweep: its cost in the study's unit and its measured cost."
    if not measured:
        text += " No measured costs are recorded for these networks (run `taskgroup cost NAME` to measure them)."
    return Section("network-costs", "Cost of the chosen networks", text,
                   tables=(Table("network_costs", "Chosen networks and their cost", costs),))


def _exact_searched(data: ReportInput, estimators: Sequence[str]) -> str:
    """Where not every network is fully trained, what exact's choice (the reference of every distance) is."""
    if EXACT not in estimators:
        return ""
    trained = len(fully_trained(data.results))
    possible = exhaustive_count(len(data.tasks), data.size_count)
    if trained >= possible:
        return ""
    return f" Exact chose {searched_among(trained, possible)}; distances are measured from that choice."


def _compute_section(data: ReportInput) -> Section:
    estimators = list(dict.fromkeys(s["estimator"] for s in data.selections))
    distances = distance_from_exact(data.selections)
    spent = compute_spent(data.jobs, {name: need for name, need in data.needs.items() if name in estimators})
    summary = compute_against_distance(spent, distances, estimators)
    text = (
        "Training each estimator needed (candidate-epochs and device-hours of its finished jobs) against "
        "how far its choices' test loss is above the exact optimum's at the same budget."
    )
    if EXACT not in estimators:
        text += " The exact estimator is not in this report, so distances are not available."
    text += _exact_searched(data, estimators)
    if data.jobs.empty:
        text += " No training jobs are recorded for this study (its results were imported), so compute is zero."
    found: list[Figure] = []
    if not distances.empty:
        found.append(Figure("distance_from_exact", "Distance from the exact optimum", figures.distance_by_budget(distances)))
    measure = "device_hours" if (summary["device_hours"] > 0).any() else "candidate_epochs"
    if (summary[measure] > 0).any() and summary["mean_distance"].map(math.isfinite).any():
        found.append(Figure("compute_vs_distance", "Compute against distance", figures.compute_against_distance(summary, measure)))
    return Section(
        "compute", "Compute spent against distance from the optimum", text,
        figures=tuple(found),
        tables=(Table("compute", "Compute and distance per estimator", summary),
                Table("distance", "Distance from the exact optimum per budget", distances)),
    )
