"""Can anything rank the groups? How well two training runs, lookahead and early-stopped losses agree.

For each task, the multi-task networks that serve it are ranked by their final validation loss in
one training run; the mean over tasks of the Spearman correlation between that ranking and
another ranking says how predictable "which group serves this task best" is:

- another training run of every network (the study's `--replicate-seed` run): the ceiling for any
  estimator of one run's ranking, since an estimator cannot know a run's luck;
- lookahead's prediction from the singles and the all-task run (what finalization starts from),
  also against the mean of the two runs;
- the early-stopped losses (ESA's evidence).

The last two columns pool the tasks: each multi-task loss over its task's single-task loss, one run
against the other and against lookahead's prediction, which also asks which tasks gain from
sharing at all. Replays
`search_quality.py` caches and their replicate tables (nothing is trained).

    .venv/bin/python benchmarks/rank_agreement.py /tmp/crn/sq6.pkl /tmp/crn/sq7.pkl
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import pandas as pd
import search_quality  # benchmarks/ is on sys.path when this script runs

from taskgroup.estimators import Evidence
from taskgroup.estimators.lookahead import LookaheadEstimator

COLUMNS = {
    "runs": "two runs",
    "lookahead": "lookahead vs run",
    "lookahead_mean": "lookahead vs two-run mean",
    "early": "early-stopped vs run",
    "pooled_runs": "two runs, pooled ratio to single",
    "pooled_lookahead": "lookahead vs run, pooled ratio",
}


def _spearman(a: pd.Series, b: pd.Series) -> float:
    return float(a.rank().corr(b.rank()))


def agreement(path: Path) -> dict[str, float]:
    """The mean within-task Spearman correlations of one cached study (and the pooled one)."""
    cached = search_quality.read_cache(path)
    replicates = sorted(path.parent.glob(f"{path.stem}.seed*.pkl"))
    if not replicates:
        raise SystemExit(f"error: {path} has no replicate table ({path.stem}.seedN.pkl); train it with --replicate-seed")
    _, other = pickle.loads(replicates[0].read_bytes())
    tasks = cached.tasks
    head, _ = cached.head_start("lookahead")
    evidence = Evidence(search_quality.replayed_rows(cached.truth, head), {"affinity": cached.affinity})
    predicted = LookaheadEstimator().estimate(evidence).set_index(["tasks", "task"])["loss"]
    one, two, stopped = (search_quality.val_losses_by_network(table) for table in (cached.truth, other, cached.early))
    mean = (one + two) / 2
    per_task = []
    for task in tasks:
        keys = [key for key in one.index if key[1] == task and "+" in key[0]]
        per_task.append({
            "runs": _spearman(one[keys], two[keys]),
            "lookahead": _spearman(one[keys], predicted[keys]),
            "lookahead_mean": _spearman(mean[keys], predicted[keys]),
            "early": _spearman(one[keys], stopped[keys]),
        })
    multi = [key for key in one.index if "+" in key[0]]

    def ratio(table: pd.Series) -> pd.Series:
        return pd.Series([table[key] / table[(key[1], key[1])] for key in multi], index=pd.MultiIndex.from_tuples(multi))

    return {**pd.DataFrame(per_task).mean().to_dict(), "pooled_runs": _spearman(ratio(one), ratio(two)),
            "pooled_lookahead": _spearman(ratio(one), ratio(predicted))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("caches", nargs="+", type=Path, help="search_quality.py --cache files (with --replicate-seed)")
    args = parser.parse_args()
    print("| study | " + " | ".join(COLUMNS.values()) + " |")
    print("| --- |" + " ---: |" * len(COLUMNS))
    rows = []
    for path in args.caches:
        rows.append(agreement(path))
        print(f"| {path.stem} | " + " | ".join(f"{rows[-1][key]:+.2f}" for key in COLUMNS) + " |", flush=True)
    means = pd.DataFrame(rows).mean()
    print(f"| mean of {len(rows)} | " + " | ".join(f"{means[key]:+.2f}" for key in COLUMNS) + " |")


if __name__ == "__main__":
    main()
