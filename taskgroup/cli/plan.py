"""`taskgroup plan` and `configure`: what a study's workers will train, and how (`finalize` is its own module)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from db import open_store
from db.models import Study
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json, option_value, parse_key_values, print_note
from taskgroup.cli.training_changes import changes_note, set_training
from taskgroup.errors import InvalidInputError
from taskgroup.wording import counted

if TYPE_CHECKING:
    from jobs.plans import PlanSummary

EstimatorOption = Annotated[
    str,
    typer.Option("--estimator", help="exact: every subset at every size, fully trained; esa: every candidate at the "
                 "early stage; hoa: singles and pairs, fully trained; lookahead: singles, fully trained (then "
                 "`taskgroup affinity measure`)."),
]
SetOption = Annotated[
    list[str],
    typer.Option("--set", help="Training option KEY=VALUE (repeatable): lr, batch_size, max_epochs, patience, "
                 "weighting, seed, stage_fraction, ... (see docs/scheduler.md)."),
]


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("configure")(configure)


def plan(
    name: Annotated[str, typer.Argument(help="Study name.")],
    estimator: EstimatorOption = "exact",
    settings: SetOption = [],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Queue the training jobs an estimator needs. Planning again adds only what is missing."""
    from jobs.plans import plan_study

    changed: dict[str, Any] = {}
    with open_store(db).session() as session:
        study = Study.find_or_raise_by_name(session, name)
        if settings:
            _, changed = set_training(session, study, parse_key_values(settings, "--set"))
        summary = plan_study(session, study, estimator)
        import_only = not study.dataset
    if json_output:
        emit_json({"study": name, "estimator": estimator, **summary.to_json(), "trainable": not import_only,
                   **({"changed": changed} if settings else {})})
        return
    if settings:
        print_note(changes_note(changed))
    console.print(f"Planned [bold]{estimator}[/] for study [bold]{name}[/]: {planned(summary, name)} "
                  f"({counted(summary.candidates_added, 'new candidate')}).")
    if import_only and summary.jobs_added:
        print_note(f"study {name!r} has no dataset (it holds imported results only): `taskgroup work` cannot train "
                   "these jobs (only `--runner dry` runs them, with made-up losses); `taskgroup cancel` removes them, "
                   "and a study created with --dataset can train")


def planned(summary: PlanSummary, name: str, kind: str = "job") -> str:
    """What planning queued and what it found already there, by state (`plan` and `finalize`)."""
    found = [
        (summary.jobs_done, "already trained"),
        (summary.with_results, "with imported results"),
        (summary.jobs_pending, "already queued or running"),
        (summary.jobs_failed, f"failed before (`taskgroup retry {name}` queues them again)"),
    ]
    text = f"{counted(summary.jobs_added, kind)} queued"
    return "; ".join([text, *(f"{count} {state}" for count, state in found if count)])


def configure(
    name: Annotated[str, typer.Argument(help="Study name.")],
    settings: SetOption = [],
    candidate: Annotated[
        str | None, typer.Option("--candidate", help="TASKS@SIZE: show or set this candidate's own weighting / weighting_options.")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Replace the stored options instead of updating them.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show or change how a study's candidates are trained (stored in the database, used by every worker)."""
    from jobs.manage import stored_training
    from jobs.training_options import effective_training
    from taskgroup.selection import parse_candidate

    key = None
    if candidate is not None:
        tasks, size = parse_candidate(candidate)
        if size is None:
            raise InvalidInputError(f"--candidate {candidate!r} needs a size: TASKS@SIZE, e.g. depth+normal@full")
        key = (tasks, size)
    with open_store(db, create=bool(settings or reset)).session() as session:  # showing only reads
        study = Study.find_or_raise_by_name(session, name)
        changed: dict[str, Any] = {}
        if settings or reset:
            stored, changed = set_training(session, study, parse_key_values(settings, "--set"), candidate=key, reset=reset)
        else:
            stored = stored_training(session, study, key)
    effective = effective_training(stored)
    if json_output:
        emit_json({"study": name, "candidate": candidate, "training": stored, "effective": effective,
                   **({"changed": changed} if settings or reset else {})})
        return
    table = Table("option", "value", "source", title=f"training of {name}" + (f" ({candidate})" if candidate else ""))
    for option, value in effective.items():  # the stored options (`set`) and the defaults
        table.add_row(("[bold]" + option + "[/]") if option in changed else option, option_value(value),
                      "set" if option in stored else "[dim]default[/]")
    console.print(table)
    if settings or reset:
        print_note(changes_note(changed))

