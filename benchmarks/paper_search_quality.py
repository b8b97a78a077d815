"""Finalization on real data: ESA and HOA, then `finalize`, replayed on the paper's Taskonomy table (issue 9).

The synthetic studies (`search_quality.py`) differ between groupings by about as much as two
training runs of one network do. The per-task losses Standley et al. published for every network
they trained on Taskonomy (`../shared/reference/standley2020`: 31 full-size networks and 5 half-size
singles, validation and test losses, and the validation losses at 20% of training) differ by much
more: the exact choice at budget 1 is 16% worse than at budget 5. On that table, each method
chooses at the paper's budgets 1-5 in steps of 0.5:

- exact: every network fully trained;  esa: the 20% losses;  hoa: the singles (both sizes) and pairs;
- X + fin: active finalization after X until every chosen network is trained (`finalize --until-stable`),
  one search for all budgets; "per budget": a search of its own for each budget, as for a user with one;
- X + fin@C% explore: the same, capped at C% of the exhaustive compute, the rest of the cap spent
  exploring (`finalize --until-stable --max-trained N --explore`), for all budgets or per budget
  (caps below the method's own plan are left out).

"Training" a network reads its row of the table. Compute is in full-size trainings: a network
costs its inference cost (full 1.0, half 0.5; the paper's half-size networks are half as wide),
an early-stopped run 20% of that; the exhaustive search costs 33.5. A chosen network is scored by
the test losses of the network serving each task (lowest validation loss), as in the paper.

    .venv/bin/python benchmarks/paper_search_quality.py
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import pandas as pd
from search_quality import (  # benchmarks/ is on sys.path
    capped_search,
    per_budget_table,
    replayed_rows,
    score_choice,
    scored_selections,
)

from taskgroup.finalization import finalize_actively
from taskgroup.io.standley import read_standley
from taskgroup.selection import parse_budgets
from taskgroup.selection.select import Selector

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "standley2020"
TASKS = ["s", "d", "n", "k", "t"]  # the files' column order (segment, depth, normal, keypoint, edge)
EARLY_FRACTION = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="folder of the paper's three files")
    parser.add_argument("--budgets", default="1:5:0.5")
    parser.add_argument("--caps", default="40,60,80", help="compute caps (%% of exhaustive) for the explore rows")
    args = parser.parse_args()
    budgets = parse_budgets(args.budgets)
    caps = [float(cap) for cap in args.caps.split(",")]
    frame = read_standley(args.reference / "results.txt", args.reference / "results_test.txt", TASKS,
                          early_path=args.reference / "results_20.txt")
    truth = frame[frame["stage"] == "full"].reset_index(drop=True)
    early = frame[frame["stage"] == "early"].reset_index(drop=True)
    networks = truth[["tasks", "size", "cost"]].drop_duplicates()
    cost = {(group, size): c for group, size, c in networks.itertuples(index=False)}
    exhaustive = sum(cost.values())
    tasks = sorted(TASKS)
    optimum = {budget: Selector(truth, "exact", tasks=tasks).select(budget) for budget in budgets}
    rows_of = partial(replayed_rows, truth)
    hoa_known = [(group, size) for group, size in cost if group.count("+") <= 1]  # with the half-size singles
    methods = {
        "esa": (early, EARLY_FRACTION * exhaustive, set()),
        "hoa": (rows_of(hoa_known), sum(cost[key] for key in hoa_known), set(hoa_known)),
    }
    records = [score_choice("exact", b, {(n.name, n.size) for n in optimum[b].networks}, truth, optimum[b], exhaustive,
                      exhaustive) for b in budgets]
    for name, (evidence, spent, trained) in methods.items():
        selector = Selector(evidence, name, tasks=tasks)
        selections = {budget: selector.select(budget) for budget in budgets}
        records.extend(scored_selections(name, selections, truth, optimum, cost, spent, trained, exhaustive))
        for label, searches in ((f"{name} + fin", [budgets]), (f"{name} + fin per budget", [[b] for b in budgets])):
            for searched in searches:
                outcome = finalize_actively(evidence, name, searched, rows_of, tasks=tasks)
                records.extend(scored_selections(label, outcome.selections, truth, optimum, cost, spent, trained,
                                                 exhaustive, also_trained=outcome.trained))
        above = [cap for cap in caps if cap > 100 * spent / exhaustive]  # a cap below the head start is no cap
        for per_budget in (False, True):
            records.extend(capped_search(name, name, evidence, {}, tasks, budgets, rows_of, cost, spent, trained,
                                         truth, optimum, exhaustive, above, per_budget=per_budget, explore=True))
    table = pd.DataFrame(records)
    print(f"The paper's Taskonomy table: exhaustive search {exhaustive:g} full-size trainings; regret against the "
          "exact optimum, validation / test (%), and the most compute any budget's choice needs:\n")
    print(per_budget_table(table, budgets, " val / test",
                           lambda row: f"{row.val_regret_pct:+.2f} / {row.regret_pct:+.2f}"))
    totals = ", ".join(f"{budget:g}: {optimum[budget].test_loss:.5f}" for budget in budgets)
    print(f"\nExact test totals (the paper's Table 4): {totals}")


if __name__ == "__main__":
    main()
