"""Is a study's grouping signal above its training noise? (issue 9)

A 1% regret target only means something when the networks of a study differ by more than one
training run differs from the next. This trains a sample of candidates (every single-task network,
the all-task network, every network leaving one task out, and `--pairs` pairs) once per training
seed, on the same data, and prints per task:

- seed noise: the standard deviation of a network's validation loss over the seeds, % of the
  task's mean loss, after removing what a seed does to every network alike (one seed's batch order
  is shared by all its networks; a shift common to all of them does not change which is chosen);
- spread over groupings: the standard deviation over the networks of their mean over the seeds, %
  (it still holds about noise / sqrt(seeds) of seed noise);
- their ratio (below 1, which network is best for a task is decided mostly by the seed), and the
  mean correlation over the networks between two seeds' losses.

    .venv/bin/python benchmarks/seed_noise.py --train-images 512 --epochs 20

Run it before an exhaustive search-quality study to choose data, epochs and width where the ratio
is well above 1; `benchmarks/search_quality.py --replicate-seed` prints the same table over every
network of its study.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import pandas as pd
import torch

from taskgroup.data import DatasetSpec, load_splits
from taskgroup.data.synthetic import SyntheticDataset
from taskgroup.models import parse_size
from taskgroup.training import INITS, TrainConfig, train_lockstep

TASKS = "depth,edge,keypoint,normal,occlusion,reshade,segment"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--size", default="full=xception:1.0@0.25")
    parser.add_argument("--images", type=int, default=640, help="images generated; the last 10%% are test, the 10%% before val")
    parser.add_argument("--train-images", type=int, default=128, help="train on only the first N training images")
    parser.add_argument("--resolution", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--seeds", type=lambda text: [int(seed) for seed in text.split(",")], default=[0, 1, 2],
                        help="training seeds (comma-separated, at least two); the data always uses seed 0")
    parser.add_argument("--init", choices=INITS, default=TrainConfig.init,
                        help="how a network's parts are initialised (TrainConfig.init): per-task (each decoder starts the "
                             "same in every network) or sequential (the library's before schema 0004)")
    parser.add_argument("--pairs", type=int, default=7, help="how many two-task networks to add (in lexical order)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None,
                        help="pickle of the losses: read if it holds this study, else trained and written")
    args = parser.parse_args()
    if len(args.seeds) < 2:
        parser.error("--seeds needs at least two seeds")
    torch.set_num_threads(args.threads)
    tasks = sorted(args.tasks.split(","))
    size = parse_size(args.size)
    config = TrainConfig(max_epochs=args.epochs, batch_size=args.batch_size, patience=args.patience, lr=args.lr,
                         init=args.init)
    candidates = _sample(tasks, args.pairs)
    started = time.perf_counter()
    study = {key: value for key, value in vars(args).items() if key not in ("threads", "cache")}
    if args.cache and args.cache.exists() and pickle.loads(args.cache.read_bytes())[0] == study:
        runs = pickle.loads(args.cache.read_bytes())[1]
    else:
        splits = _splits(tasks, args)
        runs = [_val_losses(train_lockstep([(g, size) for g in candidates], splits, "cpu", replace(config, seed=seed), stage="full"))
                for seed in args.seeds]
        if args.cache:
            args.cache.write_bytes(pickle.dumps((study, runs)))
    print(f"{len(tasks)} tasks, size {args.size}, {args.train_images} training images at {args.resolution}px "
          f"({args.images // 10} validation), at most {args.epochs} epochs (patience {args.patience}), lr {args.lr:g}; "
          f"{len(candidates)} networks x seeds {','.join(map(str, args.seeds))}; {time.perf_counter() - started:.0f} s\n")
    print(noise_table(runs, tasks))


def noise_table(runs: list[pd.Series], tasks) -> str:
    """Markdown table from validation losses indexed by (network, task), one Series per training seed
    (same networks in each), with a last row of the per-task means."""
    table = pd.concat(runs, axis=1, keys=range(len(runs)))
    lines = ["| task | mean loss | seed noise (%) | spread over groupings (%) | spread / noise | correlation between seeds |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    columns = []
    for task in tasks:
        losses = table.xs(task, level="task")
        mean = float(losses.to_numpy().mean())
        residual = losses.sub(losses.mean(axis=1), axis=0) - (losses.mean(axis=0) - mean)
        networks, seeds = losses.shape
        noise = (float((residual ** 2).to_numpy().sum()) / ((networks - 1) * (seeds - 1))) ** 0.5 / mean * 100
        spread = float(losses.mean(axis=1).std(ddof=0)) / mean * 100
        pairs = list(combinations(losses.columns, 2))
        correlation = sum(losses[a].corr(losses[b]) for a, b in pairs) / len(pairs)
        columns.append((noise, spread, spread / noise))
        lines.append(f"| {task} | {mean:.4f} | {noise:.1f} | {spread:.1f} | {spread / noise:.2f} | {correlation:+.2f} |")
    noise, spread, ratio = (sum(values) / len(tasks) for values in zip(*columns))
    lines.append(f"| mean | | {noise:.1f} | {spread:.1f} | {ratio:.2f} | |")
    return "\n".join(lines)


def _sample(tasks, pairs: int) -> list[list[str]]:
    """Singles, the all-task network, every leave-one-out network, and the first `pairs` pairs."""
    leave_one_out = [[u for u in tasks if u != t] for t in tasks]
    return [[t] for t in tasks] + [list(tasks)] + leave_one_out + [list(p) for p in combinations(tasks, 2)][:pairs]


def _val_losses(outcomes) -> pd.Series:
    return pd.Series({("+".join(o.tasks), task): loss for o in outcomes for task, loss in o.val_losses.items()},
                     name="loss").rename_axis(["network", "task"])


def _splits(tasks, args):
    options = {"images": args.images, "resolution": args.resolution, "seed": 0, "cache_dir": tempfile.mkdtemp()}
    splits = load_splits(DatasetSpec("synthetic", options=options), tasks)
    train = splits["train"]
    splits["train"] = SyntheticDataset(train.arrays, train.indices[: args.train_images], train.tasks)
    return splits


if __name__ == "__main__":
    main()
