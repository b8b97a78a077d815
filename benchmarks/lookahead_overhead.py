"""What the lookahead measurement costs: one training run of the all-task network with and without it.

Runs side by side in one process, alternating, each configuration `--repeats` times (the minimum
counts), on the synthetic dataset, with one CPU thread. The ratio is of process CPU time, which a
busy shared machine does not inflate the way it does wall time; wall time is shown too.

    .venv/bin/python benchmarks/lookahead_overhead.py --tasks depth,edge,normal,occlusion,reshade --every 1,10,auto
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from taskgroup.affinity.measure import default_interval, measure_affinity
from taskgroup.data import DatasetSpec, load_splits
from taskgroup.models import parse_size
from taskgroup.training import TrainConfig, train_candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="depth,edge,normal,occlusion,reshade")
    parser.add_argument("--every", default="1,10,auto", help="comma-separated lookahead intervals (steps; auto = 4 x tasks)")
    parser.add_argument("--size", default="small=xception:0.5")
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tasks = args.tasks.split(",")
    intervals = [default_interval(len(tasks)) if value == "auto" else int(value) for value in args.every.split(",")]
    options = {"images": args.images, "resolution": args.resolution, "cache_dir": tempfile.mkdtemp()}
    splits = load_splits(DatasetSpec("synthetic", options=options), tasks)
    size = parse_size(args.size)
    config = TrainConfig(max_epochs=args.epochs, batch_size=args.batch_size, patience=args.epochs)

    def plain() -> None:
        train_candidate(tasks, size, splits, args.device, config)

    def lookahead(every: int):
        return lambda: measure_affinity(tasks, size, splits, args.device, config, every=every)

    runs = {"plain training": plain, **{f"lookahead every {n}": lookahead(n) for n in intervals}}
    cpu = {name: float("inf") for name in runs}
    wall = dict(cpu)
    for _ in range(args.repeats):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
            wall[name] = min(wall[name], time.perf_counter() - start)
    base = cpu["plain training"]
    print(f"{len(tasks)} tasks, size {args.size}, {args.images} images at {args.resolution}px, "
          f"{args.epochs} epochs, batch {args.batch_size}, device {args.device}, {args.threads} thread(s)\n")
    print("| run | CPU time (s) | wall time (s) | CPU-time ratio to plain training |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in cpu.items():
        print(f"| {name} | {seconds:.2f} | {wall[name]:.2f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
