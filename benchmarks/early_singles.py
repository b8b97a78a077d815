"""Would lookahead reach the target with a cheaper head start? Early-stage singles (issue 9, a prototype).

Lookahead's head start is the all-task run and every single-task network trained fully: at 6 tasks
that is 11% of the exhaustive compute, which leaves room for 2-3 networks under a 15% cap. Here the
singles are trained only to the early stage (the first `stage_fraction` of the schedule, as ESA
trains every network) and each is predicted at its early loss times the all-task network's ratio of
full to early loss for that task (the lookahead run passes the early point on its way, so that ratio
costs nothing); the library's estimator then scales the groups from those predicted singles.
Finalization with exploration spends the rest of the cap as `finalize --explore` does, and trains a
single fully only when it is chosen. Replayed from `search_quality.py --cache` files, next to the
library's head start (nothing is trained):

    .venv/bin/python benchmarks/early_singles.py /tmp/crn/sq6.pkl /tmp/crn/sq6s[1-7].pkl
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import pandas as pd
from search_quality import (  # benchmarks/ is on sys.path
    CachedStudy,
    capped_search,
    read_cache,
    replayed_rows,
    worst_explored,
)

from taskgroup.estimators.base import Estimator, Evidence
from taskgroup.estimators.lookahead import LookaheadEstimator


class EarlySinglesLookahead(Estimator):
    """The library's lookahead estimator, with each single not yet trained fully predicted from its
    early-stage loss (times the all-task network's full / early ratio for that task)."""

    name = "lookahead"

    def __init__(self, tasks: list[str], size: str) -> None:
        self.inner, self.tasks, self.size = LookaheadEstimator(), tasks, size

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        full, early = evidence.losses("full", "val"), evidence.losses("early", "val")
        everything = "+".join(self.tasks)
        ratio = (full[full["tasks"] == everything].set_index("task")["loss"]
                 / early[early["tasks"] == everything].set_index("task")["loss"])
        early_singles = early[early["tasks"].isin(set(self.tasks) - set(full["tasks"]))]
        predicted = early_singles.assign(loss=early_singles["loss"] * early_singles["task"].map(ratio),
                                         cost=1.0, stage="full", split="val")
        return self.inner.estimate(Evidence(pd.concat([evidence.results, predicted], ignore_index=True),
                                            evidence.extras))


def worst_with_early_singles(cached: CachedStudy, cap: float,
                             budgets: list[float]) -> tuple[float, float, float, float]:
    """Worst test and validation regret (%) over the budgets, the most compute (%) and the head start's (%)."""
    early_epochs = cached.early_epochs / len(cached.epochs)  # every early run is as long
    everything = ("+".join(cached.tasks), cached.size)
    spent = cached.epochs[everything] * cached.overhead + early_epochs * len(cached.tasks)
    early = cached.early[cached.early["tasks"].isin([*cached.tasks, everything[0]])]
    evidence = pd.concat([replayed_rows(cached.truth, [everything]), early], ignore_index=True)
    exhaustive = sum(cached.epochs.values())
    records = capped_search("early singles", EarlySinglesLookahead(cached.tasks, cached.size), evidence,
                            {"affinity": cached.affinity}, cached.tasks, budgets, partial(replayed_rows, cached.truth),
                            cached.epochs, spent, {everything}, cached.truth, cached.optimum(budgets), exhaustive,
                            [cap], per_budget=False, explore=True)
    return (max(r["regret_pct"] for r in records), max(r["val_regret_pct"] for r in records),
            max(r["compute_pct"] for r in records), 100 * spent / exhaustive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("caches", nargs="+", type=Path, help="search_quality.py --cache files")
    parser.add_argument("--cap", type=float, default=15.0, help="compute cap, %% of the exhaustive search")
    parser.add_argument("--budgets", default="1,2,3,4,5")
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    print(f"Worst test regret over budgets {args.budgets} (%), validation in brackets, compute (%), at a "
          f"{args.cap:g}% cap with exploration:\n")
    print("| study | head start, early singles | early singles | head start, library | library |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for path in args.caches:
        cached = read_cache(path)
        test, val, compute, head = worst_with_early_singles(cached, args.cap, budgets)
        library = worst_explored(path, "lookahead", [args.cap], budgets)[args.cap]
        library_head = 100 * cached.head_start("lookahead")[1] / sum(cached.epochs.values())
        print(f"| {path.stem} | {head:.1f}% | {test:+.2f} ({val:+.2f}), {compute:.1f}% | {library_head:.1f}% | "
              f"{library[0]:+.2f} ({library[1]:+.2f}), {library[2]:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
