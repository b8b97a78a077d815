"""`taskgroup cost NAME`: measure every candidate network of a study on a device and store the figures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Column, Table

from db import open_store
from db.models import Candidate, Study
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json, print_note, progress_bar
from taskgroup.cost import MEASURED_COLUMNS, CostMeasurement, candidate_costs
from taskgroup.errors import InvalidInputError, UnknownNameError
from taskgroup.wording import counted

if TYPE_CHECKING:  # torch and the models are loaded by the command itself, not by every CLI start
    from taskgroup.models import SizeSpec
    from taskgroup.tasks import Task

DEFAULT_IMAGE_SIZE = 64
REFERENCE_SIZE = "full"


def register(app: typer.Typer) -> None:
    app.command("cost")(cost)


def cost(
    name: Annotated[str, typer.Argument(help="Study whose candidates to measure.")],
    device: Annotated[str, typer.Option("--device", help="Device to measure on: cpu, cuda, cuda:0, ...")] = "cpu",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per timed forward pass.", min=1)] = 1,
    image_size: Annotated[
        int | None,
        typer.Option(
            "--image-size",
            help=f"Input height and width in pixels. Default: the study dataset's `resolution` option, else {DEFAULT_IMAGE_SIZE}.",
            min=1,
            show_default=False,
        ),
    ] = None,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed forward passes before timing.", min=0)] = 5,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed forward passes per candidate and round.", min=1)] = 10,
    rounds: Annotated[
        int,
        typer.Option("--rounds", help="Rounds over all candidates; latency is the median of the rounds' medians.", min=1),
    ] = 3,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="CPU threads for torch (1 gives steadier timings on a busy machine). Default: torch's.", min=1),
    ] = None,
    stored: Annotated[
        bool, typer.Option("--stored", help="Show the measurements stored by an earlier run instead of measuring again.")
    ] = False,
    clear: Annotated[
        bool, typer.Option("--clear", help="Delete the stored measurements: `relative` costs are the declared ones again.")
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Measure every candidate's parameters, MACs, latency and peak memory, and store them.

    Latency is the median (and interquartile range) of timed forward passes after a warm-up, under
    inference mode, in rounds over all candidates so that changing machine load hits all alike.
    Re-running overwrites earlier figures; --stored shows them, --clear deletes them. A study without
    a dataset (imported results) is measured on taskgroup's own networks for its tasks, with a note:
    if the imported results came from other networks, those are not their costs.
    """
    if stored and clear:
        raise InvalidInputError("--stored shows the measurements and --clear deletes them; give one")
    if clear:
        cleared = _clear(name, db)
        if json_output:
            emit_json({"study": name, "cleared": cleared})
            return
        console.print(f"Deleted the measured costs of {counted(cleared, 'candidate')} of [bold]{name}[/]; "
                      "`relative` costs are the declared ones again.")
        return
    if stored:
        report = _stored_report(name, db)
        if json_output:
            emit_json({"study": name, "candidates": report})
            return
        devices = ", ".join(sorted({row["device"] for row in report}))
        _print_table(report, f"{name}: stored measurements ({devices})")
        return
    report, target, shape = measure_study(name, device, batch_size, image_size, warmup, repeats, rounds, threads, db)
    if json_output:
        emit_json({"study": name, "device": str(target), "input_shape": list(shape), "batch_size": batch_size,
                   "candidates": report})
        return
    _print_table(report, f"{name}: {target}, input {shape[1]}x{shape[2]}, batch {batch_size}")


def measure_study(name: str, device: str, batch_size: int, image_size: int | None, warmup: int, repeats: int,
                  rounds: int, threads: int | None, db: str | None) -> tuple[list[dict[str, Any]], Any, tuple[int, int, int]]:
    """Measure and store every candidate's cost (with a progress bar, and a note for a study without a
    dataset, whose imported results may come from other networks): one record per candidate, the
    device and the input shape. `cost` prints them; `demo` sums them up."""
    from taskgroup.cost import measure_candidates
    from taskgroup.devices import resolve_device
    from taskgroup.models import SizeSpec

    target = resolve_device(device)
    store = open_store(db)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, name)
        sizes = {spec["label"]: SizeSpec(**spec) for spec in study.sizes}
        rows = [(c.id, c.tasks, c.size, c.cost) for c in Candidate.all_of_study(session, study.id)]
        has_dataset = bool(study.dataset)
        options = (study.dataset or {}).get("options") or {}
    if not rows:
        raise InvalidInputError(f"study {name!r} has no candidates yet: plan its training or import results first")
    side = image_size or int(options.get("resolution", DEFAULT_IMAGE_SIZE))
    shape = (3, side, side)
    networks = [(_tasks_of(tasks), _size_of(sizes, tasks, size)) for _, tasks, size, _ in rows]

    with _torch_threads(threads), progress_bar("measuring") as bar:
        task_id = bar.add_task("cost", total=rounds * len(networks))
        measured = measure_candidates(
            networks, shape, target, batch_size=batch_size, warmup=warmup, repeats=repeats, rounds=rounds,
            progress=lambda done, total: bar.update(task_id, completed=done),
        )

    with store.session() as session:
        for (candidate_id, _, _, _), measurement in zip(rows, measured, strict=True):
            _store(Candidate.find_or_raise_by_id(session, candidate_id), measurement)

    if not has_dataset:
        print_note(f"study {name!r} has no dataset: these are taskgroup's own networks for its tasks, on "
                   f"{shape[1]}x{shape[2]} inputs. If its imported results came from other networks, these are not "
                   f"their costs: `relative` costs now use them; `--unit declared` keeps the imported ones, and "
                   f"`taskgroup cost {name} --clear` deletes the measurements.")
    return _report(rows, measured), target, shape


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` CPU threads (when given), restoring torch's setting afterwards."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _tasks_of(tasks: str) -> list[Task]:
    """The registered tasks of a candidate: only those have heads to build and measure."""
    from taskgroup.tasks import TASKS, get_task

    unknown = [task for task in tasks.split("+") if task not in TASKS]
    if unknown:
        raise UnknownNameError(f"candidate {tasks}: {unknown[0]!r} is not a registered task; `taskgroup cost` builds "
                               "networks of registered tasks only (their names: `taskgroup data tasks`)")
    return [get_task(task) for task in tasks.split("+")]


def _size_of(sizes: dict[str, SizeSpec], tasks: str, label: str) -> SizeSpec:
    if label not in sizes:
        known = ", ".join(sizes) or "none"
        raise InvalidInputError(f"candidate {tasks} has size {label!r}, which the study does not define (sizes: {known})")
    return sizes[label]


def _clear(name: str, db: str | None) -> int:
    """Forget every stored measurement of the study (one transaction); how many candidates had one."""
    with open_store(db).session() as session:
        study = Study.find_or_raise_by_name(session, name)
        measured = [c for c in Candidate.all_of_study(session, study.id) if c.latency_ms is not None]
        for candidate in measured:
            candidate.params = candidate.macs = candidate.latency_ms = candidate.latency_spread_ms = None
            candidate.peak_memory_bytes = candidate.cost_device = None
        return len(measured)


def _store(candidate: Candidate, measurement: CostMeasurement) -> None:
    candidate.params = measurement.params
    candidate.macs = measurement.macs
    candidate.latency_ms = measurement.latency_ms
    candidate.latency_spread_ms = measurement.latency_spread_ms
    candidate.peak_memory_bytes = measurement.peak_memory_bytes
    candidate.cost_device = measurement.device


def _report(rows: list[tuple[int, str, str, float]], measured: list[CostMeasurement]) -> list[dict[str, Any]]:
    """One record per candidate; `relative` is latency over the full-size single-task networks' mean
    (None when the study has no full-size single-task candidate)."""
    by_key = {(tasks, size): m for (_, tasks, size, _), m in zip(rows, measured, strict=True)}
    has_reference = any(size == REFERENCE_SIZE and "+" not in tasks for tasks, size in by_key)
    relative = candidate_costs(by_key, "relative", REFERENCE_SIZE) if has_reference else {}
    return [
        {"tasks": tasks, "size": size, "declared_cost": declared, **m.as_dict(), "relative": relative.get((tasks, size))}
        for (_, tasks, size, declared), m in zip(rows, measured, strict=True)
    ]


def _stored_report(name: str, db: str | None) -> list[dict[str, Any]]:
    """The records `cost` printed when it measured, from what it stored (measured candidates only)."""
    with open_store(db, create=False).session() as session:
        study = Study.find_or_raise_by_name(session, name)
        measured = [c for c in Candidate.all_of_study(session, study.id)
                    if all(getattr(c, column) is not None for column in MEASURED_COLUMNS)]
        rows = [(c.id, c.tasks, c.size, c.cost) for c in measured]
        measurements = [CostMeasurement.from_stored(c) for c in measured]
    if not rows:
        raise InvalidInputError(f"study {name!r} has no measured costs yet: run `taskgroup cost {name}`")
    return _report(rows, measurements)


def _print_table(report: list[dict[str, Any]], title: str) -> None:
    # CPUs report no peak memory; the column is shown only when the device does.
    with_memory = any(row["peak_memory_bytes"] is not None for row in report)
    numbers = ["declared", "measured", "params", "MMACs", "ms", "IQR", *(["peak MiB"] if with_memory else [])]
    table = Table(  # long task lists fold; the numbers never do
        Column("tasks", overflow="fold"), Column("size", no_wrap=True),
        *(Column(header, no_wrap=True, justify="right") for header in numbers),
        title=title,
    )
    for row in report:
        cells = [
            row["tasks"],
            row["size"],
            f"{row['declared_cost']:g}",
            "-" if row["relative"] is None else f"{row['relative']:.2f}",
            f"{row['params'] / 1e3:.1f}k",
            f"{row['macs'] / 1e6:.1f}",
            f"{row['latency_ms']:.2f}",
            f"{row['latency_spread_ms']:.2f}",
        ]
        if with_memory:
            cells.append("-" if row["peak_memory_bytes"] is None else f"{row['peak_memory_bytes'] / 2**20:.1f}")
        table.add_row(*cells)
    console.print(table)
    console.print("measured: latency over the mean of the full-size single-task networks. IQR: interquartile range, ms.")
