"""Lockstep training of K candidates against the same K trained one after another.

For K = 1, 2, 4, 8 same-shaped small candidates (two-task networks over one-channel dense tasks, an
Xception encoder at `--width`), each run is a fresh subprocess that trains for `--epochs` and
reports its wall time, CPU time (user + system of the training call, which other processes on a
shared machine disturb less) and peak resident memory (`resource.getrusage(RUSAGE_SELF).ru_maxrss`,
which includes the Python interpreter, torch and the dataset). Both arms use `--threads` intra-op
threads. Lockstep and one-after-another runs are interleaved (A B A B ...) so both see the same
machine load, and each rate is the median of `--repeats` runs. CUDA is measured too when present.

    .venv/bin/python benchmarks/training.py [--images 320] [--resolution 32] [--width 0.25] [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
ONE_CHANNEL_TASKS = ("depth", "edge", "keypoint", "occlusion", "reshade")
CANDIDATES = [list(pair) for pair in itertools.combinations(ONE_CHANNEL_TASKS, 2)]


def measure(mode: str, k: int, device: str, args: argparse.Namespace) -> dict[str, float]:
    """Train K candidates in this process (`lockstep` or `sequential`) and report time and memory."""
    import torch

    from taskgroup.data import DatasetSpec, load_splits
    from taskgroup.models import SizeSpec
    from taskgroup.training import TrainConfig, train_candidate, train_lockstep

    torch.set_num_threads(args.threads)
    options = {"images": args.images, "resolution": args.resolution, "seed": 0, "cache_dir": args.cache}
    splits = load_splits(DatasetSpec(name="synthetic", options=options), list(ONE_CHANNEL_TASKS))
    size = SizeSpec("small", width=args.width, cost=args.width)
    config = TrainConfig(batch_size=args.batch_size, max_epochs=args.epochs, seed=0)
    candidates = [(tasks, size) for tasks in CANDIDATES[:k]]
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    if mode == "lockstep":
        outcomes = train_lockstep(candidates, splits, device, config)
    else:
        outcomes = [train_candidate(tasks, size, splits, device, config) for tasks, size in candidates]
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    samples = sum(outcome.steps for outcome in outcomes) * config.batch_size
    result = {"seconds": seconds, "cpu_seconds": cpu, "samples": samples, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.startswith("cuda"):
        result["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def step_times(k: int, device: str, args: argparse.Namespace) -> dict[str, float]:
    """Steady-state milliseconds per batch, without network construction and evaluation passes: loading
    and collating one batch, the K candidates' steps one after another, and their step as one stacked
    group(s) (`make_groups` may split K into several folded groups). The two arms alternate for `--repeats` rounds over the same batches; medians count. With
    `--profile`, the top operators of each arm (torch.profiler, self CPU time) go to stderr."""
    import torch

    from taskgroup.data import DatasetSpec, load_splits
    from taskgroup.models import SizeSpec
    from taskgroup.training import TrainConfig
    from taskgroup.training.batches import epoch_loader, to_device
    from taskgroup.training.groups import make_groups
    from taskgroup.training.run import CandidateRun

    torch.set_num_threads(args.threads)
    options = {"images": args.images, "resolution": args.resolution, "seed": 0, "cache_dir": args.cache}
    splits = load_splits(DatasetSpec(name="synthetic", options=options), list(ONE_CHANNEL_TASKS))
    size = SizeSpec("small", width=args.width, cost=args.width)
    config = TrainConfig(batch_size=args.batch_size, seed=0)
    target = torch.device(device)
    started = time.perf_counter()
    batches = [to_device(raw, target) for raw in epoch_loader(splits["train"], config, 0, 0, target)]
    load_ms = (time.perf_counter() - started) * 1000 / len(batches)
    arms = {
        "alone": make_groups([CandidateRun(tasks, size, config, target) for tasks in CANDIDATES[:k]], allow_stacking=False),
        "stacked": make_groups([CandidateRun(tasks, size, config, target) for tasks in CANDIDATES[:k]],
                               batch_shape=tuple(batches[0]["rgb"].shape)),  # as the training loop groups them
    }

    def epoch(groups: list) -> float:
        started = time.perf_counter()
        for step, batch in enumerate(batches):
            for group in groups:
                group.train_step(batch, 0, step)
        if target.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - started) * 1000 / len(batches)

    times: dict[str, list[float]] = {name: [] for name in arms}
    for groups in arms.values():
        epoch(groups)  # warm-up: first calls create kernels and optimizer state
    for _ in range(args.repeats):
        for name, groups in arms.items():
            times[name].append(epoch(groups))
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        for name, groups in arms.items():
            with profile(activities=[ProfilerActivity.CPU]) as profiler:
                epoch(groups)
            table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
            print(f"--- {name}, K = {k}, {len(batches)} steps ---\n{table}", file=sys.stderr)
    return {"load_ms": load_ms, **{f"{name}_ms": median(found) for name, found in times.items()}}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--width", type=float, default=0.25, help="Encoder width multiplier (0.5 is `half`).")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ks", default="1,2,4,8")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per configuration and arm; the median counts.")
    parser.add_argument("--profile", action="store_true", help="Print the top operators of both arms' steps (stderr).")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--one", nargs=3, metavar=("MODE", "K", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        mode, k, device = args.one
        result = step_times(int(k), device, args) if mode == "steps" else measure(mode, int(k), device, args)
        print(json.dumps(result))
        return
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as cache:
        base = [sys.executable, __file__, "--images", str(args.images), "--resolution", str(args.resolution),
                "--width", str(args.width), "--batch-size", str(args.batch_size), "--epochs", str(args.epochs), "--threads", str(args.threads),
                "--cache", cache]  # fmt: skip
        subprocess.run([*base, "--one", "sequential", "1", "cpu"], check=True, capture_output=True)  # warm the cache
        print("| device | K | one after another (samples/s) | lockstep (samples/s) | speed-up (wall) "
              "| speed-up (CPU time) | peak RSS one after another (MB) | peak RSS lockstep (MB) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for device in devices:
            for k in [int(value) for value in args.ks.split(",")]:
                runs: dict[str, list[dict[str, float]]] = {"sequential": [], "lockstep": []}
                for _ in range(args.repeats):
                    for mode, found in runs.items():
                        done = subprocess.run([*base, "--one", mode, str(k), device], check=True, capture_output=True, text=True)
                        found.append(json.loads(done.stdout.strip().splitlines()[-1]))
                rate = {mode: median(run["samples"] / run["seconds"] for run in found) for mode, found in runs.items()}
                cpu = {mode: median(run["samples"] / run["cpu_seconds"] for run in found) for mode, found in runs.items()}
                rss = {mode: max(run["max_rss_mb"] for run in found) for mode, found in runs.items()}
                print(
                    f"| {device} | {k} | {rate['sequential']:.1f} | {rate['lockstep']:.1f} | "
                    f"{rate['lockstep'] / rate['sequential']:.2f}x | {cpu['lockstep'] / cpu['sequential']:.2f}x | "
                    f"{rss['sequential']:.0f} | {rss['lockstep']:.0f} |",
                    flush=True,
                )
        print("\n| device | K | load + collate one batch (ms) | K steps one after another (ms) | one stacked step (ms) | speed-up |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for device in devices:
            for k in [int(value) for value in args.ks.split(",")]:
                flags = ["--profile"] if args.profile else []
                done = subprocess.run([*base, "--repeats", str(args.repeats), *flags, "--one", "steps", str(k), device],
                                      check=True, capture_output=True, text=True)  # fmt: skip
                if args.profile:
                    print(done.stderr, file=sys.stderr)
                found = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"| {device} | {k} | {found['load_ms']:.1f} | {found['alone_ms']:.1f} | {found['stacked_ms']:.1f} | "
                      f"{found['alone_ms'] / found['stacked_ms']:.2f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
