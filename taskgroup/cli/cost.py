"""`taskgroup cost NAME`: measure every candidate network of a study on a device and store the figures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import TimeRemainingColumn
from rich.table import Column, Table

from db import open_store
from db.models import Candidate, Study
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json, print_note, progress_bar
from taskgroup.cost import MEASURED_COLUMNS, CostMeasurement, candidate_costs, reference_size
from taskgroup.errors import InvalidInputError, UnknownNameError
from taskgroup.wording import counted

if TYPE_CHECKING:  # torch and the models are loaded by the command itself, not by every CLI start
    from taskgroup.models import SizeSpec
    from taskgroup.tasks import Task

DEFAULT_IMAGE_SIZE = 64
NETWORK_CHOICES = ("all", "candidates")


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
            help="Input height and width in pixels. Default: the size of the study's images (read from its data "
                 f"folder, else its dataset's `resolution` option, else {DEFAULT_IMAGE_SIZE}).",
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
    networks: Annotated[
        str,
        typer.Option("--networks", help="all: every subset of the study's tasks at every size, which HOA and lookahead "
                     "may choose untrained (with a measured unit, a network without a cost is never chosen); "
                     "candidates: only the networks planned or with results (for a study of so many tasks that "
                     "measuring every subset would take too long)."),
    ] = "all",
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
    """Measure every network's parameters, MACs, latency and peak memory, and store them.

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
    if networks not in NETWORK_CHOICES:
        raise InvalidInputError(f"--networks must be one of {', '.join(NETWORK_CHOICES)}, got {networks!r}")
    report, target, shape = measure_study(name, device, batch_size, image_size, warmup, repeats, rounds, threads, db,
                                          every_network=networks == "all")
    if json_output:
        emit_json({"study": name, "device": str(target), "input_shape": list(shape), "batch_size": batch_size,
                   "candidates": report})
        return
    _print_table(report, f"{name}: {target}, input {shape[1]}x{shape[2]}, batch {batch_size}")


def measure_study(name: str, device: str, batch_size: int, image_size: int | None, warmup: int, repeats: int,
                  rounds: int, threads: int | None, db: str | None, *,
                  every_network: bool = True) -> tuple[list[dict[str, Any]], Any, tuple[int, int, int]]:
    """Measure and store the cost of every network of the study (each subset of its tasks at each
    size), or with `every_network` off of its candidates only (with a progress bar, and a note for a
    study without a dataset, whose imported results may come from other networks): one record per
    network, the device and the input shape. `cost` prints them; `demo` sums them up."""
    from jobs.plans import subsets
    from taskgroup.cost import measure_candidates
    from taskgroup.devices import resolve_device
    from taskgroup.models import SizeSpec

    target = resolve_device(device)
    store = open_store(db)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, name)
        sizes = {spec["label"]: SizeSpec(**spec) for spec in study.sizes}
        declared = {spec["label"]: float(spec["cost"]) for spec in study.sizes}
        rows = [(c.tasks, c.size, c.cost) for c in Candidate.all_of_study(session, study.id)]
        if every_network:  # the others get their size's declared cost, as planning gives them
            known = {(tasks, size) for tasks, size, _ in rows}
            rows += [(tasks, size, declared[size]) for size in sizes for tasks in subsets(study.tasks)
                     if (tasks, size) not in known]
        has_dataset = bool(study.dataset)
        dataset, tasks = dict(study.dataset or {}), list(study.tasks)
        reference = reference_size(study.sizes)
    if not rows:
        raise InvalidInputError(f"study {name!r} has no candidates yet: plan its training or import results first")
    shape = (3, image_size, image_size) if image_size else _input_shape(dataset, tasks)
    networks = [(_tasks_of(tasks), _size_of(sizes, tasks, size)) for tasks, size, _ in rows]

    with _torch_threads(threads), progress_bar("measuring", TimeRemainingColumn()) as bar:
        task_id = bar.add_task("cost", total=rounds * len(networks))
        measured = measure_candidates(
            networks, shape, target, batch_size=batch_size, warmup=warmup, repeats=repeats, rounds=rounds,
            progress=lambda done, total: bar.update(task_id, completed=done),
        )

    with store.session() as session:  # one transaction: an interrupted measurement stores nothing
        study = Study.find_or_raise_by_name(session, name)
        stored = {(c.tasks, c.size): c for c in Candidate.all_of_study(session, study.id)}
        for (tasks, size, cost), measurement in zip(rows, measured, strict=True):
            if (tasks, size) not in stored:
                stored[(tasks, size)] = Candidate(study_id=study.id, tasks=tasks, size=size, cost=cost)
                session.add(stored[(tasks, size)])
            _store(stored[(tasks, size)], measurement)

    if not has_dataset:
        print_note(f"study {name!r} has no dataset: these are taskgroup's own networks for its tasks, on "
                   f"{shape[1]}x{shape[2]} inputs. If its imported results came from other networks, these are not "
                   f"their costs: `relative` costs now use them; `--unit declared` keeps the imported ones, and "
                   f"`taskgroup cost {name} --clear` deletes the measurements.")
    return _report(rows, measured, reference), target, shape


def _input_shape(dataset: dict[str, Any], tasks: list[str]) -> tuple[int, int, int]:
    """The shape of the study's training images: measured on other inputs, MACs and latency would
    not be those of the networks it trains."""
    from jobs.runners import dataset_spec
    from taskgroup.data import image_shape

    if dataset.get("root"):
        spec = dataset_spec(dataset)
        try:
            return image_shape(spec, tasks)
        except InvalidInputError as error:
            raise InvalidInputError(f"cannot read the size of the study's images ({error}); give --image-size, "
                                    "the height and width its networks train at") from error
    side = int((dataset.get("options") or {}).get("resolution", DEFAULT_IMAGE_SIZE))
    return 3, side, side


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


def _report(rows: list[tuple[str, str, float]], measured: list[CostMeasurement],
            reference: tuple[str, float]) -> list[dict[str, Any]]:
    """One record per network; `relative` is its cost in the `relative` unit (see `reference_size`;
    None when no single-task network of the reference size is measured)."""
    by_key = {(tasks, size): m for (tasks, size, _), m in zip(rows, measured, strict=True)}
    size, declared_cost = reference
    has_reference = any(label == size and "+" not in tasks for tasks, label in by_key)
    relative = candidate_costs(by_key, "relative", size, reference_cost=declared_cost) if has_reference else {}
    return [
        {"tasks": tasks, "size": label, "declared_cost": declared, **m.as_dict(), "relative": relative.get((tasks, label))}
        for (tasks, label, declared), m in zip(rows, measured, strict=True)
    ]


def _stored_report(name: str, db: str | None) -> list[dict[str, Any]]:
    """The records `cost` printed when it measured, from what it stored (measured candidates only)."""
    with open_store(db, create=False).session() as session:
        study = Study.find_or_raise_by_name(session, name)
        measured = [c for c in Candidate.all_of_study(session, study.id)
                    if all(getattr(c, column) is not None for column in MEASURED_COLUMNS)]
        rows = [(c.tasks, c.size, c.cost) for c in measured]
        measurements = [CostMeasurement.from_stored(c) for c in measured]
        reference = reference_size(study.sizes)
    if not rows:
        raise InvalidInputError(f"study {name!r} has no measured costs yet: run `taskgroup cost {name}`")
    return _report(rows, measurements, reference)


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
    console.print("measured: the relative unit, latency over the mean of the reference size's single-task networks "
                  "times that size's declared cost (full: 1). IQR: interquartile range, ms.")
