"""Which budget should `finalize --explore` explore next? The library's rule against the one before it.

Replays "lookahead + fin@15% explore" of `search_quality.py` on its cached studies (`--cache`
files; nothing is trained) twice, side by side: with the library's `next_to_explore` (the budgets
take turns) and with the rule it replaced (always the budget whose untrained networks need the
least optimism to be chosen: the closest call). Prints, per study, each rule's worst test and
validation regret over the budgets and its compute, as markdown.

    .venv/bin/python benchmarks/explore_order.py /tmp/crn/sq7.pkl /tmp/crn/sq7s1.pkl
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import search_quality  # benchmarks/ is on sys.path when this script runs

from taskgroup.finalization import active, explore
from taskgroup.finalization.explore import Exploration
from taskgroup.selection.select import Selector

BUDGETS = [1.0, 2.0, 3.0, 4.0, 5.0]


def closest_call(
    selector: Selector, trained: set, budgets: Sequence[float], after: float | None = None
) -> Exploration | None:
    """The rule before the budgets took turns: the budget needing the least optimism (`after` ignored)."""
    best = None
    for budget in budgets:
        found = explore._least_optimism(selector, trained, budget)
        if found is not None and (best is None or found.optimism < best.optimism):
            best = found
    return best


RULES = {"budgets in turn (library)": explore.next_to_explore, "closest call (before)": closest_call}


def replay(path: Path, rule, cap_pct: float) -> tuple[float, float, float]:
    """Worst test and validation regret (%) over the budgets, and compute (%), of lookahead + fin@cap explore."""
    library = active.next_to_explore
    active.next_to_explore = rule
    try:
        return search_quality.worst_explored(path, "lookahead", [cap_pct], BUDGETS)[cap_pct]
    finally:
        active.next_to_explore = library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("caches", nargs="+", type=Path, help="search_quality.py --cache files")
    parser.add_argument("--compute-cap", type=float, default=15.0, help="%% of the exhaustive compute")
    args = parser.parse_args()
    names = list(RULES)
    print("| study | " + " | ".join(f"{name}: test / val (compute)" for name in names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for path in args.caches:
        cells = [replay(path, RULES[name], args.compute_cap) for name in names]
        print(f"| {path.name} | " + " | ".join(f"{t:+.2f} / {v:+.2f} ({c:.1f}%)" for t, v, c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
