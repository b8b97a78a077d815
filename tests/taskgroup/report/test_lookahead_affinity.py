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


def import_study(tmp_path, tasks: tuple[str, ...] = TASKS) -> None:
    """Singles, pairs and the triple of three tasks (`tasks`, in the study's order), imported (no training)."""
    run_ok("study", "create", "s", "--tasks", ",".join(tasks), "--sizes", "full=1.0")
    a, b, c = sorted(tasks)
    losses = {a: 1.0, b: 2.0, c: 3.0, f"{a}+{b}": 0.9, f"{a}+{c}": 1.2, f"{b}+{c}": 1.1, f"{a}+{b}+{c}": 1.05}
    lines = ["tasks,size,cost,stage,split,task,loss"] + [
        f"{group},full,1,full,{split},{task},{loss * (1 + 0.1 * i)}"
        for group, loss in losses.items() for i, task in enumerate(group.split("+")) for split in ("val", "test")
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
    assert {row["source \\ target"]: row for row in section["tables"]["lookahead_affinity_full"]}["a"]["b"] == values["a", "b"]
    table = pd.read_csv(tmp_path / "report" / "tables" / "lookahead_affinity_full.csv", index_col="source \\ target")
    assert list(table.index) == list(table.columns) == list(TASKS)
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


def test_every_affinity_matrix_follows_the_studys_task_order_under_one_header_convention(tmp_path):
    """The report's gain matrix was in the study's order headed `task`, its lookahead matrix in alphabetical
    order headed `source`, and `affinity show` alphabetical too: now all three follow the study's order
    and name their rows and columns in the corner (`rows \\ columns`), as do the files `export` writes."""
    tasks = ("normal", "depth", "edge")
    import_study(tmp_path, tasks)
    with open_store(None).session() as session:
        rows = [{"size": "full", "source": s, "target": t, "affinity": 0.01 * (i + 1) + 0.001 * j}
                for i, s in enumerate(tasks) for j, t in enumerate(tasks)]
        store_affinity(session, Study.find_or_raise_by_name(session, "s"), rows, measurements=3)
    run_ok("report", "s", "--out", str(tmp_path / "report"), "--format", "csv", "--estimators", "exact,lookahead")
    headers = {name: (tmp_path / "report" / "tables" / f"{name}.csv").read_text().splitlines()[0]
               for name in ("affinity_matrix_full", "lookahead_affinity_full")}
    assert headers == {"affinity_matrix_full": "task \\ partner,normal,depth,edge",
                       "lookahead_affinity_full": "source \\ target,normal,depth,edge"}
    for name in headers:
        table = pd.read_csv(tmp_path / "report" / "tables" / f"{name}.csv", index_col=0)
        assert list(table.index) == list(table.columns) == list(tasks)
    lookahead = pd.read_csv(tmp_path / "report" / "tables" / "lookahead_affinity_full.csv", index_col=0)
    assert lookahead.loc["depth", "edge"] == pytest.approx(0.022)  # row: stepped on, column: its effect

    shown = [line.split() for line in run_ok("affinity", "show", "s").output.splitlines() if "│" in line or "┃" in line]
    assert [cells[1] for cells in shown[1:]] == list(tasks)  # rows
    assert [cell for cell in shown[0] if cell != "┃"] == ["source", "\\", "target", *tasks]  # header

    run_ok("export", "s", str(tmp_path / "out.csv"))
    exported = (tmp_path / "out.affinity.csv").read_text().splitlines()
    assert [tuple(line.split(",")[1:3]) for line in exported[1:]] == [(s, t) for s in tasks for t in tasks]
