"""`taskgroup select` and `taskgroup sweep`: the best networks within a budget, and across budgets."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from taskgroup.cli.common import DbOption, JsonOption, console, emit_json
from taskgroup.cli.selection_input import load_study_evidence
from taskgroup.errors import InvalidInputError
from taskgroup.selection import Selection, Selector

EstimatorOption = Annotated[str, typer.Option("--estimator", help="exact, esa, hoa or lookahead: what the choice is made on.")]
SolverOption = Annotated[str, typer.Option("--solver", help="bnb (branch-and-bound), bip (OR-Tools integer program) or auto.")]
UnitOption = Annotated[
    str, typer.Option("--unit", help="Budget unit: relative (single-task networks), ms, macs or params (need `taskgroup cost`).")
]
WeightOption = Annotated[list[str], typer.Option("--weight", help="Task weight TASK=W in the objective (repeatable).")]
MaxLossOption = Annotated[list[str], typer.Option("--max-loss", help="Hard cap TASK=L on a task's loss (repeatable).")]
RequireOption = Annotated[list[str], typer.Option("--require", help="Candidate that must be chosen, TASKS[@SIZE] (repeatable).")]
ForbidOption = Annotated[list[str], typer.Option("--forbid", help="Candidate that must not be chosen, TASKS[@SIZE] (repeatable).")]
MaxNetworksOption = Annotated[int | None, typer.Option("--max-networks", help="At most K networks.", min=1)]


def register(app: typer.Typer) -> None:
    app.command("select")(select_command)


def parse_task_values(items: list[str], option: str) -> dict[str, float] | None:
    """`TASK=NUMBER` items into a mapping; None when the option was not given."""
    if not items:
        return None
    values: dict[str, float] = {}
    for item in items:
        task, sep, number = item.partition("=")
        if not sep or not task.strip():
            raise InvalidInputError(f"{option} {item!r} is not TASK=NUMBER")
        try:
            values[task.strip()] = float(number)
        except ValueError:
            raise InvalidInputError(f"{option} {item!r}: {number!r} is not a number") from None
    return values


def selection_options(weight: list[str], max_loss: list[str], require: list[str], forbid: list[str],
                      max_networks: int | None) -> dict[str, Any]:
    return {
        "weights": parse_task_values(weight, "--weight"),
        "max_loss": parse_task_values(max_loss, "--max-loss"),
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
    selector = Selector(evidence.results, estimator, costs=evidence.costs, tasks=evidence.tasks, extras=evidence.extras)
    selection = selector.select(
        budget, solver=solver, **selection_options(weight, max_loss, require, forbid, max_networks)
    )
    if json_output:
        emit_json(selection.to_json())
    else:
        print_selection(selection, name)


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}"


def print_selection(selection: Selection, name: str) -> None:
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
        f"cost {selection.cost:g} of {selection.budget:g}   predicted loss {selection.predicted_loss:.5f}   "
        f"val loss {_loss(selection.val_loss)}   test loss {_loss(selection.test_loss)}"
    )
