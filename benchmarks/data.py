"""Data throughput: synthetic generation, cached vs uncached loading, and reading items (images/s).

Run: .venv/bin/python benchmarks/data.py [--images 400] [--resolution 64]
Everything is measured side by side in one run, in a temporary cache directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from torch.utils.data import DataLoader

from taskgroup.data import DatasetSpec, load_splits
from taskgroup.data.synthetic import SyntheticParams, generate, render_image

TASKS = ["segment", "depth", "normal", "edge", "occlusion", "keypoint", "reshade"]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def read_all(splits: dict) -> int:
    count = 0
    for data in splits.values():
        for batch in DataLoader(data, batch_size=32):
            count += len(batch["rgb"])
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()
    n, r = args.images, args.resolution
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        spec = DatasetSpec(options={"images": n, "resolution": r, "seed": 0, "cache_dir": str(cache)})

        uncached = timed(lambda: load_splits(spec, TASKS))
        rows.append((f"load_splits, uncached (renders {n} images at {r}x{r})", n / uncached))
        cached = timed(lambda: load_splits(spec, TASKS))
        rows.append(("load_splits, cached (opens memory-mapped arrays)", n / cached))

        splits = load_splits(spec, TASKS)
        first = timed(lambda: read_all(splits))
        rows.append(("read every item, all 7 labels, batch 32 (first pass)", n / first))
        second = timed(lambda: read_all(splits))
        rows.append(("read every item, all 7 labels, batch 32 (second pass)", n / second))

        params = SyntheticParams(n, r, 0)
        sample = min(n, 100)
        on_the_fly = timed(lambda: [render_image(params, i) for i in range(sample)])
        rows.append(("render one image on the fly (no cache), for comparison", sample / on_the_fly))

        for res in sorted({32, r, 128}):
            count = 200 if res <= 64 else 50
            seconds = timed(lambda res=res, count=count: generate(Path(tmp) / f"g{res}", SyntheticParams(count, res, 1)))
            rows.append((f"generate to disk at {res}x{res} ({count} images)", count / seconds))

    width = max(len(name) for name, _ in rows)
    print(f"| {'measurement'.ljust(width)} | images/s |")
    print(f"| {'-' * width} | -------: |")
    for name, rate in rows:
        print(f"| {name.ljust(width)} | {rate:8.1f} |")
    print(f"\ncached / uncached load_splits: {(n / cached) / (n / uncached):.0f}x; "
          f"cached read / on-the-fly render: {(n / second) / (sample / on_the_fly):.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
