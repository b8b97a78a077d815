"""One line per search-quality study: each method's worst regret over the budgets, and its compute.

`search_quality.py --json FILE` writes a study's raw rows; this script reads several such files and
prints two markdown tables, so the studies can be compared at a glance without reading every
per-budget table. In the first (the issue's measure: one training run is the ground truth) a cell
is a method's worst test regret (%) over the budgets, then its compute (% of the exhaustive
search); "exact, another run" is the exact choice of another training run of the same study (the
median over those runs of their worst budget: the noise floor). The second scores the same choices
on the mean of all the training runs of every network, for the studies trained with
`--replicate-seed`; there "exact" is the exhaustive search of the first run.

    .venv/bin/python benchmarks/search_quality_summary.py "6 tasks=/tmp/sq6.json" "7 tasks=/tmp/sq7.json"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

COLUMNS: dict[str, str] = {
    "lookahead + fin@15% explore": "lookahead + fin@15% explore",
    "lookahead + fin": "lookahead + fin",
    "hoa + fin": "HOA + fin",
    "esa + fin": "ESA + fin",
    "random (mean)": "random groupings",
}
"""Method rows of `search_quality.py` -> column heading."""
ANOTHER_RUN = "exact, another run"
ROW_KEYS = ("method", "budget", "regret_pct", "compute_pct")
"""What every row of a `search_quality.py --json` file has."""


def study_row(records: list[dict], measure: str) -> dict[str, str]:
    """Cells of one study: each method's worst `measure` (a regret column) over the budgets, and compute."""
    table = pd.DataFrame(records)
    worst = table.groupby("method", sort=False).agg(regret=(measure, "max"), compute=("compute_pct", "max"))
    methods = {"exact": "exact", **COLUMNS} if measure == "mean_regret_pct" else COLUMNS
    cells = {
        heading: f"{worst.at[method, 'regret']:+.1f} ({worst.at[method, 'compute']:.0f}%)" if method in worst.index else ""
        for method, heading in methods.items()
    }
    replicas = worst[worst.index.str.startswith("exact, seed")]["regret"]
    cells[ANOTHER_RUN] = f"{replicas.median():+.1f}" if len(replicas) else ""
    return cells


def markdown(rows: dict[str, dict[str, str]]) -> str:
    """The rows (study label -> cells) as a markdown table, columns in the cells' order."""
    headings = list(next(iter(rows.values())))
    lines = ["| study | " + " | ".join(headings) + " |", "| --- |" + " ---: |" * len(headings)]
    lines += [f"| {label} | " + " | ".join(cells[h] for h in headings) + " |" for label, cells in rows.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("studies", nargs="+", help="LABEL=FILE.json, one per study (search_quality.py --json)")
    args = parser.parse_args()
    studies = {}
    for study in args.studies:
        label, _, path = study.rpartition("=")
        if not label:
            parser.error(f"expected LABEL=FILE.json, got {study!r}")
        try:
            records = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            parser.error(f"cannot read {path} ({error}); write it with search_quality.py --json")
        if not isinstance(records, list) or not records or not all(
            isinstance(row, dict) and set(ROW_KEYS) <= set(row) for row in records
        ):
            parser.error(f"{path} is not a search_quality.py --json file (rows with {', '.join(ROW_KEYS)})")
        studies[label] = records
    print("Worst test regret (%) over the budgets, and compute (% of the exhaustive search), one training run:\n")
    print(markdown({label: study_row(records, "regret_pct") for label, records in studies.items()}))
    replicated = {label: records for label, records in studies.items() if "mean_regret_pct" in records[0]}
    if replicated:
        print("\nThe same choices scored on the mean of all the training runs of every network:\n")
        print(markdown({label: study_row(records, "mean_regret_pct") for label, records in replicated.items()}))


if __name__ == "__main__":
    main()
