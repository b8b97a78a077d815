"""Is a compute cap too tight, or the estimator not good enough? What an oracle reaches at the cap.

Lookahead trains the singles and one all-task run before it selects; a cap (15% of the exhaustive
compute in issue 9) leaves room for a few more networks. An oracle that knew every network's test
losses would spend that room on the networks that bring the deployed choice (made on validation,
among the trained networks, as `finalize` deploys) closest to the exact optimum at every budget.
Its worst test regret is what no estimator following this protocol can beat; the gap between it and
"lookahead + fin@X% explore" is the estimator's. Replays `search_quality.py` caches (nothing is
trained). The oracle's search is exact where the room is small (every set of networks that fits)
and where the exact optimum's networks fit the room (then it is zero); otherwise greedy, which only
bounds the oracle from above.

    .venv/bin/python benchmarks/cap_oracle.py --cap 15 /tmp/crn/sq6.pkl /tmp/crn/sq7.pkl
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import search_quality  # benchmarks/ is on sys.path when this script runs

from taskgroup.selection.select import Selector

BUDGETS = [1.0, 2.0, 3.0, 4.0, 5.0]
MAX_SETS = 5000
"""Search every set of networks that fits the room when there are at most this many, else greedily."""
MAX_GREEDY = 20000
"""Search greedily only when it takes at most this many selections (room x candidates), else not at all."""

Key = tuple[str, str]


def oracle_row(path: Path, cap: float) -> dict:
    """For one cached study: the room the cap leaves after lookahead's head start, the networks the
    exact optimum adds to it, the worst test (and validation) regret of deploying from the head
    start alone, of the oracle's best use of the room, and of lookahead + fin@cap% explore."""
    cached = search_quality.read_cache(path)
    truth, epochs = cached.truth, cached.epochs
    head, spent = cached.head_start("lookahead")
    left = cap / 100 * sum(epochs.values()) - spent
    optimum = cached.optimum(BUDGETS)

    def worst(extra: Sequence[Key]) -> tuple[float, float]:
        """Worst test and validation regret (%) over the budgets, deploying the best choice on
        validation among the head start and `extra`."""
        deployed = Selector(search_quality.replayed_rows(truth, [*head, *extra]), "exact")
        selections = {budget: deployed.select(budget) for budget in BUDGETS}
        records = search_quality.scored_selections("oracle", selections, truth, optimum, epochs, 0.0, set(), 1.0)
        return max(r["regret_pct"] for r in records), max(r["val_regret_pct"] for r in records)

    others = [key for key in epochs if key not in set(head)]
    needed = sorted({(n.name, n.size) for s in optimum.values() for n in s.networks} - set(head))
    per_network = max(epochs[key] for key in others)
    room = max(0, int(left // per_network)) if left >= 0 else None
    row = {"study": path.stem, "room": left / per_network, "needed": len(needed),
           "head_only": worst([]) if room is not None else None,
           "lookahead": search_quality.worst_explored(path, "lookahead", [cap], BUDGETS)[cap][:2]}
    if room is None:
        row["oracle"], row["search"] = None, "over the cap"
    elif sum(epochs[key] for key in needed) <= left:
        row["oracle"], row["search"] = worst(needed), "optimum fits"
    elif sum(math.comb(len(others), k) for k in range(1, room + 1)) <= MAX_SETS:
        sets = [s for k in range(1, room + 1) for s in combinations(others, k)]
        row["oracle"] = min([row["head_only"], *map(worst, sets)])
        row["search"] = f"all {len(sets)} sets"
    elif room * len(others) > MAX_GREEDY:
        row["oracle"], row["search"] = None, "too large to search"
    else:
        chosen: list[Key] = []
        for _ in range(room):
            chosen.append(min((k for k in others if k not in chosen), key=lambda k: worst([*chosen, k])[0]))
        row["oracle"], row["search"] = worst(chosen), f"greedy, {room} networks"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("caches", nargs="+", type=Path, help="search_quality.py --cache files")
    parser.add_argument("--cap", type=float, default=15.0, help="compute cap, %% of the exhaustive compute")
    args = parser.parse_args()

    def cell(regrets: tuple[float, float] | None) -> str:
        return "-" if regrets is None else f"{regrets[0]:+.2f} ({regrets[1]:+.2f})"

    print(f"| study | room at {args.cap:g}% (networks) | networks the optimum adds | singles + all-task only "
          f"| oracle | oracle's search | lookahead + fin@{args.cap:g}% explore |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for path in args.caches:
        row = oracle_row(path, args.cap)
        print(f"| {row['study']} | {row['room']:.1f} | {row['needed']} | {cell(row['head_only'])} | {cell(row['oracle'])} "
              f"| {row['search']} | {cell(row['lookahead'])} |", flush=True)


if __name__ == "__main__":
    main()
