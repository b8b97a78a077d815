"""How much compute does finalization need to get within 1% of the exact optimum? Regret by compute cap.

Replays "lookahead + fin@X% explore" and "HOA + fin@X% explore" of `search_quality.py` on its cached
studies (`--cache` files; nothing is trained) at several caps X. One finalization run per study and
estimator, stopped at the largest cap, gives every smaller cap as a prefix. Prints, per study and
cap, each estimator's worst test regret over the budgets (validation in brackets; "over" where the
estimator's own networks already cost more than the cap), as markdown, and per cap the number of
studies within 1% on test.

    .venv/bin/python benchmarks/cap_sweep.py --caps 10,15,20,30 /tmp/crn/sq7.pkl /tmp/crn/sq7s1.pkl
"""

from __future__ import annotations

import argparse
from pathlib import Path

import search_quality  # benchmarks/ is on sys.path when this script runs

BUDGETS = [1.0, 2.0, 3.0, 4.0, 5.0]
ESTIMATORS = {"lookahead": "lookahead", "HOA": "hoa"}
"""Column name -> `search_quality.worst_explored` estimator."""


def sweep(path: Path, caps: list[float]) -> dict[tuple[str, float], tuple[float, float] | None]:
    """(estimator, cap) -> worst test and validation regret (%) over the budgets; None where the
    estimator's own networks (before finalization) already cost more than the cap."""
    worst = {}
    for name, key in ESTIMATORS.items():
        for cap, (test, val, compute) in search_quality.worst_explored(path, key, caps, BUDGETS).items():
            worst[(name, cap)] = None if compute > cap + 1e-9 else (test, val)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("caches", nargs="+", type=Path, help="search_quality.py --cache files")
    parser.add_argument("--caps", default="10,15,20,30", help="compute caps, %% of the exhaustive compute")
    args = parser.parse_args()
    caps = sorted(float(cap) for cap in args.caps.split(","))
    names = list(ESTIMATORS)
    columns = [(name, cap) for name in names for cap in caps]
    print("| study | " + " | ".join(f"{name} @{cap:g}%" for name, cap in columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    met = dict.fromkeys(columns, 0)
    for path in args.caches:
        worst = sweep(path, caps)
        for column in columns:
            met[column] += worst[column] is not None and worst[column][0] <= 1.0
        cells = " | ".join("over" if worst[c] is None else f"{worst[c][0]:+.2f} ({worst[c][1]:+.2f})" for c in columns)
        print(f"| {path.name} | {cells} |", flush=True)
    print("| within 1% on test | " + " | ".join(f"{met[c]} of {len(args.caches)}" for c in columns) + " |")


if __name__ == "__main__":
    main()
