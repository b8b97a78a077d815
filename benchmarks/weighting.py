"""Cost of each weighting method per training step, relative to uniform weighting, in one run.

Trains a real candidate network (3 tasks, synthetic data) for a few steps with each method and
reports the median step time and its ratio to `uniform`, measured side by side (interleaved rounds,
so machine load affects every method alike), and the peak CUDA memory when run on a GPU.

    .venv/bin/python benchmarks/weighting.py [--device cpu|cuda] [--steps 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader

from taskgroup.data import DatasetSpec, load_splits
from taskgroup.models import SizeSpec
from taskgroup.models.network import build_model
from taskgroup.tasks import get_task
from taskgroup.weighting import WEIGHTINGS, StepContext, build_weighting

TASKS = ["depth", "normal", "edge"]


def options_for(name: str) -> dict[str, object]:
    if name == "achievement":
        return {"potentials": dict.fromkeys(TASKS, 0.9)}
    if name == "connection_strength":
        return {"priority_epochs": 0}  # measure the gradient phase
    return {}


def step_seconds(name: str, batches: list[dict[str, torch.Tensor]], device: torch.device, size: str) -> list[float]:
    """Wall time of each training step (forward, method backward, optimizer step)."""
    torch.manual_seed(0)
    tasks = [get_task(task) for task in TASKS]
    model = build_model(tasks, SizeSpec(size)).to(device)
    method = build_weighting(name, TASKS, **options_for(name)).to(device)
    optimizer = torch.optim.Adam([*model.parameters(), *method.parameters()], lr=1e-3)
    captured: dict[str, torch.Tensor] = {}
    model.encoder.register_forward_hook(lambda _module, _inputs, output: captured.__setitem__("z", output))
    times = []
    for step, batch in enumerate(batches):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        outputs = model(batch["rgb"])
        losses = {task.name: task.loss(outputs[task.name], batch) for task in tasks}
        context = StepContext(
            step=step,
            epoch=0,
            kpis=dict.fromkeys(TASKS, 0.5) if method.needs_kpis else None,
            shared_representation=captured["z"] if method.needs_representation else None,
            task_connections=(
                {name: next(p for p in decoder.parameters() if p.dim() >= 2) for name, decoder in model.decoders.items()}
                if method.needs_task_connections
                else None
            ),
        )
        method.backward(losses, model.shared_parameters(), context)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return times[2:]  # the first steps include one-off allocation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--size", default="half")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    splits = load_splits(
        DatasetSpec("synthetic", options={"images": args.batch_size * args.steps, "resolution": args.resolution}), TASKS
    )
    loader = DataLoader(splits["train"], batch_size=args.batch_size, shuffle=False, drop_last=True)
    batches = [{key: value.to(device) for key, value in batch.items()} for batch in loader][: args.steps]
    names = WEIGHTINGS.names()
    samples: dict[str, list[float]] = {name: [] for name in names}
    peaks: dict[str, float] = {}
    for _ in range(args.rounds):
        for name in names:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            samples[name] += step_seconds(name, batches, device, args.size)
            if device.type == "cuda":
                peaks[name] = torch.cuda.max_memory_allocated(device) / 2**20
    baseline = statistics.median(samples["uniform"])
    header = "| method | median step (ms) | vs uniform |" + (" peak CUDA MiB |" if peaks else "")
    print(header)
    print("| --- | ---: | ---: |" + (" ---: |" if peaks else ""))
    for name in sorted(names, key=lambda n: statistics.median(samples[n])):
        median = statistics.median(samples[name])
        row = f"| {name} | {1000 * median:.1f} | {median / baseline:.2f}x |"
        print(row + (f" {peaks[name]:.0f} |" if peaks else ""))


if __name__ == "__main__":
    main()
