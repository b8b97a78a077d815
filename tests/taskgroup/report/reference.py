"""The paper's published numbers, read straight from the reference files (an oracle independent of our reader)."""

from __future__ import annotations

import re
from pathlib import Path

TASKS = ["segment", "depth", "normal", "keypoint", "edge"]
LETTERS = dict(zip("sdnkt", TASKS))


def raw_losses(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(tasks joined by '+', size) -> {task: loss}: line 1 is the half-size singles, every other line one full network."""
    found: dict[tuple[str, str], dict[str, float]] = {}
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    for number, line in enumerate(lines):
        cells = line.split("\t") + [""] * 5
        values = {TASKS[i]: float(cell) for i, cell in enumerate(cells[:5]) if cell.strip()}
        if number == 0:
            for task, loss in values.items():
                found[(task, "half")] = {task: loss}
        else:
            found[("+".join(sorted(values)), "full")] = values
    return found


def expected_totals(readme: Path) -> dict[str, list[tuple[float, float]]]:
    """README's expected test-loss totals: estimator -> [(budget, total), ...]."""
    lines = readme.read_text().splitlines()
    budgets = next([float(x) for x in line.strip("|").split("|")[1:]] for line in lines if line.startswith("| budget"))
    totals = {}
    for line in lines:
        for name, prefix in (("exact", "| exact"), ("esa", "| ESA"), ("hoa", "| HOA")):
            if line.startswith(prefix):
                values = [float(x) for x in line.strip("|").split("|")[1:]]
                totals[name] = list(zip(budgets, values))
    assert sorted(totals) == ["esa", "exact", "hoa"], "README table not found"
    return totals


def expected_exact_sets(readme: Path) -> dict[float, set[str]]:
    """README's optimal sets of the exact row, as {budget: {"depth+normal@full", ...}}."""
    text = " ".join(readme.read_text().split())
    listing = text.split("Optimal sets for the exact rows, half-size networks written `x/2`:")[1].split("HOA estimates")[0]
    sets = {}
    for budgets, body in re.findall(r"([\d.]+(?: and [\d.]+)?): ((?:`[^`]+`)+)", listing):
        networks = set()
        for word in body.strip("`").split():
            size = "half" if word.endswith("/2") else "full"
            networks.add("+".join(sorted(LETTERS[c] for c in word.removesuffix("/2"))) + "@" + size)
        for budget in budgets.split(" and "):
            sets[float(budget)] = networks
    assert len(sets) == 9, "README optimal sets not found"
    return sets
