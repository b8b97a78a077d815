"""How much does one task's presence in a group move another task's loss? (issue 9)

Reads `search_quality.py` caches (the main `--cache` file or a `.seedN.pkl` replicate next to it) and
prints, per cache, the mean validation loss of `--task` over the multi-task networks that have it,
with and without `--member`, and the change in %. With the sequential initialisation a decoder's
starting weights depended on the decoders drawn before it (by task name), so the first task by
name (`albedo` at 10 tasks) moved every later task's start; with per-task initialisation it does not:

    .venv/bin/python benchmarks/member_effect.py --task depth --member albedo /tmp/sq10.pkl /tmp/sq10.seed1.pkl /tmp/crn/sq10.pkl /tmp/crn/sq10.seed1.pkl
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("caches", type=Path, nargs="+", help="search_quality.py cache files")
    parser.add_argument("--task", default="depth")
    parser.add_argument("--member", default="albedo")
    args = parser.parse_args()
    print(f"| cache | init | training seed | {args.task} with {args.member} | without | change (%) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for path in args.caches:
        study, value = pickle.loads(path.read_bytes())
        table = value[0] if isinstance(value, tuple) else value  # main cache: (full table, ...); replicate: table
        seed = int(path.suffixes[-2][len(".seed"):]) if path.name.count(".seed") else study["seed"]
        with_member, without = _means(table, args.task, args.member)
        print(f"| {path} | {study.get('init', 'sequential')} | {seed} | {with_member:.3f} | {without:.3f} | "
              f"{100 * (with_member / without - 1):+.1f} |")


def _means(table: pd.DataFrame, task: str, member: str) -> tuple[float, float]:
    """Mean validation loss of `task` over the multi-task networks with and without `member`."""
    rows = table[(table["split"] == "val") & (table["task"] == task) & table["tasks"].str.contains(r"\+")]
    has = rows["tasks"].str.split("+").map(lambda group: member in group)
    return float(rows[has]["loss"].mean()), float(rows[~has]["loss"].mean())


if __name__ == "__main__":
    main()
