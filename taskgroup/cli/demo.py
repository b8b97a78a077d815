"""`taskgroup demo`: the whole pipeline on the built-in synthetic dataset, on CPU with SQLite, in minutes.

A study of five tasks; every candidate at two sizes trained briefly, fully (for the exact answer
and HOA's pairs) and at the early stage (for ESA), and the all-task network once more measuring
lookahead affinities; each candidate's cost measured; selection over a budget sweep; and the report. Each step is the same code the individual commands run, so the demo
is also a smoke test of an installation. Running it again on the same --out continues where it
stopped (finished jobs are kept).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from db import open_store
from db.models import Study
from db.store import sqlite_url
from taskgroup.cli.common import any_database, console, key_values, max_epochs_option
from taskgroup.errors import InfeasibleError, InvalidInputError
from taskgroup.wording import counted

DEMO_STUDY = "demo"
DEMO_TASKS = "segment,depth,normal,keypoint,edge"
DEMO_SIZES = "full=1.0,half=0.5"
DEMO_BUDGETS = "1:5:0.5"
DEMO_ESTIMATORS = ("exact", "esa", "hoa", "lookahead")
LOOKAHEAD_EVERY = 2
"""Training steps between lookahead measurements: the demo's all-task run is short (50 steps)."""


@dataclass(frozen=True)
class DemoSettings:
    """The demo's defaults; with --quick, a smaller set (an option given explicitly overrides either)."""

    images: int
    resolution: int
    epochs: int
    tasks: str
    budgets: str


FULL = DemoSettings(images=200, resolution=32, epochs=5, tasks=DEMO_TASKS, budgets=DEMO_BUDGETS)
QUICK = DemoSettings(images=24, resolution=8, epochs=2, tasks="segment,depth,normal", budgets="1:3:0.5")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for the demo's database, checkpoints and report.")] = Path("taskgroup-demo"),
    images: Annotated[
        int | None, typer.Option("--images", help="Synthetic images (train, val and test together). Default: 200 (24 with --quick).", min=3, show_default=False)
    ] = None,
    resolution: Annotated[
        int | None, typer.Option("--resolution", help="Image height and width in pixels. Default: 32 (8 with --quick).", min=8, show_default=False)
    ] = None,
    max_epochs: Annotated[
        int | None, max_epochs_option("Training epochs of a full-stage run. Default: 5 (2 with --quick).", min=1, show_default=False)
    ] = None,
    tasks: Annotated[
        str | None,
        typer.Option("--tasks", help=f"Comma-separated synthetic tasks of the study, at least two. Default: {DEMO_TASKS} "
                                     f"({QUICK.tasks} with --quick).", show_default=False),
    ] = None,
    budgets: Annotated[
        str | None,
        typer.Option("--budgets", help=f"Budget sweep START:STOP:STEP or a list. Default: {DEMO_BUDGETS} ({QUICK.budgets} with --quick).",
                     show_default=False),
    ] = None,
    per_device: Annotated[
        int | None,
        # As `run --per-device` on the one device the demo uses; `--workers`, its name before, still works.
        typer.Option("--per-device", "--workers", min=1, show_default=False,
                     help="Training processes on the CPU, one thread each. Default: the number of CPU cores."),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A smaller run for a first check: 3 tasks, 2 epochs, 24 images of 8x8 pixels "
                                           "(options given explicitly still apply).")
    ] = False,
    db: Annotated[
        str | None,
        # No envvar: TASKGROUP_DB is often a team's shared database, where a demo study does not belong.
        typer.Option("--db", callback=any_database, show_default=False,
                     help="Database URL or SQLite file for the demo's study (created if new). Default: DIR/demo.sqlite "
                          "in --out, also when TASKGROUP_DB is set (the demo ignores it)."),
    ] = None,
) -> None:
    """Run the whole pipeline on synthetic data on CPU and write a report (a few minutes on two cores)."""
    from taskgroup.cli.affinity import measure_study_affinity
    from taskgroup.cli.cost import measure_study
    from taskgroup.cli.report import make_report
    from taskgroup.cli.study import create, parse_task_list
    from taskgroup.cli.work import run

    defaults = QUICK if quick else FULL
    images = images if images is not None else defaults.images
    resolution = resolution if resolution is not None else defaults.resolution
    max_epochs = max_epochs if max_epochs is not None else defaults.epochs
    budgets = budgets if budgets is not None else defaults.budgets
    task_list = parse_task_list(tasks if tasks is not None else defaults.tasks)
    _check_before_training(task_list, budgets, resolution)
    _check_out_folder(out)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = db or sqlite_url(out / "demo.sqlite")  # a folder named with % or # stays that folder
    started = time.monotonic()
    data_options = [f"images={images}", f"resolution={resolution}"]

    _step(1, f"study {DEMO_STUDY!r}: tasks {', '.join(task_list)}; sizes {DEMO_SIZES}; "
             f"synthetic data, {images} images of {resolution}x{resolution}")
    if _study_exists(db):
        _check_same_study(db, task_list, {"images": images, "resolution": resolution}, max_epochs)
        console.print(f"study {DEMO_STUDY!r} exists in {db}: continuing it")
    else:
        create(DEMO_STUDY, tasks=",".join(task_list), sizes=DEMO_SIZES, dataset="synthetic", data_root=None,
               data_option=data_options, db=db, json_output=False)

    _step(2, "training every candidate at both sizes: fully (exact, and HOA's singles and pairs) and at the early stage "
             "(ESA), then the all-task network measuring lookahead affinities")
    _plan(db, "esa")
    run(DEMO_STUDY, estimator="exact", settings=[f"max_epochs={max_epochs}", "batch_size=16", f"patience={max_epochs}"],
        devices="cpu", per_device=per_device or os.cpu_count() or 1, backend="local", heartbeat=10.0, grace=60.0,
        max_attempts=3, checkpoint_root=out / "checkpoints", runner="train", runner_option=[], db=db, json_output=False)
    affinity = measure_study_affinity(DEMO_STUDY, size=None, every=LOOKAHEAD_EVERY, lr_scale=1.0, device="cpu",
                                      checkpoint_root=out / "checkpoints", db=db, show_progress=True)
    console.print(f"lookahead affinities measured in one more run of the all-task network "
                  f"({counted(affinity.measurement.measurements, 'measurement')}; taskgroup affinity show {DEMO_STUDY} --db {db})")

    _step(3, "measuring each candidate's parameters, MACs and latency on the CPU")
    measured, _, shape = measure_study(DEMO_STUDY, "cpu", batch_size=1, image_size=None, warmup=3, repeats=15, rounds=3,
                                       threads=1, db=db)
    latency = [row["latency_ms"] for row in measured]
    relative = [row["relative"] for row in measured if row["relative"] is not None]
    console.print(f"{len(measured)} candidates measured at {shape[1]}x{shape[2]}: {min(latency):.2f} to {max(latency):.2f} ms"
                  + (f", {min(relative):.2f}x to {max(relative):.2f}x a full-size single-task network" if relative else "")
                  + f" (each one's figures: taskgroup cost {DEMO_STUDY} --stored --db {db})")

    _step(4, f"selecting with {', '.join(DEMO_ESTIMATORS)} over budgets {budgets} and writing the report")
    written = make_report(db, DEMO_STUDY, out / "report", ["html", "md", "csv", "json"], budgets=budgets, estimators=DEMO_ESTIMATORS, unit="declared")
    console.print(f"\n[bold green]demo finished[/] in {minutes_and_seconds(time.monotonic() - started)}; "
                  f"{sum(len(files) for files in written.values())} report files in {out / 'report'}")
    # Not wrapped at the terminal's width: a path or command broken over two lines cannot be copied.
    console.print(f"open the report: [bold]{out / 'report' / 'report.html'}[/]", soft_wrap=True)
    console.print(f"explore further: taskgroup select {DEMO_STUDY} --budget 2 --unit declared --db {db}", soft_wrap=True)


def _check_before_training(tasks: list[str], budgets: str, resolution: int) -> None:
    """Settings that would only fail at the report are refused before minutes of training."""
    from taskgroup.cli.study import check_known_tasks
    from taskgroup.data import DatasetSpec
    from taskgroup.data.source import check_resolution
    from taskgroup.models.sizes import parse_sizes
    from taskgroup.selection.options import parse_budgets

    if len(tasks) < 2:
        raise InvalidInputError(f"the demo needs at least two tasks to group, got only {tasks[0]!r}")
    check_known_tasks(tasks, DatasetSpec(name="synthetic", root=None, options={}))
    cheapest = min(parse_sizes(DEMO_SIZES), key=lambda size: size.cost)
    if max(parse_budgets(budgets)) < cheapest.cost:
        raise InfeasibleError(f"no budget in {budgets!r} fits any grouping: the cheapest, one {cheapest.label!r} network "
                              f"serving every task, costs {cheapest.cost:g} (the report's budgets are in declared costs: "
                              f"{DEMO_SIZES})")
    check_resolution("synthetic", resolution)


def _check_out_folder(out: Path) -> None:
    """--out must be (or become) a folder: a file there or above it is refused in words, before any
    work, not as the system's bare "File exists" or "Not a directory"."""
    remedy = "name a folder for the demo's database, checkpoints and report"
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {out} is a file; {remedy}")
    file_above = next((path for path in out.parents if path.exists() and not path.is_dir()), None)
    if file_above is not None:
        raise InvalidInputError(f"--out {out} is inside {file_above}, which is a file; {remedy}")


def _step(number: int, text: str) -> None:
    console.rule(f"[bold]step {number}/4[/]")
    console.print(text)


def _study_exists(db: str) -> bool:
    with open_store(db).session() as session:
        return Study.find_by_name(session, DEMO_STUDY) is not None


def _check_same_study(db: str, tasks: list[str], options: dict[str, int], max_epochs: int) -> None:
    """A rerun may continue the demo, but not silently mix results of different settings (a rerun
    with other epochs used to say the option changed, train nothing, and report the old runs)."""
    with open_store(db).session() as session:
        study = Study.find_or_raise_by_name(session, DEMO_STUDY)
        stored = {key: (study.dataset or {}).get("options", {}).get(key) for key in options}
        if list(study.tasks) != tasks or stored != options:
            raise InvalidInputError(
                f"{db} holds a demo with tasks {','.join(study.tasks)} and data {key_values(stored)}; "
                f"use another --out (or --db) for tasks {','.join(tasks)} and data {key_values(options)}"
            )
        trained_with = (study.training or {}).get("max_epochs")
        if trained_with is not None and trained_with != max_epochs:
            raise InvalidInputError(
                f"{db} holds a demo trained for {trained_with} epochs; use another --out (or --db) for "
                f"--max-epochs {max_epochs}, or --max-epochs {trained_with} to continue it"
            )


def _plan(db: str, estimator: str) -> None:
    from jobs.plans import plan_study

    with open_store(db).session() as session:
        plan_study(session, Study.find_or_raise_by_name(session, DEMO_STUDY), estimator)


def minutes_and_seconds(elapsed: float) -> str:
    """`elapsed` seconds as "1 min 5 s", rounded to the second first (119.6 s is "2 min 0 s", not "1 min 60 s")."""
    minutes, seconds = divmod(round(elapsed), 60)
    return f"{minutes} min {seconds} s"
