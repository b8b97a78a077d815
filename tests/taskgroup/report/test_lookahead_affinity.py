"""The stored lookahead affinity matrix in the report: the same numbers `affinity show --json` prints."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from db import open_store
from db.affinity import store_affinity
from db.models import Study
from tests.taskgroup.cli.helpers import run_json, run_ok

TASKS = ("a", "b", "c")


def import_study(tmp_path) -> None:
    """Singles, pairs and the triple of three tasks, imported (no training)."""
    run_ok("study", "create", "s", "--tasks", ",".join(TASKS), "--sizes", "full=1.0")
    losses = {"a": 1.0, "b": 2.0, "c": 3.0, "a+b": 0.9, "a+c": 1.2, "b+c": 1.1, "a+b+c": 1.05}
    lines = ["tasks,size,cost,stage,split,task,loss"] + [
        f"{tasks},full,1,full,{split},{task},{loss * (1 + 0.1 * i)}"
        for tasks, loss in losses.items() for i, task in enumerate(tasks.split("+")) for split in ("val", "test")
    ]
    csv = tmp_path / "results.csv"
    csv.write_text("\n".join(lines) + "\n")
    run_ok("import", "s", str(csv))


def test_report_shows_the_stored_lookahead_matrix(tmp_path):
    import_study(tmp_path)
    values = {(s, t): (0.01 if s == t else 0.002 * (i - j)) for i, s in enumerate(TASKS) for j, t in enumerate(TASKS)}
    values["a", "b"] = 7.645257369404135e-07  # small, as measured affinities often are: exact in every format
    with open_store(None).session() as session:
        rows = [{"size": "full", "source": s, "target": t, "affinity": v} for (s, t), v in values.items()]
        store_affinity(session, Study.find_or_raise_by_name(session, "s"), rows, measurements=3)
    shown = run_json("affinity", "show", "s")["affinity"]["full"]

    run_ok("report", "s", "--out", str(tmp_path / "report"), "--format", "csv,md,json", "--estimators", "exact,lookahead")
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    [section] = [section for section in document["sections"] if section["id"] == "affinity"]
    assert {row["source"]: row for row in section["tables"]["lookahead_affinity_full"]}["a"]["b"] == values["a", "b"]
    table = pd.read_csv(tmp_path / "report" / "tables" / "lookahead_affinity_full.csv").set_index("source")
    assert sorted(table.index) == sorted(table.columns) == list(TASKS)
    for source in TASKS:
        for target in TASKS:
            assert table.loc[source, target] == pytest.approx(shown[source][target])
    assert "Lookahead affinity, full size" in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.parametrize(("sign", "contradicted"), [(1, False), (-1, True)])
def test_report_states_the_fitted_scaling_and_whether_the_networks_contradict_the_affinities(tmp_path, sign, contradicted):
    # The same measured networks against an affinity matrix and its mirror image (off-diagonal
    # signs flipped): the fit believes one and gives the other no weight.
    import_study(tmp_path)
    values = {(s, t): (0.01 if s == t else sign * 0.004 * (j - i)) for i, s in enumerate(TASKS) for j, t in enumerate(TASKS)}
    with open_store(None).session() as session:
        rows = [{"size": "full", "source": s, "target": t, "affinity": v} for (s, t), v in values.items()]
        store_affinity(session, Study.find_or_raise_by_name(session, "s"), rows, measurements=3)
    scaling = run_json("affinity", "show", "s")["scaling"]
    assert scaling["fitted_on"] == 9  # three pairs and the triple
    assert (scaling["strength"] == 0.0) == contradicted

    run_ok("report", "s", "--out", str(tmp_path / "report"), "--format", "md", "--estimators", "exact,lookahead")
    text = " ".join((tmp_path / "report" / "report.md").read_text().split())
    assert f"fitted to 9 multi-task losses: strength {scaling['strength']:.3f}, offset {scaling['offset']:+.3f}" in text
    assert ("contradict the affinities" in text) == contradicted
    # The report's lookahead row chose from lookahead's own runs (the singles and the all-task run): its
    # scaling, fitted to the all-task network's 3 losses, is stated first, as the row used it.
    own = text.split("For lookahead's rows, fitted to its own runs (the singles and the all-task run): ")[1]
    assert own.startswith("The lookahead scaling is fitted to 3 multi-task losses")
    assert "`taskgroup select --estimator lookahead`, which uses every trained network's losses, fits another" in own


def test_report_without_a_lookahead_matrix_has_no_such_table(tmp_path):
    import_study(tmp_path)
    run_ok("report", "s", "--out", str(tmp_path / "report"), "--format", "csv")
    assert not list((tmp_path / "report" / "tables").glob("lookahead_affinity_*.csv"))
    assert (tmp_path / "report" / "tables" / "affinity.csv").exists()
