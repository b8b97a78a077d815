"""`taskgroup affinity measure|show`: the lookahead task-affinity matrix of a study.

`measure` trains one network of all the study's tasks (at one size) with lookahead measurements
every few steps, stores the averaged matrix, and records that network's run as its finished
full-stage job, with its losses (it was trained on the study's schedule like any other candidate). `select --estimator
lookahead` then reads the stored matrix. Both commands also say how the estimator's scaling fits
the networks with real losses, and warn when those contradict the affinities.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from db import open_store
from db.affinity import load_affinity, store_affinity
from db.models import Study
from db.results import results_frame
from jobs.claim import JobOutput
from jobs.manage import record_data_splits, record_finished_run
from jobs.training_options import divergence_advice, training_config
from taskgroup.affinity import corner_label, matrix_table
from taskgroup.cli.common import (
    CommandGroup, DbOption, JsonOption, TrainDeviceOption, console, emit_json, err_console, print_note, progress_bar,
    stop_on_signals,
)
from taskgroup.errors import DivergenceError, InvalidInputError
from taskgroup.estimators import Estimator, Evidence, get_estimator
from taskgroup.estimators.lookahead import LookaheadEstimator, Scaling, study_scaling
from taskgroup.selection.results import every_pair_trained
from taskgroup.wording import counted

affinity_app = typer.Typer(cls=CommandGroup, help="Measure and show lookahead task affinities (one training run).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(affinity_app, name="affinity")


@affinity_app.command("measure")
def measure(
    name: Annotated[str, typer.Argument(help="Study whose tasks to measure.")],
    size: Annotated[
        str | None, typer.Option("--size", help="Size label to train at. Default: the study's first size.", show_default=False)
    ] = None,
    every: Annotated[
        int | None,
        typer.Option("--every", help="Take the lookahead measurement every N training steps. Default: 4 x the number of tasks.", min=1, show_default=False),
    ] = None,
    lr_scale: Annotated[
        float, typer.Option("--lr-scale", help="Lookahead step size as a multiple of the optimizer's learning rate.", min=0.0)
    ] = 1.0,
    device: TrainDeviceOption = "auto",
    checkpoint_root: Annotated[
        Path | None, typer.Option("--checkpoint-root", help="Folder for the run's checkpoint (default "
                                  "TASKGROUP_HOME/checkpoints); an interrupted measurement resumes from it.",
                                  show_default=False)
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Train the network of all the study's tasks once, measuring how a step on each task's loss
    changes every task's loss; store the averaged affinity matrix (replacing an earlier one at that size)."""
    measured = measure_study_affinity(name, size=size, every=every, lr_scale=lr_scale, device=device,
                                      checkpoint_root=checkpoint_root, db=db, show_progress=not json_output)
    measurement, recorded = measured.measurement, measured.job_id is not None
    payload = {
        "study": name,
        "size": measured.size,
        "tasks": measured.tasks,
        "every": measured.every,
        "measurements": measurement.measurements,
        "steps": measurement.outcome.steps,
        "wall_time": measurement.outcome.wall_time,
        "results_recorded": recorded,
        "checkpoint": str(measured.checkpoint),
        "affinity": _nested(measurement.affinity),
        "scaling": _scaling_json(measured.scaling),
    }
    if json_output:
        emit_json(payload)
        warn_if_contradicted(measured.scaling, name, measured.pairs_trained)
        return
    _print_matrix(measurement.affinity, measured.size, measured.tasks, f"Affinity of {name} (size {measured.size})")
    console.print(
        f"{counted(measurement.measurements, 'lookahead measurement')} over {counted(measurement.outcome.steps, 'step')}; "
        + ("losses of the all-task network recorded as results." if recorded else "the all-task network already had results (or a worker is training it); left as they are.")
    )
    console.print(measured.scaling.summary())
    warn_if_contradicted(measured.scaling, name, measured.pairs_trained)


@dataclass(frozen=True)
class MeasuredAffinity:
    """A stored measurement: the run, where it was checkpointed, and the all-task network's job
    (None when that network already had results)."""

    measurement: Any
    tasks: list[str]
    """The study's tasks in its order, which the printed matrix follows."""
    size: str
    every: int
    checkpoint: Path
    job_id: int | None
    scaling: Scaling
    pairs_trained: bool


def measure_study_affinity(
    name: str, *, size: str | None, every: int | None, lr_scale: float, device: str, checkpoint_root: Path | None,
    db: str | None, show_progress: bool,
) -> MeasuredAffinity:
    """Measure and store the study's affinity matrix (with a progress bar); `affinity measure` prints
    it, `demo` sums it up."""
    from jobs.claim import settings_folder
    from jobs.runners import dataset_spec
    from jobs.settings import default_checkpoint_root
    from taskgroup.affinity.measure import default_interval, measure_affinity
    from taskgroup.devices import resolve_device
    from taskgroup.data import load_splits, split_sizes
    from taskgroup.models import SizeSpec
    from taskgroup.training.engine import TrainingInterrupted

    target = resolve_device(device)
    store = open_store(db)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, name)
        tasks, sizes, dataset, training = list(study.tasks), list(study.sizes), dict(study.dataset or {}), dict(study.training or {})
        created, folder = str(study.created_at), study.checkpoint_folder
    if len(tasks) < 2:
        raise InvalidInputError(f"study {name!r} has one task; affinity needs at least two")
    if not dataset:
        raise InvalidInputError(
            f"study {name!r} has no dataset (it holds imported results only); create it with --dataset to measure"
        )
    spec = _size(sizes, size, name)
    config = training_config(training)
    data = dataset_spec(dataset)
    splits = load_splits(data, tasks)
    with store.session() as session:
        record_data_splits(session, Study.find_or_raise_by_name(session, name, for_update=True), split_sizes(splits), data)
    interval = every or default_interval(len(tasks))
    # Keyed by the study's creation time too: a new study of the same name starts afresh.
    directory = settings_folder(checkpoint_root or default_checkpoint_root(), folder, f"affinity-{spec['label']}",
                                {"created": created, "dataset": dataset, "training": training, "every": interval,
                                 "lr_scale": lr_scale})
    message = "stopping: checkpointing the measurement (Ctrl-C again to stop at once)"
    with stop_on_signals(message) as stop, _progress(not show_progress) as report:
        try:
            measurement = measure_affinity(
                tasks, SizeSpec(**spec), splits, target, config, every=interval, lr_scale=lr_scale, progress=report,
                checkpoint_dir=directory, should_stop=stop.is_set,
            )
        except TrainingInterrupted:
            measurement = None
        except DivergenceError as error:  # measuring again as it is diverges again: the study's options must change
            raise DivergenceError(f"{error} ({divergence_advice(name)}, then measure again)") from None
    if measurement is None:  # as `work` and `train` do: a stop is not a failure
        err_console.print("stopped; the measurement is checkpointed: run the same command to resume")
        raise typer.Exit(130)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, name)
        # Recorded as the all-task network's finished job, so reports count this run's compute.
        job_id = record_finished_run(session, study, "+".join(sorted(tasks)), spec["label"],
                                     JobOutput.of_training(measurement.outcome),
                                     worker=f"{socket.gethostname()}:affinity-measure", device=str(target))
        store_affinity(session, study, measurement.affinity.to_dict("records"), measurements=measurement.measurements,
                       job_id=job_id)
        results = results_frame(session, study)
        scaling = study_scaling(results, load_affinity(session, study))
    return MeasuredAffinity(measurement, tasks, spec["label"], interval, directory, job_id, scaling, every_pair_trained(results))


@affinity_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Study whose stored affinity matrix to show.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the stored affinity matrices: entry (row i, column j) is how much a step on task i's loss
    lowered task j's loss, relative to j's loss (positive: i helps j)."""
    store = open_store(db, create=False)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, name)
        frame, tasks = load_affinity(session, study), list(study.tasks)
        if frame.empty:
            raise InvalidInputError(f"study {name!r} has no affinity matrix; {affinity_remedy(name, bool(study.dataset))}")
        results = results_frame(session, study)
        scaling = study_scaling(results, frame)
    if json_output:
        emit_json({"study": name, "affinity": _nested(frame), "scaling": _scaling_json(scaling)})
    else:
        for label in sorted(frame["size"].unique()):
            _print_matrix(frame, label, tasks, f"Affinity of {name} (size {label})")
        console.print(scaling.summary())
    warn_if_contradicted(scaling, name, every_pair_trained(results))


def _scaling_json(scaling: Scaling) -> dict[str, float | int]:
    return {"strength": scaling.strength, "offset": scaling.offset, "fitted_on": scaling.fitted_on}


def affinity_remedy(name: str, trainable: bool) -> str:
    """How study `name` gets an affinity matrix: measured where it has a dataset to train on; an
    imported study has none, so `affinity measure` would only fail, and its matrix is imported too."""
    if trainable:
        return f"`taskgroup affinity measure {name}` measures one"
    return (f"the study has no dataset to measure one on, so import one (`taskgroup import {name} FILE` reads "
            "FILE.affinity.csv beside FILE; see docs/lookahead.md, \"Moving a study to another database\")")


def note_on_lookahead(
    name: str, estimator: str | Estimator, results: pd.DataFrame, extras: Mapping[str, pd.DataFrame], possible: int,
    tasks: Sequence[str], *, trainable: bool = True,
) -> None:
    """For `select`, `sweep` and `finalize`: with the lookahead estimator, say which tasks it cannot
    estimate for (no single-task network trained; how to get one depends on whether the study is
    `trainable`), and warn when the trained networks gave its
    affinities no weight (its choices are then the singles' and the all-task network's), unless all
    `possible` networks are trained: lookahead then predicts none, and no advice would help."""
    from taskgroup.selection.results import fully_trained

    chosen = get_estimator(estimator)
    if not isinstance(chosen, LookaheadEstimator) or "affinity" not in extras or len(fully_trained(results)) >= possible:
        return
    evidence = Evidence(results, extras)
    if missing := chosen.without_singles(evidence, tasks):
        print_note(f"lookahead estimates no network with {', '.join(missing)}: {'its' if len(missing) == 1 else 'their'} "
                   f"single-task network{'' if len(missing) == 1 else 's'} {'has' if len(missing) == 1 else 'have'} no "
                   f"full-stage loss yet, so the choice is only among networks with results ("
                   + (f"`taskgroup run {name} --estimator lookahead` trains them)" if trainable
                      else f"import their results: `taskgroup import {name} FILE`)"))
    warn_if_contradicted(chosen.scaling_for(evidence), name, every_pair_trained(results))


def warn_if_contradicted(scaling: Scaling, name: str, pairs_trained: bool) -> None:
    """Say so when the measured networks contradict the affinities, and what to do instead: HOA, planned
    if its pairs are not all trained yet (planning it then would queue nothing)."""
    contradiction = scaling.contradiction()
    if contradiction is not None:
        hoa = ("select with `--estimator hoa` (every pair it needs is trained)" if pairs_trained
               else f"use `taskgroup plan {name} --estimator hoa`")
        print_note(f"{contradiction[0].lower()}{contradiction[1:]} Finalize with --until-stable --max-trained N "
                   f"--explore to train beyond its choices, or {hoa}.")


def _size(sizes: list[dict[str, Any]], label: str | None, study: str) -> dict[str, Any]:
    if label is None:
        return sizes[0]
    for spec in sizes:
        if spec["label"] == label:
            return spec
    known = ", ".join(spec["label"] for spec in sizes)
    raise InvalidInputError(f"study {study!r} has no size {label!r} (sizes: {known})")


def _nested(frame: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """size -> source -> target -> affinity, for JSON."""
    nested: dict[str, dict[str, dict[str, float]]] = {}
    for row in frame.itertuples(index=False):
        nested.setdefault(str(row.size), {}).setdefault(str(row.source), {})[str(row.target)] = float(row.affinity)
    return nested


def _print_matrix(frame: pd.DataFrame, size: str, tasks: list[str], title: str) -> None:
    table_frame = matrix_table(frame, size, tasks)
    table = Table(title=title, caption="row: task stepped on; column: task whose loss changed")
    table.add_column(corner_label("source", "target"))
    for target in table_frame.columns:
        table.add_column(str(target), justify="right")
    for source, values in table_frame.iterrows():
        table.add_row(str(source), *(f"{value:+.2e}" for value in values))
    console.print(table)


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar of training steps on stderr (none with --json)."""
    if quiet:
        yield None
        return
    with progress_bar("training with lookahead") as bar:
        task = bar.add_task("train", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
