"""`taskgroup select` and `taskgroup sweep`: the best networks within a budget, and across budgets."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from taskgroup.cli.affinity import note_on_lookahead
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json, print_note, progress_bar
from taskgroup.cli.selection_input import (
    ESTIMATORS_HELP, StudyEvidence, affinity_remedied, check_any_feasible, check_estimable, estimator_names,
    load_study_evidence, naming_options_that_leave_out, note_measured_unit, usable_selectors,
)
from taskgroup.estimators.exact import ExactEstimator
from taskgroup.selection import (
    BaselineRow, InfeasibleRow, Selection, Selector, parse_budgets, parse_task_values, sweep,
)
from taskgroup.selection.names import candidate_label, searched_among
from taskgroup.selection.sweep import RANDOM_SAMPLES
from taskgroup.wording import counted

EstimatorOption = Annotated[str, typer.Option("--estimator", help="exact, esa, hoa or lookahead: what the choice is made on.")]
SolverOption = Annotated[str, typer.Option("--solver", help="bnb (branch-and-bound), bip (OR-Tools integer program) or auto.")]
UnitOption = Annotated[
    str,
    typer.Option(
        "--unit",
        help="Budget unit: relative (measured cost / a full single-task network's, or the declared cost where nothing "
        "is measured), declared (the costs stored with the results: a size's declared cost, or the imported `cost`; as in "
        "the paper), ms, macs or params (need `taskgroup cost`).",
    ),
]
WeightOption = Annotated[list[str], typer.Option("--weight", help="Task weight TASK=W in the objective (repeatable).")]
MaxLossOption = Annotated[list[str], typer.Option("--max-loss", help=(
    "Hard cap TASK=L on the loss a network serving TASK is predicted to have, by the estimator and in its "
    "scale: exact's full-stage validation loss, ESA's early-stage one, HOA's and lookahead's estimates "
    "(repeatable)."))]
RequireOption = Annotated[list[str], typer.Option("--require", help="Candidate that must be chosen, TASKS\\[@SIZE] (repeatable).")]
ForbidOption = Annotated[list[str], typer.Option("--forbid", help="Candidate that must not be chosen, TASKS\\[@SIZE] (repeatable).")]
MaxNetworksOption = Annotated[int | None, typer.Option("--max-networks", help="At most K networks.", min=1)]


def register(app: typer.Typer) -> None:
    app.command("select")(select_command)
    app.command("sweep")(sweep_command)


def selection_options(weight: list[str], max_loss: list[str], require: list[str], forbid: list[str],
                      max_networks: int | None) -> dict[str, Any]:
    return {
        "weights": parse_task_values(weight, "--weight") if weight else None,
        "max_loss": parse_task_values(max_loss, "--max-loss") if max_loss else None,
        "require": tuple(require),
        "forbid": tuple(forbid),
        "max_networks": max_networks,
    }


def select_command(
    name: Annotated[str, typer.Argument(help="Study to choose networks for.")],
    budget: Annotated[float, typer.Option("--budget", help="Inference budget, in --unit.")],
    estimator: EstimatorOption = "exact",
    solver: SolverOption = "auto",
    unit: UnitOption = "relative",
    weight: WeightOption = [],
    max_loss: MaxLossOption = [],
    require: RequireOption = [],
    forbid: ForbidOption = [],
    max_networks: MaxNetworksOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Choose the networks to deploy within a budget, and which task each serves."""
    evidence = load_study_evidence(db, name, unit)
    with affinity_remedied(evidence):
        selector = Selector(evidence.results, estimator, costs=evidence.costs, tasks=evidence.tasks, extras=evidence.extras)
    check_estimable(selector, evidence)
    with naming_options_that_leave_out():
        selection = selector.select(
            budget, solver=solver, **selection_options(weight, max_loss, require, forbid, max_networks)
        )
    if json_output:
        emit_json({**selection.to_json(), "unit": evidence.unit})
    else:
        print_selection(selection, name, evidence.unit)
    note_measured_unit(evidence.unit)
    if isinstance(selector.estimator, ExactEstimator):
        note_exact_scope(evidence)
    note_untrained(selection, evidence)
    note_on_lookahead(name, estimator, evidence.results, evidence.extras, evidence.possible, evidence.tasks,
                      trainable=evidence.trainable)


def note_exact_scope(evidence: StudyEvidence) -> None:
    """Say so where exact's choice is the best trained one, not the exhaustive optimum."""
    trained, possible = len(evidence.trained), evidence.possible
    if trained < possible:
        remedy = (f"`taskgroup plan {evidence.name} --estimator exact` queues the rest" if evidence.trainable
                  else "import the others' results to search them all")
        print_note(f"exact chose {searched_among(trained, possible)}: the best trained choice, not necessarily the "
                   f"best possible ({remedy})")


def note_untrained(selection: Selection, evidence: StudyEvidence) -> None:
    """Name the chosen networks whose real losses are unknown, and how to learn them."""
    untrained = [candidate_label(n.name, n.size) for n in selection.networks if (n.name, n.size) not in evidence.trained]
    if untrained:
        remedy = (f"`taskgroup finalize {evidence.name} --budgets {selection.budget:g} --estimator "
                  f"{selection.estimator}` queues them" if evidence.trainable else "import their full-stage results")
        print_note(f"not trained fully yet, so the real losses are unknown: {', '.join(untrained)} ({remedy})")


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}"


def print_selection(selection: Selection, name: str, unit: str) -> None:
    """The chosen networks as a table, then one line of totals; the cost's unit is named, since
    `relative` means declared costs until `taskgroup cost` has measured the networks."""
    table = Table(title=f"{name}: budget {selection.budget:g} ({selection.estimator})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("network")
    table.add_column("size")
    table.add_column("cost", justify="right")
    table.add_column("serves")
    for index, network in enumerate(selection.networks):
        served = [task for task, i in selection.assignment.items() if i == index]
        table.add_row(str(index), "+".join(network.tasks), network.size, f"{network.cost:g}", ", ".join(served) or "-")
    console.print(table)
    console.print(
        f"cost {selection.cost:g} of {selection.budget:g} ({unit})   predicted loss {selection.predicted_loss:.5f}   "
        f"val loss {_loss(selection.val_loss)}   test loss {_loss(selection.test_loss)}",
        soft_wrap=True,  # one line a script can grep, not wrapped at 80 columns in a pipe
    )


def sweep_command(
    name: Annotated[str, typer.Argument(help="Study to sweep.")],
    budgets: Annotated[str, typer.Option("--budgets", help="START:STOP:STEP (stop included) or a comma list.")] = "1:5:0.5",
    estimators: Annotated[str | None, typer.Option("--estimators", "--estimator", help=ESTIMATORS_HELP, show_default=False)] = None,
    solver: SolverOption = "auto",
    unit: UnitOption = "relative",
    weight: WeightOption = [],
    max_loss: MaxLossOption = [],
    require: RequireOption = [],
    forbid: ForbidOption = [],
    max_networks: MaxNetworksOption = None,
    random_samples: Annotated[int, typer.Option("--random-samples", help=(
        "Distinct random feasible groupings per budget for the random baseline (every one where there are "
        "no more)."), min=1)] = RANDOM_SAMPLES,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random groupings.")] = 0,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Select at every budget with every estimator, next to the baselines: all tasks in one network,
    one network per task, random groupings (mean and spread) and the worst feasible choice.

    The baselines meet the same --max-loss, --require, --forbid and --max-networks as every choice
    (--weight steers the estimators only; --max-loss caps a baseline's full-stage validation loss); a
    baseline nothing meets them with shows as unavailable."""
    budget_list = parse_budgets(budgets)
    evidence = load_study_evidence(db, name, unit)
    usable, notes = usable_selectors(estimator_names(estimators), evidence)
    for note in notes:
        print_note(note)
    with naming_options_that_leave_out(), progress_bar("[progress.description]{task.description}") as bar:
        step = bar.add_task("sweeping", total=None)
        outcome = sweep(
            evidence.results, budget_list, usable, solver=solver, costs=evidence.costs,
            tasks=evidence.tasks, extras=evidence.extras, random_samples=random_samples, seed=seed,
            progress=lambda done, total: bar.update(step, completed=done, total=total),
            **selection_options(weight, max_loss, require, forbid, max_networks),
        )
    check_any_feasible(outcome.selections, budget_list)
    if json_output:
        emit_json([{**row, "unit": evidence.unit} for row in outcome.to_json()])
    else:
        print_sweep(outcome, name)
    note_measured_unit(evidence.unit)
    if any(isinstance(selector.estimator, ExactEstimator) for selector in usable):
        note_exact_scope(evidence)
    for selector in usable:
        note_on_lookahead(name, selector.estimator, evidence.results, evidence.extras, evidence.possible,
                          evidence.tasks, trainable=evidence.trainable)


def _networks(networks: Any) -> str:
    if networks is None:
        return "-"
    return "  ".join("+".join(n.tasks) + ("" if n.size == "full" else f"@{n.size}") for n in networks)


def _random_groupings(row: BaselineRow) -> str:
    """What the random baseline is over: every feasible grouping (maybe only one), or distinct samples."""
    if row.exact:
        return "the only feasible grouping" if row.samples == 1 else f"all {row.samples} feasible groupings"
    return counted(row.samples, "distinct random grouping")


def _spread(std: float | None) -> str:
    """The random baseline's standard deviation over its groupings, under its mean (a line of its
    own keeps the loss columns narrow enough for the networks column on an 80-column terminal)."""
    return "" if std is None else f"\n±{std:.5f}"


def print_sweep(outcome: Any, name: str) -> None:
    table = Table(title=f"{name}: total loss by budget", title_justify="left")
    for column in ("budget", "choice", "networks", "cost", "val loss", "test loss"):
        table.add_column(column, justify="left" if column in ("choice", "networks") else "right",
                         overflow="fold", no_wrap=column != "networks")
    for budget in sorted({row.budget for row in outcome.selections} | {row.budget for row in outcome.baselines}):
        for row in (r for r in outcome.selections if r.budget == budget):
            if isinstance(row, InfeasibleRow):
                table.add_row(f"{budget:g}", row.estimator, "[dim]infeasible[/]", "-", "-", "-")
            else:
                table.add_row(f"{budget:g}", row.estimator, _networks(row.networks), f"{row.cost:g}",
                              _loss(row.val_loss), _loss(row.test_loss))
        for base in (r for r in outcome.baselines if r.budget == budget):
            if base.cost is None:
                networks = "[dim]unavailable[/]"
            elif base.baseline == "random":
                networks = _random_groupings(base)
            else:
                networks = _networks(base.networks)
            table.add_row("", f"[italic]{base.baseline}[/]", networks,
                          "-" if base.cost is None else f"{base.cost:g}", _loss(base.val_loss) + _spread(base.val_loss_std),
                          _loss(base.test_loss) + _spread(base.test_loss_std))
        table.add_section()
    console.print(table)
    reasons = dict.fromkeys(f"{row.estimator} at budget {row.budget:g}: {row.error}"
                            for row in outcome.selections if isinstance(row, InfeasibleRow))
    for reason in reasons:  # why a row says "infeasible": which budget would do, or which task cannot be served
        print_note(reason)
