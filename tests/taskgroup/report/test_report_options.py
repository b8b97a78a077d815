"""`taskgroup report`'s options, as a user types them: the same spellings as `sweep`."""

from __future__ import annotations

import html
import json
from pathlib import Path

from tests.taskgroup.cli.helpers import run_error, run_ok

LOSSES = {"a": 0.5, "b": 0.6, "c": 0.4, "a+b": 0.45, "a+c": 0.55, "b+c": 0.5, "a+b+c": 0.6}


def _study(tmp_path: Path) -> str:
    """Three tasks, every subset imported at full size with validation and test losses."""
    csv = tmp_path / "r.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\n" + "".join(
        f"{tasks},full,1.0,full,{split},{task},{loss + (0.01 if split == 'test' else 0)}\n"
        for tasks, loss in LOSSES.items() for split in ("val", "test") for task in tasks.split("+")))
    run_ok("study", "create", "s", "--tasks", "a,b,c", "--sizes", "full=1.0")
    run_ok("import", "s", str(csv))
    return "s"


def _document(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_report_takes_estimator_as_sweep_does(tmp_path):
    study = _study(tmp_path)
    run_ok("report", study, "--out", str(tmp_path / "one"), "--budgets", "1,2", "--estimator", "exact", "--format", "json")
    assert _document(tmp_path / "one")["estimators"] == ["exact"]


def test_a_diverged_loss_is_left_out_of_a_report_with_the_options_select_and_sweep_take(tmp_path):
    """One diverged loss made `report` impossible: its error advised --forbid and --max-loss, which
    only select and sweep had; and the baselines of sweep and report ignored --max-loss, so only
    --forbid left the loss out."""
    study = _study(tmp_path)
    diverged = tmp_path / "diverged.csv"
    diverged.write_text("tasks,size,cost,stage,split,task,loss\na+b,full,1.0,full,val,a,1e14\n")
    run_ok("import", study, str(diverged), "--replace")
    out = tmp_path / "report"
    refused = " ".join(run_error("report", study, "--out", str(out), "--budgets", "1,2").split())
    assert "a+b@full has loss on a 1e+14" in refused and "leave a+b@full out with --forbid a+b@full" in refused
    assert "(or cap a's loss with --max-loss a=L)" in refused
    assert "select --estimator exact" not in refused and not out.exists()
    assert "(or cap a's loss with --max-loss a=L)" in " ".join(run_error("select", study, "--budget", "2").split())
    swept = " ".join(run_error("sweep", study, "--budgets", "2").split())
    assert "leave a+b@full out with --forbid a+b@full (or cap a's loss with --max-loss a=L)" in swept

    run_ok("report", study, "--out", str(out), "--budgets", "1,3", "--max-loss", "a=1", "--format", "json")
    baselines = _table(_document(out), "baselines")
    assert {row["baseline"] for row in baselines} == {"all-in-one", "one-per-task", "random", "worst"}
    assert not any("a+b@full" in str(row["networks"]).split() for row in baselines)  # it may not serve a

    # HOA predicts a+b+c from the pair a+b, diverged loss and all: it is named next, and left out too
    run_ok("report", study, "--out", str(out), "--budgets", "2,3", "--forbid", "a+b@full", "--forbid", "a+b+c",
           "--max-loss", "c=0.5", "--weight", "b=2", "--require", "b+c", "--max-networks", "2")
    document = _document(out)
    assert document["selection_options"] == {"weights": {"b": 2.0}, "max_loss": {"c": 0.5}, "require": ["b+c"],
                                             "forbid": ["a+b@full", "a+b+c"], "max_networks": 2}
    said = ("Every choice was made under --weight b=2, --max-loss c=0.5, --require b+c, --forbid a+b@full, "
            "--forbid a+b+c, --max-networks 2 (as `taskgroup select` takes them); the baselines meet them too, "
            "--weight aside (they are scored on unweighted losses).")
    assert said in document["summary"] and said in (out / "report.md").read_text()
    assert html.escape(said) in (out / "report.html").read_text()
    assert {choice["estimator"] for choice in document["selections"]} == {"exact", "hoa"}
    for choice in document["selections"]:
        networks = {f"{'+'.join(n['tasks'])}@{n['size']}" for n in choice["networks"]}
        assert "b+c@full" in networks and not networks & {"a+b@full", "a+b+c@full"} and len(networks) <= 2
    baselines = _table(document, "baselines")
    assert not any({"a+b@full", "a+b+c@full"} & set(str(row["networks"]).split()) for row in baselines)
    # all-in-one (a+b+c) is forbidden and one per task would leave out the required b+c: left out;
    # the groupings hold b+c, within two networks
    assert {row["baseline"] for row in baselines} == {"random", "worst"}
    assert {row["networks"] for row in baselines if row["baseline"] == "worst"} == {"a@full b+c@full"}


def test_an_unconstrained_report_says_no_options(tmp_path):
    study = _study(tmp_path)
    run_ok("report", study, "--out", str(tmp_path / "r"), "--budgets", "2", "--estimators", "exact", "--format", "json")
    document = _document(tmp_path / "r")
    assert document["selection_options"] == {} and "Every choice was made under" not in document["summary"]


def _table(document: dict, name: str) -> list[dict]:
    return next(section["tables"][name] for section in document["sections"] if name in section["tables"])


def test_a_report_replaces_the_previous_one_in_its_folder_and_leaves_nothing_of_it(tmp_path):
    """A new report mixed into the old one: another study's report.html beside the new report.md,
    figures and tables of estimators no longer in the run."""
    study = _study(tmp_path)
    out = tmp_path / "report"
    run_ok("report", study, "--out", str(out), "--budgets", "1,2")
    assert (out / "figures" / "groupings_hoa.png").is_file()
    run_ok("report", study, "--out", str(out), "--budgets", "2", "--estimator", "exact", "--format", "md")
    assert sorted(path.name for path in out.iterdir()) == ["figures", "report.md"]
    figures = sorted(path.name for path in (out / "figures").iterdir())
    assert "groupings_exact.png" in figures and not [name for name in figures if "hoa" in name]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r.csv", "report", "taskgroup-home"]  # no leftovers


def test_a_folder_of_other_files_is_refused_and_left_as_it_was(tmp_path):
    study = _study(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.html").write_text("an old report\n")
    (mine / "figures").write_text("not a folder\n")  # report.html was written, then "File exists"
    (mine / "notes.txt").write_text("keep me\n")
    refused = " ".join(run_error("report", study, "--out", str(mine)).split())
    assert f"error: --out {mine} holds files that are not a taskgroup report's (figures, notes.txt)" in refused
    assert "note:" not in refused  # refused before any selection
    assert sorted(path.name for path in mine.iterdir()) == ["figures", "notes.txt", "report.html"]
    assert (mine / "report.html").read_text() == "an old report\n"
    nested = tmp_path / "nested"
    (nested / "tables").mkdir(parents=True)
    (nested / "tables" / "data.xlsx").write_text("mine\n")  # a folder of the report's name, with other files
    assert "holds files that are not a taskgroup report's (tables)" in " ".join(
        run_error("report", study, "--out", str(nested)).split())
    empty = tmp_path / "empty"
    empty.mkdir()
    run_ok("report", study, "--out", str(empty), "--budgets", "2", "--format", "json")
    assert [path.name for path in empty.iterdir()] == ["report.json"]
