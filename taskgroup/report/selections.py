"""Tables derived from `select` objects (the DESIGN.md contract): choices, serving losses, costs, curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

SelectObject = Mapping[str, Any]
"""One `taskgroup select --json` object: budget, estimator, networks, assignment, cost, ...losses."""

MEASURED_COST_COLUMNS = ["params", "macs", "latency_ms", "latency_spread_ms", "peak_memory_bytes", "cost_device"]


def network_label(network: Mapping[str, Any]) -> str:
    """``depth+normal@half``: the candidate label used in options and messages."""
    return f"{'+'.join(network['tasks'])}@{network['size']}"


def choices_table(selections: Sequence[SelectObject]) -> pd.DataFrame:
    """One row per (estimator, budget): the chosen networks and the numbers `select --json` prints."""
    rows = [
        {
            "estimator": s["estimator"],
            "budget": float(s["budget"]),
            "networks": " ".join(network_label(n) for n in s["networks"]),
            "cost": float(s["cost"]),
            "predicted_loss": _number(s.get("predicted_loss")),
            "val_loss": _number(s.get("val_loss")),
            "test_loss": _number(s.get("test_loss")),
        }
        for s in selections
    ]
    columns = ["estimator", "budget", "networks", "cost", "predicted_loss", "val_loss", "test_loss"]
    return pd.DataFrame(rows, columns=columns)


def serving_losses(selections: Sequence[SelectObject], results: pd.DataFrame) -> pd.DataFrame:
    """Per task of each choice: the network serving it and that network's fully trained val/test loss."""
    full = results[results["stage"] == "full"]
    loss = {(t, size, split, task): value for t, size, split, task, value in full[["tasks", "size", "split", "task", "loss"]].itertuples(index=False)}
    rows = []
    for s in selections:
        for task, index in sorted(s["assignment"].items()):
            network = s["networks"][index]
            key = ("+".join(network["tasks"]), network["size"])
            rows.append({
                "estimator": s["estimator"],
                "budget": float(s["budget"]),
                "task": task,
                "network": network_label(network),
                "val_loss": loss.get((*key, "val", task), np.nan),
                "test_loss": loss.get((*key, "test", task), np.nan),
            })
    return pd.DataFrame(rows, columns=["estimator", "budget", "task", "network", "val_loss", "test_loss"])


def chosen_network_costs(selections: Sequence[SelectObject], candidates: pd.DataFrame) -> pd.DataFrame:
    """Each network chosen anywhere in the sweep, its declared cost, its measured costs and who chose it."""
    chosen: dict[tuple[str, str], list[str]] = {}
    declared: dict[tuple[str, str], float] = {}
    for s in selections:
        for network in s["networks"]:
            key = ("+".join(network["tasks"]), network["size"])
            chosen.setdefault(key, []).append(f"{s['estimator']}@{float(s['budget']):g}")
            declared[key] = float(network["cost"])
    measured = {(row["tasks"], row["size"]): row for row in candidates.to_dict("records")}
    rows = []
    for key in sorted(chosen, key=lambda k: (k[1], k[0].count("+"), k[0])):
        row = measured.get(key, {})
        rows.append({
            "network": f"{key[0]}@{key[1]}",
            "cost": declared[key],
            **{column: _number_or_text(row.get(column)) for column in MEASURED_COST_COLUMNS},
            "chosen_by": " ".join(chosen[key]),
        })
    return pd.DataFrame(rows, columns=["network", "cost", *MEASURED_COST_COLUMNS, "chosen_by"])


def loss_curves(selections: Sequence[SelectObject], baselines: pd.DataFrame) -> pd.DataFrame:
    """Total loss against budget, one series per estimator and baseline (the paper's Figure 4).

    `baselines` has columns budget, baseline, val_loss, test_loss, val_loss_std and test_loss_std
    (the spread of the random baseline; NaN for the others). Budgets where a series has no loss are left out.
    """
    rows = [
        {"series": s["estimator"], "kind": "estimator", "budget": float(s["budget"]), "val_loss": _number(s.get("val_loss")),
         "test_loss": _number(s.get("test_loss")), "val_loss_std": np.nan, "test_loss_std": np.nan}
        for s in selections
    ]
    rows += [
        {"series": b["baseline"], "kind": "baseline", "budget": float(b["budget"]), "val_loss": _number(b.get("val_loss")),
         "test_loss": _number(b.get("test_loss")), "val_loss_std": _number(b.get("val_loss_std")),
         "test_loss_std": _number(b.get("test_loss_std"))}
        for b in baselines.to_dict("records")
    ]
    frame = pd.DataFrame(rows, columns=["series", "kind", "budget", "val_loss", "test_loss", "val_loss_std", "test_loss_std"])
    return frame.dropna(subset=["val_loss", "test_loss"], how="all").reset_index(drop=True)


SPLIT_WORDS = {"test": "test", "val": "validation"}
"""How captions and axes name the split a curve is drawn on."""


def curve_split(curves: pd.DataFrame) -> str:
    """The split the curves are drawn on: test where the study has test losses, else validation
    (a study of imported validation results only); its column is `<split>_loss`."""
    return "test" if curves["test_loss"].notna().any() else "val"


def _number(value: Any) -> float:
    return np.nan if value is None else float(value)


def _number_or_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    return value
