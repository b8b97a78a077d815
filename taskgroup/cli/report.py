"""`taskgroup report NAME --out DIR`: the deliverable of a study, as HTML, Markdown, CSV and JSON.

This module gathers the data from the store and the selection engine; `taskgroup.report` builds
and writes the report from plain frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from sqlalchemy.orm import Session

from db import open_store
from db.models import Job, Study
from db.results import candidates_frame
from jobs.plans import PLANS
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json, parse_names, print_note, progress_bar
from taskgroup.cli.select import (
    ForbidOption, MaxLossOption, MaxNetworksOption, RequireOption, UnitOption, WeightOption, selection_options,
)
from taskgroup.cli.selection_input import (
    ESTIMATORS_HELP, UNIT_WORDS, check_any_feasible, estimator_names, load_study_evidence, naming_options_that_leave_out,
    note_measured_unit, usable_selectors,
)
from taskgroup.selection import BaselineRow, Selection, parse_budgets, sweep

if TYPE_CHECKING:  # the report package draws with matplotlib: loaded by the commands that write one
    from taskgroup.report import ReportInput
    from taskgroup.report.compute import NeedsJob

DEFAULT_FORMATS = "html,md,csv,json"


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    name: Annotated[str, typer.Argument(help="Study to report on.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the report into (created if missing).")],
    formats: Annotated[str, typer.Option("--format", help="Comma-separated formats: html, md, csv, json.")] = DEFAULT_FORMATS,
    budgets: Annotated[
        str | None,
        typer.Option("--budgets", help="Budgets as START:STOP:STEP (inclusive) or a comma list. Default: 1 to the number of tasks, step 0.5.",
                     show_default=False),
    ] = None,
    estimators: Annotated[
        str | None, typer.Option("--estimators", "--estimator", help=ESTIMATORS_HELP, show_default=False)
    ] = None,
    unit: UnitOption = "relative",
    weight: WeightOption = [],
    max_loss: MaxLossOption = [],
    require: RequireOption = [],
    forbid: ForbidOption = [],
    max_networks: MaxNetworksOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write a study's report: loss against budget per estimator and baseline, the chosen groupings,
    pairwise task affinity, per-task losses, the chosen networks' cost and each estimator's compute.

    The selection options (--weight, --max-loss, --require, --forbid, --max-networks) apply to every
    choice, as in `sweep`, and the report states them; the baselines meet them too, --weight aside."""
    options = selection_options(weight, max_loss, require, forbid, max_networks)
    with naming_options_that_leave_out():
        written = make_report(db, name, out, parse_names(formats, "--format"), budgets=budgets,
                              estimators=estimator_names(estimators), unit=unit, options=options)
    files = [str(path) for paths in written.values() for path in paths]
    if json_output:
        emit_json({"study": name, "out": str(out), "files": files})
        return
    main = out / "report.html" if "html" in written else Path(files[0])
    console.print(f"Report of [bold]{name}[/] written to {out} ({len(files)} files); open {main}")


def make_report(
    db: str | None, name: str, out: Path, formats: Sequence[str], *, budgets: str | None, estimators: Sequence[str] | None,
    unit: str = "relative", options: Mapping[str, Any] | None = None,
) -> dict[str, list[Path]]:
    """Gather, build and write the report with progress bars on stderr; used by `report` and `demo`.
    `options` are `selection_options(...)`, for every choice (None: unconstrained)."""
    from taskgroup.report import build_report, report_writers, write_report

    report_writers(out, formats)  # a bad --out or format fails now, not after the selections
    with progress_bar("{task.description}") as bar:
        task = bar.add_task("selecting", total=None)
        gathered = gather_report_input(
            db, name, budgets, estimators, unit, options,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        task = bar.add_task("drawing", total=None)
        built = build_report(gathered.data, progress=lambda done, total: bar.update(task, completed=done, total=total))
    for note in gathered.notes:
        print_note(note)
    note_measured_unit(gathered.data.unit)
    return write_report(built, out, formats)


@dataclass(frozen=True)
class GatheredInput:
    data: ReportInput
    notes: tuple[str, ...]


def gather_report_input(
    db: str | None,
    name: str,
    budgets: str | None,
    estimators: Sequence[str] | None,
    unit: str = "relative",
    options: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GatheredInput:
    """Read the study from the store and select at every (estimator, budget), as `select --json` would
    (same evidence: costs in `unit`, extra tables for estimators such as lookahead; the same
    `options`: `selection_options(...)`), except that each estimator estimates from the results of
    its own training runs only."""
    from taskgroup.report import ReportInput

    evidence = load_study_evidence(db, name, unit)
    with open_store(db, create=False).session() as session:
        study = Study.find_or_raise_by_name(session, name)
        sizes = study.size_labels()
        candidates = candidates_frame(session, study)
        jobs = _jobs_frame(session, study)
    tasks, results = evidence.tasks, evidence.results
    chosen_budgets = parse_budgets(budgets) if budgets else default_budgets(len(tasks))
    # Each estimator chooses from its own training runs only: lookahead would otherwise use every
    # trained network's real losses, and in an exhaustive study repeat the exact choice.
    affinity_sizes = set(evidence.extras["affinity"]["size"]) if "affinity" in evidence.extras else set()
    runs = {estimator: frozenset(PLANS.get(estimator)().runs(tasks, sizes, affinity_sizes)) for estimator in PLANS.names()}
    usable, notes = usable_selectors(None if estimators is None else list(estimators), evidence, own_runs=runs)
    options = dict(options or {})
    swept = sweep(results, chosen_budgets, usable, costs=evidence.costs, tasks=tasks, extras=evidence.extras,
                  progress=progress, **options)
    check_any_feasible(swept.selections, chosen_budgets)
    order = {selector.estimator.name: i for i, selector in enumerate(usable)}
    selections = sorted(({**row.to_json(), "unit": evidence.unit} for row in swept.selections if isinstance(row, Selection)),
                        key=lambda s: (order[s["estimator"]], s["budget"]))
    for row in swept.selections:
        if not isinstance(row, Selection):
            notes.append(f"{row.estimator} at budget {row.budget:g}: {row.error}")
    data = ReportInput(
        study=name, tasks=tasks, results=results, candidates=candidates, selections=selections,
        baselines=_baselines_frame(swept.baselines), jobs=jobs, needs={estimator: _needs(runs[estimator]) for estimator in order if estimator in runs},
        size_count=evidence.size_count, notes=tuple(notes), unit=evidence.unit, budget_unit=UNIT_WORDS[evidence.unit],
        selection_options=options,
        **({"lookahead_affinity": evidence.extras["affinity"]} if "affinity" in evidence.extras else {}),
    )
    return GatheredInput(data, tuple(notes))


def default_budgets(task_count: int) -> list[float]:
    """The paper's sweep: 1 to one network per task, in steps of half a network."""
    return [1.0 + 0.5 * i for i in range(2 * max(task_count, 1) - 1)]


def _baselines_frame(rows: Sequence[BaselineRow]) -> pd.DataFrame:
    """The sweep's baseline rows with the chosen networks written as labels (none for `random`)."""
    from taskgroup.report import BASELINE_COLUMNS

    records = []
    for row in rows:
        record = row.to_json()
        networks = record.pop("networks")
        record["networks"] = "" if networks is None else " ".join(f"{'+'.join(n['tasks'])}@{n['size']}" for n in networks)
        records.append(record)
    return pd.DataFrame(records, columns=BASELINE_COLUMNS)


def _needs(runs: frozenset[tuple[str, str, str]]) -> NeedsJob:
    """Whether a (tasks, size, stage) job is one of an estimator's runs."""
    return lambda tasks, size, stage: (tasks, size, stage) in runs


def _jobs_frame(session: Session, study: Study) -> pd.DataFrame:
    from taskgroup.report import JOB_COLUMNS

    rows = [
        (job.candidate.tasks, job.candidate.size, job.stage, job.state, job.epochs, job.device, job.started_at,
         job.finished_at, job.wall_time)
        for job in Job.all_of_study(session, study.id)
    ]
    return pd.DataFrame(rows, columns=JOB_COLUMNS)

