"""`taskgroup study create|list|show|delete`: the named questions a database holds."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Column, Table

from db import MissingDatabaseError, open_store
from db.models import MAX_CANDIDATE_TASKS, Affinity, Candidate, Job, Result, Study
from jobs.settings import default_checkpoint_root
from taskgroup.cli.common import (
    CommandGroup, DataOptionOption, DataRootOption, DbOption, JsonOption, NewDbOption, console, emit_json, key_values,
    parse_key_values, print_note,
)
from taskgroup.errors import InvalidInputError, UnknownNameError
from taskgroup.wording import counted

if TYPE_CHECKING:
    from taskgroup.data import DatasetSpec

DEFAULT_SIZES = "full=1.0,half=0.5"

study_app = typer.Typer(cls=CommandGroup, help="Create, list, show and delete studies.", no_args_is_help=True)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
"""Task and study names: safe in candidate keys (`+`), folder names (never `.` or `..`), rich markup
(`[`) and command lines (never a leading `-`)."""


def register(app: typer.Typer) -> None:
    app.add_typer(study_app, name="study")


def parse_task_list(text: str) -> list[str]:
    """`a,b,c` into task names; names are unique and may not contain `+` (the candidate separator)."""
    tasks = [part.strip() for part in text.split(",") if part.strip()]
    if not tasks:
        raise InvalidInputError("--tasks needs at least one task name, e.g. --tasks depth,normal")
    for name in tasks:
        _check_name(name, "task name")
    duplicates = sorted({name for name in tasks if tasks.count(name) > 1})
    if duplicates:
        raise InvalidInputError(f"task {duplicates[0]!r} is listed twice in --tasks")
    if len("+".join(tasks)) > MAX_CANDIDATE_TASKS:
        raise InvalidInputError(f"the network of all {len(tasks)} tasks would be named by {len('+'.join(tasks))} "
                                f"characters ({'+'.join(tasks)[:30]}...); at most {MAX_CANDIDATE_TASKS} fit: use shorter task names")
    return tasks


MAX_NAME_LENGTH = 100
"""A study's checkpoint folder is its name plus 9 characters, and folder names end at 255 bytes; a task's
name goes into candidate names several times over."""


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name):
        raise InvalidInputError(f"{what} {name!r} must start with an ASCII letter or digit and may only use ASCII "
                                "letters, digits, '_', '-' and '.'")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"{what} {name[:20]}... is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed")


@dataclass(frozen=True)
class StudySpecFile:
    """A study as a TOML file describes it (`taskgroup study create NAME --spec FILE`)."""

    tasks: str | None = None
    sizes: str | None = None
    dataset: str | None = None
    data_root: Path | None = None
    data_options: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    folder: Path = field(default_factory=Path.cwd)
    """Where relative folder options (a dataset's root, the synthetic cache_dir) start from: the file's folder."""


def read_study_spec(path: Path) -> StudySpecFile:
    """Read a TOML study spec; unknown keys and bad training options are refused, naming the file.
    A relative dataset `root` (or other folder option) is relative to the file's folder.

    ```toml
    tasks = ["segment", "depth", "normal"]
    sizes = "full=1.0,half=0.5"          # or a list of items
    [dataset]                            # or only its name: dataset = "synthetic"
    name = "synthetic"
    options = { images = 400, resolution = 64 }
    [training]
    max_epochs = 20
    weighting = "uncertainty"
    ```
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{path}: not a valid TOML study spec ({error})") from None
    unknown = sorted(set(data) - {"tasks", "sizes", "dataset", "training"})
    if unknown:
        raise InvalidInputError(f"{path}: unknown key {unknown[0]!r} (known: tasks, sizes, dataset, training)")
    dataset = data.get("dataset", {})
    if isinstance(dataset, str):  # `dataset = "synthetic"`: the name alone, as --dataset takes it
        dataset = {"name": dataset}
    if not isinstance(dataset, dict) or sorted(set(dataset) - {"name", "root", "options"}):
        raise InvalidInputError(f"{path}: dataset is a name (dataset = \"synthetic\") or a [dataset] table of "
                                "name, root and options")
    if dataset and not dataset.get("name"):
        raise InvalidInputError(f"{path}: [dataset] needs a name, e.g. name = \"synthetic\"")
    training = data.get("training", {})
    if not isinstance(training, dict):
        raise InvalidInputError(f"{path}: [training] must be a table of training options")
    from jobs.training_options import checked_training

    try:
        checked_training(training)
    except (InvalidInputError, UnknownNameError) as error:
        raise InvalidInputError(f"{path}: [training]: {error}") from None
    return StudySpecFile(
        tasks=_joined(data.get("tasks"), "tasks", path),
        sizes=_joined(data.get("sizes"), "sizes", path),
        dataset=dataset.get("name"),
        data_root=path.parent / Path(dataset["root"]).expanduser() if dataset.get("root") else None,  # relative to the file
        data_options=dict(dataset.get("options", {})),
        training=dict(training),
        folder=path.parent.absolute(),
    )


def _joined(value: Any, key: str, path: Path) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise InvalidInputError(f"{path}: {key} must be a string or a list of strings")


def study_summary(session: Any, study: Study) -> dict[str, Any]:
    """What `study show --json` prints: the definition and how far training has come."""
    candidates = Candidate.all_of_study(session, study.id)
    jobs = Job.all_of_study(session, study.id)
    results = sum(len(c.results) for c in candidates)
    states = {state: sum(job.state == state for job in jobs) for state in ("queued", "running", "done", "failed")}
    return {
        "name": study.name,
        "tasks": study.tasks,
        "sizes": study.sizes,
        "dataset": study.dataset or None,
        "data_splits": study.data_splits,
        "training": study.training,
        "candidates": len(candidates),
        "results": results,
        "jobs": states,
        "affinity_sizes": Affinity.sizes_of_study(session, study.id),
        "last_explored_budget": study.last_explored_budget,
        "checkpoint_folder": study.checkpoint_folder,
        "created_at": study.created_at.isoformat() if study.created_at else None,
    }


def check_known_tasks(tasks: list[str], spec: DatasetSpec) -> None:
    """Every task must be one the dataset provides, checked before anything is written."""
    from taskgroup.data import available_tasks

    known = set(available_tasks(spec))
    if unknown := [task for task in tasks if task not in known]:
        raise InvalidInputError(
            f"unknown task {unknown[0]!r} for dataset {spec.name!r} (available: {', '.join(sorted(known))})"
        )


@study_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Study name, unique in the database.")],
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="Comma-separated task names, e.g. depth,normal,segment.")
    ] = None,
    sizes: Annotated[
        str | None,
        typer.Option("--sizes", help="Network sizes as LABEL=[ENCODER:]COST\\[@WIDTH], comma-separated. "
                     "Default: full=1.0,half=0.5.", show_default=False),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="Dataset to train on (e.g. synthetic). Omit for a study of imported results only."),
    ] = None,
    data_root: DataRootOption = None,
    data_option: DataOptionOption = [],
    spec_file: Annotated[
        Path | None,
        typer.Option("--spec", help="TOML study spec with tasks, sizes, \\[dataset] and \\[training]; flags override it."),
    ] = None,
    db: NewDbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a study: its tasks, its network sizes and (for training) its dataset and training options."""
    from taskgroup.models import parse_sizes  # the encoders' registry needs torch: loaded here, not at CLI start

    _check_name(name, "study name")
    spec_values = read_study_spec(spec_file) if spec_file else StudySpecFile()
    tasks = tasks or spec_values.tasks
    if not tasks:
        raise InvalidInputError("give the study's tasks with --tasks a,b,c (or `tasks` in a --spec file)")
    task_list = parse_task_list(tasks)
    size_specs = parse_sizes(sizes or spec_values.sizes or DEFAULT_SIZES)
    dataset = dataset or spec_values.dataset
    data_root = data_root or spec_values.data_root
    dataset_spec: dict[str, Any] = {}
    data_splits: dict[str, int] | None = None
    if dataset is None and (data_root is not None or data_option):
        raise InvalidInputError("--data-root and --data-option describe a dataset: name it with --dataset (e.g. "
                                "--dataset synthetic); a study without one holds imported results only")
    if dataset is not None:
        from taskgroup.data import DatasetSpec, get_source

        source = get_source(dataset)
        if source.reads_from_disk and data_root is None:
            raise InvalidInputError(f"dataset {dataset!r} is read from disk: give its folder with --data-root")
        # Absolute, so workers started in another folder find it (symbolic links kept: machines may differ there).
        data_root = Path(os.path.abspath(data_root.expanduser())) if data_root is not None else None
        options = {**source.absolute_options(spec_values.data_options, spec_values.folder),
                   **source.absolute_options(parse_key_values(data_option, "--data-option"), Path.cwd())}
        spec = DatasetSpec(name=dataset, root=data_root, options=options)
        source.check_options(spec)
        check_known_tasks(task_list, spec)
        if data_root is not None and data_root.is_dir():
            data_splits = _open_dataset(spec, task_list)
        dataset_spec = {"name": dataset, "root": str(data_root) if data_root else None, "options": spec.options}
    store = open_store(db)
    with store.session() as session:
        if Study.find_by_name(session, name) is not None:
            raise InvalidInputError(f"a study named {name!r} exists already (see `taskgroup study show {name}`)")
        study = Study(
            name=name,
            tasks=task_list,
            sizes=[dataclasses.asdict(size) for size in size_specs],
            dataset=dataset_spec,
            training=spec_values.training,
            data_splits=data_splits,
        )
        session.add(study)
        session.flush()
        summary = study_summary(session, study)
    if json_output:
        emit_json(summary)
    else:
        console.print(f"Created study [bold]{name}[/] with tasks {', '.join(task_list)} "
                      f"and sizes {', '.join(str(size) for size in size_specs)} in {store.display_url}")
    if data_root is not None and not data_root.is_dir():
        print_note(f"{data_root} is not a folder on this machine: the machines that train must find the dataset there")


def _open_dataset(spec: DatasetSpec, tasks: list[str]) -> dict[str, int]:
    """Open the dataset as every job will (folder listings, no label read), so a folder that is
    already broken is refused now, not after `run` has queued the study's jobs; its split sizes."""
    from taskgroup.data import load_splits, split_sizes

    try:
        return split_sizes(load_splits(spec, tasks))
    except InvalidInputError as error:
        raise InvalidInputError(f"{error} (the study is not created; `taskgroup data check {spec.name} --data-root "
                                f"{spec.root}` checks the folder)") from None


@study_app.command("list")
def list_studies(db: DbOption = None, json_output: JsonOption = False) -> None:
    """List the studies in the database."""
    try:
        with open_store(db, create=False).session() as session:
            summaries = [study_summary(session, study) for study in Study.all(session)]
    except MissingDatabaseError as missing:  # a first run: no studies, said with where it looked, nothing made
        summaries, where = [], f" (no database at {missing.url}: {missing.reason})"
    else:
        where = ""
    if json_output:
        emit_json(summaries)
        return
    if not summaries:
        console.print(f"No studies yet{where}. Create one with `taskgroup study create NAME --tasks a,b,c`.")
        return
    # names and task lists fold rather than end in "…" at 80 columns or in a pipe
    table = Table(*(Column(header, overflow="fold") for header in
                    ("study", "tasks", "sizes", "dataset", "networks", "results", "jobs done")))
    for summary in summaries:
        jobs = summary["jobs"]
        table.add_row(
            summary["name"],
            ", ".join(summary["tasks"]),
            ", ".join(size["label"] for size in summary["sizes"]),
            (summary["dataset"] or {}).get("name", "-"),
            str(summary["candidates"]),
            str(summary["results"]),
            f"{jobs['done']}/{sum(jobs.values())}",
        )
    console.print(table)


@study_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Study name.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a study's definition, candidates and progress."""
    with open_store(db, create=False).session() as session:
        summary = study_summary(session, Study.find_or_raise_by_name(session, name))
    if json_output:
        emit_json(summary)
        return
    table = Table(show_header=False, box=None)
    keys = ("name", "tasks", "sizes", "dataset", "data_splits", "training", "candidates", "results", "jobs",
            "affinity_sizes", "last_explored_budget", "checkpoint_folder")
    for key in keys:
        value = summary[key]
        if key == "training":  # the options set; `taskgroup configure NAME` shows every one
            value = key_values(value) + "; the rest default" if value else "defaults"
        elif key == "affinity_sizes":
            if not value:
                continue
            key, value = "affinities", f"measured at {', '.join(value)} (taskgroup affinity show {name})"
        elif key == "tasks":
            value = ", ".join(value)
        elif key == "sizes":
            value = ", ".join(f"{s['label']} ({s['encoder']} x{s['width']:g}, cost {s['cost']:g})" for s in value)
        elif key == "dataset" and value:
            options = key_values(value["options"])
            value = value["name"] + (f" at {value['root']}" if value["root"] else "") + (f" ({options})" if options else "")
        elif key == "data_splits":  # recorded when its runs first open the data, to notice it change
            if value is None:
                continue
            key, value = "data", ", ".join(f"{split} {count}" for split, count in value.items()) + " items"
        elif key == "jobs":
            value = ", ".join(f"{count} {state}" for state, count in value.items())
        elif key == "last_explored_budget":  # where the next `finalize --explore` takes up the budgets' turns
            if value is None:
                continue
            key, value = "explored last", f"budget {value:g} (finalize --explore goes on from the next)"
        elif key == "checkpoint_folder":
            key, value = "checkpoints", f"{default_checkpoint_root() / value} (with the default --checkpoint-root)"
        table.add_row(f"[bold]{key}[/]", str(value if value is not None else "-"))
    console.print(table)


@study_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="Study name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    keep_checkpoints: Annotated[
        bool, typer.Option("--keep-checkpoints", help="Leave the study's checkpoints (its trained networks' weights) and worker logs.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Delete it while workers are training its jobs (they drop them at their next heartbeat).")
    ] = False,
    checkpoint_root: Annotated[
        Path | None,
        typer.Option("--checkpoint-root", envvar="TASKGROUP_CHECKPOINTS", show_default=False,
                     help="The checkpoint folder its workers used (default TASKGROUP_HOME/checkpoints)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Delete a study with its candidates, jobs and results, and its checkpoints (every trained network's
    weights) and worker logs."""
    from jobs.manage import live_jobs

    store = open_store(db)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, name)
        running = live_jobs(session, study)
        if running and not force:
            raise InvalidInputError(
                f"{counted(running, 'job')} of study {name!r} {'is' if running == 1 else 'are'} training now; stop "
                "the workers first (`taskgroup cancel` keeps them from starting more), or delete with --force"
            )
        count = session.query(Result).join(Candidate).filter(Candidate.study_id == study.id).count()
        root = Path(checkpoint_root or default_checkpoint_root()).expanduser()
        folder = study.checkpoint_folder
        checkpoints, logs = root / folder, root / "logs" / folder
        owned = study.own_checkpoint_folder is not None and not keep_checkpoints
        existing = [path for path in (checkpoints, logs) if path.is_dir()]
        deleting = existing if owned else []
        listed = " and ".join(map(str, deleting))
        question = f"Delete study {name!r}, its {counted(count, 'result')}" + (f" and {listed}?" if deleting else "?")
        if not yes and not sys.stdin.isatty():  # a script: the prompt would only end in "Aborted."
            raise InvalidInputError(f"{question[:-1]}: there is no terminal to confirm in; add --yes")
        if not yes and not typer.confirm(question):
            raise typer.Abort()
        session.delete(study)
    console.print(f"Deleted study [bold]{name}[/].")
    if deleting:
        _delete_folders(deleting)
        console.print(f"Deleted its checkpoints and worker logs: {listed}.")
        if running and checkpoints in deleting:
            print_note(f"{counted(running, 'job')} {'was' if running == 1 else 'were'} training: the workers may write "
                       f"one more checkpoint into {checkpoints} as they drop {'it' if running == 1 else 'them'}")
    elif owned and count:  # its workers checkpointed elsewhere; once deleted, nothing else names the folder
        print_note(f"no checkpoints of it in {root}; if its workers used another --checkpoint-root, delete "
                   f"{folder} and logs/{folder} there")
    elif existing:  # kept; before revision 0007 the folders may be another database's too
        what = " and ".join("checkpoints" if path == checkpoints else "worker logs" for path in existing)
        print_note(f"its {what} are left in {' and '.join(map(str, existing))}; delete "
                   f"{'that folder' if len(existing) == 1 else 'those folders'} to free the space"
                   + ("" if keep_checkpoints else " (studies of that name in other databases use them too)"))


def _delete_folders(folders: list[Path]) -> None:
    """Remove the deleted study's checkpoint and log folders; what cannot be removed is named, not hidden."""
    for folder in folders:
        try:
            shutil.rmtree(folder)
        except OSError as error:
            raise InvalidInputError(f"the study is deleted, but {folder} could not be: {error}") from None
