"""`taskgroup data generate|show|tasks`: build the synthetic dataset, look at it, list tasks per dataset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import TimeRemainingColumn
from rich.table import Table

from taskgroup.cli.common import (
    CommandGroup, DataOptionOption, DataRootOption, JsonOption, clean_up_on_sigterm, console, emit_json, err_console,
    parse_key_values, progress_bar,
)
from taskgroup.errors import InvalidInputError

if TYPE_CHECKING:  # the datasets (torch) are loaded by each command, not by every CLI start
    from torch import Tensor
    from torch.utils.data import Dataset

    from taskgroup.data.synthetic import SyntheticParams

data_app = typer.Typer(cls=CommandGroup, help="Generate the synthetic dataset, preview it, and list the tasks each dataset has.",
                       no_args_is_help=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@data_app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the dataset into.")],
    images: Annotated[int, typer.Option(help="Number of images (split 80/10/10 into train/val/test).")] = 400,
    resolution: Annotated[int, typer.Option(help="Image width and height in pixels.")] = 64,
    seed: Annotated[int, typer.Option(help="Random seed; the same parameters give identical files.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace a dataset generated there before with other parameters.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Render the synthetic multi-task scene dataset into OUT (memory-mapped .npy arrays + meta.json)."""
    from taskgroup.data.synthetic import DATASET_FILES, META_FILE, SyntheticParams, generate, read_meta

    params = SyntheticParams.from_options({"images": images, "resolution": resolution, "seed": seed})
    reused = False
    if out.is_file():
        raise InvalidInputError(f"--out {out} is a file; name a folder")
    if out.exists() and any(out.iterdir()):
        if not (out / META_FILE).is_file():
            raise InvalidInputError(f"{out} holds files that are not a generated dataset; choose a new or empty folder")
        others = sorted(path.name for path in out.iterdir() if path.name not in DATASET_FILES)
        if others and force:  # --force replaces the folder whole: never with the user's own files in it
            raise InvalidInputError(f"{out} holds files besides the dataset ({', '.join(others[:3])}); move them "
                                    "or choose another folder")
        if _same_params(out, params) and not force:
            reused = True
        elif not force:
            raise InvalidInputError(f"{out} holds a dataset of other parameters; pass --force to replace it")
    if not reused:
        with clean_up_on_sigterm(), progress_bar("rendering", TimeRemainingColumn(), quiet=json_output) as bar:
            job = bar.add_task("render", total=images)
            generate(out, params, progress=lambda done, total: bar.update(job, completed=done), replace=force)
    meta = read_meta(out)
    splits = {name: stop - start for name, (start, stop) in meta["splits"].items()}
    if json_output:
        emit_json({"path": str(out), "reused": reused, **{k: meta[k] for k in ("images", "resolution", "seed")},
                   "splits": splits})  # fmt: skip
        return
    verb = "already generated" if reused else "wrote"
    console.print(f"{verb} {meta['images']} images at {meta['resolution']}x{meta['resolution']} (seed {meta['seed']}) in {out}: "
                  + ", ".join(f"{k} {v}" for k, v in splits.items()))  # fmt: skip


def _same_params(out: Path, params: SyntheticParams) -> bool:
    from taskgroup.data.synthetic import read_meta

    try:
        meta = read_meta(out)
    except InvalidInputError:
        return False
    return (meta["images"], meta["resolution"], meta["seed"]) == (params.images, params.resolution, params.seed)


@data_app.command("show")
def show_command(
    out: Annotated[Path, typer.Option("--out", help="PNG file to write (.png is added to a name without a suffix).")],
    directory: Annotated[Path | None, typer.Argument(
        help="A directory written by `taskgroup data generate`. Default: the cached synthetic data a study with "
        "these --data-option values trains on (generated if missing).", show_default=False)] = None,
    index: Annotated[int, typer.Option("--index", help="Image index (0-based, over all splits).")] = 0,
    data_option: DataOptionOption = [],
) -> None:
    """Write a PNG of one image with all its labels side by side."""
    from taskgroup.data import DatasetSpec
    from taskgroup.data.preview import save_preview  # matplotlib is slow to import; only here
    from taskgroup.data.synthetic import ensure_generated

    if directory is not None and data_option:
        raise InvalidInputError("--data-option describes the cached data shown without DIRECTORY; give one or the other")
    out = _png_path(out)
    if directory is None:
        directory = ensure_generated(DatasetSpec(name="synthetic", options=parse_key_values(data_option, "--data-option")))
    path = save_preview(directory, index, out)
    console.print(f"wrote {path} (image {index} of {directory})")


def _png_path(out: Path) -> Path:
    """The file `--out` names, checked before any data is generated: a PNG, not a folder."""
    if out.is_dir():
        raise InvalidInputError(f"--out {out} is a folder; name a .png file, e.g. {out / 'preview.png'}")
    if out.suffix == "":
        out = out.with_suffix(".png")
    if out.suffix.lower() != ".png":
        raise InvalidInputError(f"--out {out} must be a .png file (the preview is a PNG image)")
    if out.is_dir():
        raise InvalidInputError(f"--out {out} is a folder; name a .png file, e.g. {out / 'preview.png'}")
    return out


@data_app.command("tasks")
def tasks_command(
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset (default: all).")] = None,
    json_output: JsonOption = False,
) -> None:
    """List the tasks each dataset has labels for (the names a study can use)."""
    from taskgroup.data import DATASETS, DatasetSpec, available_tasks

    names = [dataset] if dataset else DATASETS.names()
    listing = {name: available_tasks(DatasetSpec(name=name)) for name in names}
    if json_output:
        emit_json(listing)
        return
    table = Table("dataset", "tasks")
    for name, tasks in listing.items():
        table.add_row(name, ", ".join(tasks))
    console.print(table)


@data_app.command("check")
def check_command(
    dataset: Annotated[str, typer.Argument(help="Registered dataset name (see `taskgroup data tasks`).")],
    data_root: DataRootOption = None,
    tasks: Annotated[str | None, typer.Option("--tasks", help="Comma-separated tasks (default: all).")] = None,
    data_option: DataOptionOption = [],
    every_item: Annotated[bool, typer.Option("--all", help="Read every item of every split, not only the first, and "
                                             "list every unreadable or out-of-range one.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Load a dataset as a study would and read one item of each split (or all, with --all): sizes,
    shapes and dtypes. Exits 1 naming each bad file when an item cannot be read."""
    from taskgroup.data import DatasetSpec, available_tasks, load_splits

    spec = DatasetSpec(name=dataset, root=data_root, options=parse_key_values(data_option, "--data-option"))
    names = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else available_tasks(spec)
    splits = load_splits(spec, names)
    total = sum(len(data) for data in splits.values())  # type: ignore[arg-type]
    firsts: dict[str, dict[str, Tensor]] = {}
    problems: list[str] = []
    with progress_bar("reading items", TimeRemainingColumn(), quiet=json_output or not every_item) as bar:
        job = bar.add_task("read", total=total)  # the first item of each split alone is read at once
        for split, data in splits.items():
            if every_item:
                firsts[split] = _read_every_item(split, data, problems, lambda: bar.advance(job))
            else:
                firsts[split] = data[0] if len(data) else {}  # type: ignore[arg-type]
    report = {
        split: {"images": len(data),  # type: ignore[arg-type]
                "fields": {k: {"dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape)}
                           for k, v in firsts[split].items()}}
        for split, data in splits.items()
    }  # fmt: skip
    if json_output:
        emit_json({"dataset": dataset, "tasks": names, "read": "all" if every_item else "first",
                   "splits": report, "problems": problems})  # fmt: skip
    else:
        table = Table("split", "images", "first readable item" if problems else "first item")
        for split, info in report.items():
            fields = ", ".join(f"{k} {f['dtype']}{f['shape']}" for k, f in info["fields"].items())
            table.add_row(split, str(info["images"]), fields)
        console.print(table)
        for problem in problems:
            err_console.print(f"  {escape(problem)}", highlight=False, soft_wrap=True)
        if every_item and not problems:
            console.print(f"read all {total} items: no problem found")
    if problems:
        raise InvalidInputError(f"{len(problems)} of {total} items cannot be used" + ("" if json_output else " (listed above)"))


def _read_every_item(split: str, data: Dataset, problems: list[str], advance: Callable[[], None]) -> dict[str, Tensor]:
    """Read each item of `data`, adding each one the dataset refuses to `problems` (by split and
    index, so every bad file is listed in one run); the first readable item."""
    first: dict[str, Tensor] = {}
    for index in range(len(data)):  # type: ignore[arg-type]
        try:
            item = data[index]
        except InvalidInputError as error:
            problems.append(f"{split} item {index}: {error}")
        else:
            first = first or item
        advance()
    return first
