"""`taskgroup train`: train one candidate on a dataset outside any study and print its losses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TextColumn, TimeRemainingColumn
from rich.table import Table

from taskgroup.cli.common import (
    DataOptionOption, DataRootOption, JsonOption, TrainDeviceOption, console, emit_json, err_console, max_epochs_option,
    parse_key_values, progress_bar, stop_on_signals,
)
from taskgroup.errors import DivergenceError, InvalidInputError
from taskgroup.training import STAGES, TrainConfig, TrainOutcome
from taskgroup.wording import counted

if TYPE_CHECKING:  # torch, the data and the models are loaded by the command, not by every CLI start
    import torch

    from taskgroup.models import SizeSpec

NAMED_SIZES = "full=1.0,half=0.5"
"""What a bare `--size` label means (the paper's two sizes); anything else is given in full."""


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(
    tasks: Annotated[str, typer.Option("--tasks", help="Comma-separated tasks of the candidate, e.g. depth,normal.")],
    size: Annotated[
        str, typer.Option("--size", help="full, half, or LABEL=[ENCODER:]COST\\[@WIDTH] (e.g. small=xception:0.25).")
    ] = "full",
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset to train on.")] = "synthetic",
    data_root: DataRootOption = None,
    data_option: DataOptionOption = [],
    stage: Annotated[str, typer.Option("--stage", help="full, or early (the ESA run: a fraction of the schedule).")] = "full",
    max_epochs: Annotated[int, max_epochs_option("Maximum number of epochs.")] = TrainConfig.max_epochs,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Samples per step.")] = TrainConfig.batch_size,
    lr: Annotated[float, typer.Option("--lr", help="Initial learning rate.")] = TrainConfig.lr,
    optimizer: Annotated[str, typer.Option("--optimizer", help="adam or sgd.")] = TrainConfig.optimizer,
    weighting: Annotated[str, typer.Option("--weighting", help="Loss-weighting method, e.g. uniform, dwa, pcgrad.")] = "uniform",
    weighting_option: Annotated[
        list[str], typer.Option("--weighting-option", help="Weighting option KEY=VALUE (repeatable; JSON values).")
    ] = [],
    patience: Annotated[int, typer.Option("--patience", help="Stop after this many epochs without improvement.")] = TrainConfig.patience,
    stage_fraction: Annotated[float, typer.Option("--stage-fraction", help="Share of the schedule an early run trains.")] = TrainConfig.stage_fraction,
    seed: Annotated[int, typer.Option("--seed", help="Seed of initialisation and shuffling.")] = TrainConfig.seed,
    init: Annotated[
        str, typer.Option("--init", help="per-task: each task's decoder starts the same in every candidate; sequential: "
                          "decoders draw one after another (studies made before schema 0004).")
    ] = TrainConfig.init,
    device: TrainDeviceOption = "auto",
    num_workers: Annotated[
        int, typer.Option("--num-workers", "--workers", help="Data-loading worker processes per training run (the "
                          "training option num_workers; 0 loads in the training process).")
    ] = TrainConfig.num_workers,
    checkpoint_dir: Annotated[
        Path | None, typer.Option("--checkpoint-dir", help="Checkpoint every epoch here and resume from it.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Train one candidate network and print each task's validation and test loss (of the checkpoint
    with the lowest summed validation loss)."""
    from taskgroup.data import DatasetSpec, load_splits
    from taskgroup.devices import resolve_device
    from taskgroup.training import train_candidate
    from taskgroup.training.engine import TrainingInterrupted

    task_names = [name.strip() for name in tasks.split(",") if name.strip()]
    if not task_names:
        raise InvalidInputError("--tasks needs at least one task name")
    if stage not in STAGES:
        raise InvalidInputError(f"--stage must be one of {', '.join(STAGES)}, got {stage!r}")
    config = TrainConfig(
        optimizer=optimizer, lr=lr, batch_size=batch_size, max_epochs=max_epochs, patience=patience,
        weighting=weighting, weighting_options=parse_key_values(weighting_option, "--weighting-option"),
        seed=seed, stage_fraction=stage_fraction, num_workers=num_workers, init=init,
    )  # fmt: skip
    spec = DatasetSpec(name=dataset, root=data_root, options=parse_key_values(data_option, "--data-option"))
    chosen = resolve_device(device)  # a bad device fails before the data is loaded
    splits = load_splits(spec, task_names)
    stopping = "stopping: checkpointing" if checkpoint_dir else "stopping"
    with stop_on_signals(f"{stopping} (Ctrl-C again to stop at once)") as stop, progress_bar(
            f"training {'+'.join(sorted(task_names))}, steps", TextColumn("ETA"), TimeRemainingColumn(),
            quiet=json_output) as bar:
        job = bar.add_task("train", total=None)
        try:
            outcome = train_candidate(
                task_names, _size(size), splits, chosen, config, stage=stage, checkpoint_dir=checkpoint_dir,
                progress=lambda done, total: bar.update(job, completed=done, total=total), should_stop=stop.is_set,
            )  # fmt: skip
        except TrainingInterrupted:
            outcome = None
        except DivergenceError as error:
            raise DivergenceError(f"{error} (--lr, --optimizer or --weighting)") from None
    if outcome is None:
        err_console.print("stopped; run the same command to resume from " + str(checkpoint_dir) if checkpoint_dir
                          else "stopped; nothing was saved (with --checkpoint-dir DIR the same command resumes)")
        raise typer.Exit(130)
    if json_output:
        emit_json({**outcome.to_dict(), "device": str(chosen), "config": config.to_dict()})
        return
    _print(outcome, chosen)


def _print(outcome: TrainOutcome, device: torch.device) -> None:
    table = Table(title=f"{outcome.candidate} ({outcome.size}, {outcome.stage} stage) on {device}")
    table.add_column("task")
    table.add_column("val loss", justify="right")
    table.add_column("test loss", justify="right")
    for task in outcome.tasks:
        table.add_row(task, f"{outcome.val_losses[task]:.5f}", f"{outcome.test_losses[task]:.5f}")
    table.add_row("total", f"{sum(outcome.val_losses.values()):.5f}", f"{sum(outcome.test_losses.values()):.5f}")
    console.print(table)
    console.print(
        f"best epoch {outcome.best_epoch} of {outcome.epochs} ({outcome.stop_reason.replace('_', ' ')}), "
        f"{counted(outcome.steps, 'step')} in {outcome.wall_time:.1f} s"
    )


def _size(text: str) -> SizeSpec:
    from taskgroup.models import parse_size, parse_sizes

    if "=" in text:
        return parse_size(text)
    named = {size.label: size for size in parse_sizes(NAMED_SIZES)}
    if text not in named:
        raise InvalidInputError(
            f"--size {text!r} is neither {' nor '.join(named)} nor LABEL=[ENCODER:]COST[@WIDTH] (e.g. small=0.25)"
        )
    return named[text]
