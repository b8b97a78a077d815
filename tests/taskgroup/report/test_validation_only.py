"""A report of a study whose imported results have no test split: its curve is drawn on validation."""

from __future__ import annotations

import html
import json
import warnings

import pandas as pd
import pytest

from tests.taskgroup.cli.helpers import run, run_ok

ROWS = [("a", "a", 0.5), ("b", "b", 0.6), ("a+b", "a", 0.45), ("a+b", "b", 0.7)]


def _validation_only_study(tmp_path) -> str:
    db = f"sqlite:///{tmp_path / 'val.sqlite'}"
    csv = tmp_path / "val.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\n"
                   + "".join(f"{tasks},full,1.0,full,val,{task},{loss}\n" for tasks, task, loss in ROWS))
    run_ok("study", "create", "v", "--tasks", "a,b", "--sizes", "full=1.0", "--db", db)
    run_ok("import", "v", str(csv), "--db", db)
    return db


def test_the_curve_of_a_study_without_test_losses_is_its_validation_totals(tmp_path):
    db = _validation_only_study(tmp_path)
    out = tmp_path / "report"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's "no artists with labels" for an empty figure
        run_ok("report", "v", "--out", str(out), "--budgets", "1:2:1", "--estimators", "exact", "--db", db)
    curve = pd.read_csv(out / "tables" / "loss_vs_budget.csv")
    exact = curve[curve["series"] == "exact"].set_index("budget")
    assert exact["test_loss"].isna().all()
    assert exact["val_loss"].to_dict() == {1.0: 0.45 + 0.7, 2.0: 0.45 + 0.6}  # a+b alone, then b beside it
    section = {s["id"]: s for s in json.loads((out / "report.json").read_text())["sections"]}["loss-vs-budget"]
    assert "validation losses" in section["text"] and "Total validation loss" in (out / "report.md").read_text()


def test_an_out_path_that_is_a_file_is_refused_before_any_selection(tmp_path):
    db = _validation_only_study(tmp_path)
    taken = tmp_path / "report.csv"
    taken.write_text("mine\n")
    result = run("report", "v", "--out", str(taken), "--db", db)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"error: --out {taken} exists and is not a directory"
    assert "note:" not in result.output  # the selections (which note what they leave out) never ran
    assert taken.read_text() == "mine\n"


def test_the_files_say_what_the_report_left_out(tmp_path):
    """A budget no network fits is noted in the files handed to the team, not only on the terminal."""
    db = _validation_only_study(tmp_path)
    out = tmp_path / "report"
    result = run_ok("report", "v", "--out", str(out), "--budgets", "0.5,1", "--estimators", "exact,esa", "--db", db)
    notes = json.loads((out / "report.json").read_text())["notes"]
    assert len(notes) == 2 and any("budget 0.5" in n and "cheapest feasible budget is 1" in n for n in notes)
    assert any(n.startswith("estimator esa has nothing to estimate from") for n in notes)
    for note in notes:
        assert note in " ".join(result.output.split())  # the terminal says the same
        assert f"- Note: {note}" in (out / "report.md").read_text()
        assert html.escape(note) in (out / "report.html").read_text()


def test_a_study_without_test_losses_has_no_empty_heatmap_and_shows_the_random_spread_on_validation(tmp_path):
    """It embedded a blank heatmap titled 'gain over alone, % ((none))', and only test_loss_std (empty)."""
    db = _validation_only_study(tmp_path)
    out = tmp_path / "report"
    run_ok("report", "v", "--out", str(out), "--budgets", "2", "--estimators", "exact", "--db", db)
    affinity = {s["id"]: s for s in json.loads((out / "report.json").read_text())["sections"]}["affinity"]
    assert affinity["figures"] == [] and "nothing to show" in affinity["text"]
    assert not (out / "figures" / "affinity_heatmap.png").exists()
    assert "Pairwise gain heatmap" not in (out / "report.md").read_text() + (out / "report.html").read_text()
    for table in ("baselines", "loss_vs_budget"):
        random = pd.read_csv(out / "tables" / f"{table}.csv").set_index("baseline" if table == "baselines" else "series")
        # the two groupings that fit ({a}{b}: 1.1, {a+b}: 1.15) drawn about equally often: spread ~0.025
        assert random.loc["random", "val_loss_std"] == pytest.approx(0.025, abs=1e-4)
        assert pd.isna(random.loc["random", "test_loss_std"])
