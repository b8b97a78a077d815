"""Why `taskgroup demo` trains with one torch thread per worker: one demo-sized job timed side by side
with 1 thread and with torch's default (one per core), alternating, on the same data.

A demo job is a tiny network (Xception at 16x16 pixels, batch 16): every operation is small, so
OpenMP threads gain nothing and, on a machine whose cores are busy, spend their time waiting for
each other.

    .venv/bin/python benchmarks/demo_threads.py [--rounds 3] [--images 80] [--resolution 16] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from taskgroup.data import DatasetSpec, load_splits
from taskgroup.models import SizeSpec
from taskgroup.training.candidate import train_candidate
from taskgroup.training.config import TrainConfig

TASKS = ["depth", "normal", "segment"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=80)
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    splits = load_splits(DatasetSpec(name="synthetic", options={"images": args.images, "resolution": args.resolution}), TASKS)
    config = TrainConfig(max_epochs=args.epochs, batch_size=16, patience=args.epochs)
    size = SizeSpec("full", cost=1.0, width=1.0)
    default_threads = torch.get_num_threads()
    timings: dict[int, list[float]] = {1: [], default_threads: []}
    train_candidate(TASKS, size, splits, "cpu", config)  # warm-up: first-call allocations
    for _ in range(args.rounds):
        for threads in timings:
            torch.set_num_threads(threads)
            started = time.perf_counter()
            train_candidate(TASKS, size, splits, "cpu", config)
            timings[threads].append(time.perf_counter() - started)
    print(f"cores: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"job: {'+'.join(TASKS)} at full size, {args.images} images of {args.resolution}x{args.resolution}, {args.epochs} epochs")
    for threads, values in timings.items():
        print(f"torch threads {threads}: median {statistics.median(values):.2f} s over {len(values)} runs "
              f"(min {min(values):.2f}, max {max(values):.2f})")
    if default_threads != 1:
        ratio = statistics.median(timings[default_threads]) / statistics.median(timings[1])
        print(f"default threads / one thread: {ratio:.1f}x")


if __name__ == "__main__":
    main()
