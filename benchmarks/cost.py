"""Measured inference cost of 1..5-task networks against the paper's assumption that every
full-size network costs 1.0 (and every half-size one 0.5), whatever its number of tasks.

Networks: every non-empty subset of the paper's five Taskonomy tasks (segment, depth, normal,
keypoint, edge) at full size, and the five single-task networks at half size, measured with
`taskgroup.cost.measure_candidates` as `taskgroup cost` does: in interleaved rounds (every network
once per round) so that a change in machine load hits all networks alike; a network's latency is
the median over rounds of each round's median. Costs are relative to the mean full-size
single-task network, as `--unit relative` computes them.

    .venv/bin/python benchmarks/cost.py [--image-size 64] [--batch-size 1] [--rounds 5] [--repeats 10] [--threads 1] [--devices cpu,cuda]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
from collections import defaultdict

import torch

from taskgroup.cost import CostMeasurement, candidate_costs, measure_candidates
from taskgroup.models import parse_sizes
from taskgroup.tasks import get_task

TASKS = ("segment", "depth", "normal", "keypoint", "edge")


def networks() -> list[tuple[str, str]]:
    """(canonical tasks, size) of every full-size subset and every half-size single-task network."""
    full = ["+".join(sorted(s)) for k in range(1, len(TASKS) + 1) for s in itertools.combinations(TASKS, k)]
    return [(tasks, "full") for tasks in full] + [(task, "half") for task in sorted(TASKS)]


def measure_all(device: str, image_size: int, batch_size: int, rounds: int, repeats: int) -> dict[tuple[str, str], CostMeasurement]:
    sizes = {size.label: size for size in parse_sizes("full=1.0,half=0.5")}
    keys = networks()
    candidates = [([get_task(t) for t in tasks.split("+")], sizes[size]) for tasks, size in keys]
    measured = measure_candidates(
        candidates, (3, image_size, image_size), device, batch_size, warmup=2, repeats=repeats, rounds=rounds
    )
    return dict(zip(keys, measured))


def summarise(measured: dict[tuple[str, str], CostMeasurement]) -> list[dict[str, object]]:
    """One row per (size, number of tasks): mean relative cost in each basis, and the latency range."""
    relative = {basis: candidate_costs(measured, "relative", basis=basis) for basis in ("ms", "macs", "params")}
    groups: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    for key in measured:
        groups[(key[1], len(key[0].split("+")))].append(key)
    rows = []
    for (size, k), keys in sorted(groups.items(), key=lambda item: (item[0][0] != "full", item[0][1])):
        latency = [relative["ms"][key] for key in keys]
        rows.append({
            "size": size,
            "tasks": k,
            "networks": len(keys),
            "paper": 1.0 if size == "full" else 0.5,
            "latency": statistics.mean(latency),
            "latency_min": min(latency),
            "latency_max": max(latency),
            "macs": statistics.mean(relative["macs"][key] for key in keys),
            "params": statistics.mean(relative["params"][key] for key in keys),
            "ms": statistics.mean(measured[key].latency_ms for key in keys),
            "iqr_ms": statistics.mean(measured[key].latency_spread_ms for key in keys),
            "peak_mib": (
                statistics.mean(measured[key].peak_memory_bytes for key in keys) / 2**20  # type: ignore[misc]
                if all(measured[key].peak_memory_bytes is not None for key in keys) else None
            ),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: steadier on a shared machine)")
    parser.add_argument("--devices", default="cpu,cuda", help="devices to try; cuda is skipped when absent")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [d for d in args.devices.split(",") if d == "cpu" or (d.startswith("cuda") and torch.cuda.is_available())]
    print(f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} CPU thread(s), "
          f"input {args.image_size}x{args.image_size}, batch {args.batch_size}, {args.rounds} rounds x {args.repeats} runs")
    for device in devices:
        measured = measure_all(device, args.image_size, args.batch_size, args.rounds, args.repeats)
        print(f"\n## {device}\n")
        print("| size | tasks | networks | paper | latency (mean, min-max) | MACs | params | ms | IQR ms | peak MiB |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in summarise(measured):
            peak = "-" if row["peak_mib"] is None else f"{row['peak_mib']:.1f}"
            print(
                f"| {row['size']} | {row['tasks']} | {row['networks']} | {row['paper']:.2f} "
                f"| {row['latency']:.2f} ({row['latency_min']:.2f}-{row['latency_max']:.2f}) "
                f"| {row['macs']:.2f} | {row['params']:.2f} | {row['ms']:.2f} | {row['iqr_ms']:.2f} | {peak} |"
            )


if __name__ == "__main__":
    main()
