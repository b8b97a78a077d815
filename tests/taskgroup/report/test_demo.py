"""A reduced `taskgroup demo`: real training on synthetic data, real SQLite, real selection, the report checked."""

from __future__ import annotations

import base64
import io
import json
import pandas as pd
import pytest
from PIL import Image

from db import open_store
from db.models import Candidate, Job, Study
from taskgroup.cli.demo import minutes_and_seconds
from tests.taskgroup.cli.helpers import run, run_json, run_ok
from tests.taskgroup.report.browser import assert_not_blank, open_in_chromium
from tests.taskgroup.report.html_tables import read_html

SECTIONS = ["loss-vs-budget", "groupings", "affinity", "serving-losses", "network-costs", "compute"]
TASKS = ["depth", "normal"]
BUDGETS = [0.5, 1.0, 1.5, 2.0]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo run by a user whose TASKGROUP_DB names their team's database (holding a study `team`)."""
    out = tmp_path_factory.mktemp("demo")
    team_db = f"sqlite:///{out / 'team.sqlite'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASKGROUP_HOME", str(out / "home"))
        patch.setenv("TASKGROUP_CACHE", str(out / "home" / "cache"))
        patch.setenv("TASKGROUP_DB", team_db)
        run_ok("study", "create", "team", "--tasks", "depth,normal")
        result = run_ok("demo", "--out", str(out), "--tasks", ",".join(TASKS), "--images", "12", "--resolution", "8",
                        "--epochs", "2", "--budgets", "0.5:2:0.5")
    return {"out": out, "db": f"sqlite:///{out / 'demo.sqlite'}", "team_db": team_db, "output": result.output,
            "html": read_html((out / "report" / "report.html").read_text())}


def test_the_demo_keeps_to_its_own_database_whatever_taskgroup_db_says(demo_run):
    """With TASKGROUP_DB set, the demo wrote its study there and DIR had no demo.sqlite, as docs/reports.md
    promises; the team's database now keeps only its own study."""
    assert (demo_run["out"] / "demo.sqlite").is_file()
    assert [row["name"] for row in run_json("study", "list", "--db", demo_run["team_db"])] == ["team"]
    help_text = "".join(run_ok("demo", "--help").output.replace("│", "").split())  # the options' box, unwrapped
    assert "Default:DIR/demo.sqlitein--out,alsowhenTASKGROUP_DBisset(thedemoignoresit)." in help_text


def test_demo_ends_by_saying_where_the_report_is(demo_run):
    lines = demo_run["output"].splitlines()  # each on one line, so it can be copied from a narrow terminal or a log
    assert f"open the report: {demo_run['out'] / 'report' / 'report.html'}" in lines
    assert f"explore further: taskgroup select demo --budget 2 --unit declared --db {demo_run['db']}" in lines
    for name in ("report.html", "report.md", "report.json"):
        assert (demo_run["out"] / "report" / name).is_file()


def test_every_candidate_was_trained_at_both_stages(demo_run):
    with open_store(demo_run["db"]).session() as session:
        study = Study.find_or_raise_by_name(session, "demo")
        jobs = [(job.candidate.tasks, job.candidate.size, job.stage, job.state) for job in Job.all_of_study(session, study.id)]
    expected = {(tasks, size, stage) for tasks in ("depth", "normal", "depth+normal") for size in ("full", "half") for stage in ("full", "early")}
    assert {(tasks, size, stage) for tasks, size, stage, _ in jobs} == expected
    assert all(state == "done" for *_, state in jobs)


def test_the_demo_measures_lookahead_affinities_and_compares_lookahead(demo_run):
    assert "lookahead affinities measured in one more run of the all-task network" in " ".join(demo_run["output"].split())
    compute = pd.read_csv(demo_run["out"] / "report" / "tables" / "compute.csv").set_index("estimator")
    assert list(compute.index) == ["exact", "esa", "hoa", "lookahead"]
    assert compute.loc["lookahead", "jobs"] == 5  # its singles at both sizes, its all-task run at the size measured


def test_an_exhaustive_study_needs_no_word_on_what_exact_chose_among(demo_run):
    document = json.loads((demo_run["out"] / "report" / "report.json").read_text())
    assert "Exact chose among" not in document["summary"]


def test_every_section_is_present(demo_run):
    assert demo_run["html"].section_ids == SECTIONS
    document = json.loads((demo_run["out"] / "report" / "report.json").read_text())
    assert [section["id"] for section in document["sections"]] == SECTIONS
    markdown = (demo_run["out"] / "report" / "report.md").read_text()
    assert all(f"## {section['title']}" in markdown for section in document["sections"])


def test_numbers_in_the_html_equal_select_json(demo_run):
    """Every exact, ESA and HOA row of the report is what `taskgroup select --json` prints (they estimate
    from their own runs anyway); a missing row is one select refuses."""
    shown = {(row["estimator"].text, float(row["budget"].value)): row for row in demo_run["html"].tables["table-choices"]}
    assert len(shown) >= 3 * 2  # budgets 1.5 and 2 afford a network serving both tasks, for every estimator
    for estimator in ("exact", "esa", "hoa"):
        for budget in BUDGETS:
            args = ("select", "demo", "--budget", f"{budget:g}", "--estimator", estimator, "--unit", "declared",
                    "--db", demo_run["db"], "--json")
            if (estimator, budget) not in shown:
                assert "error:" in run(*args).output  # infeasible at this budget
                continue
            row, selected = shown[(estimator, budget)], json.loads(run_ok(*args).stdout)
            assert float(row["cost"].value) == selected["cost"]
            assert float(row["predicted_loss"].value) == selected["predicted_loss"]
            for column in ("val_loss", "test_loss"):
                assert (float(row[column].value) if row[column].value else None) == selected[column]
            networks = {f"{'+'.join(n['tasks'])}@{n['size']}" for n in selected["networks"]}
            assert set(row["networks"].text.split()) == networks
            assert row["test_loss"].text == f"{selected['test_loss']:.6g}"


def test_baselines_in_the_html_equal_sweep_json(demo_run):
    swept = json.loads(
        run_ok("sweep", "demo", "--budgets", "0.5:2:0.5", "--unit", "declared", "--db", demo_run["db"], "--json").stdout
    )
    expected = {(row["baseline"], row["budget"]): row for row in swept if "baseline" in row and row["cost"] is not None}
    shown = {(row["baseline"].text, float(row["budget"].value)): row for row in demo_run["html"].tables["table-baselines"]}
    assert set(shown) == set(expected) and shown
    for key, row in shown.items():
        for column in ("cost", "val_loss", "test_loss", "test_loss_std"):
            value = float(row[column].value) if row[column].value else None
            assert value == expected[key][column], (key, column)


def test_per_task_losses_add_up_to_the_chosen_sets_totals(demo_run):
    serving = pd.read_csv(demo_run["out"] / "report" / "tables" / "serving_losses.csv")
    choices = pd.read_csv(demo_run["out"] / "report" / "tables" / "choices.csv")
    for row in choices.to_dict("records"):
        mine = serving[(serving["estimator"] == row["estimator"]) & (serving["budget"] == row["budget"])]
        assert sorted(mine["task"]) == TASKS
        assert mine["test_loss"].sum() == pytest.approx(row["test_loss"], rel=1e-12)


def test_measured_costs_and_compute_come_from_the_database(demo_run):
    costs = pd.read_csv(demo_run["out"] / "report" / "tables" / "network_costs.csv")
    assert (costs["params"] > 0).all() and (costs["latency_ms"] > 0).all()
    with open_store(demo_run["db"]).session() as session:
        study = Study.find_or_raise_by_name(session, "demo")
        jobs = Job.all_of_study(session, study.id)
        hours = {stage: sum(j.wall_time for j in jobs if j.stage == stage) / 3600  # training's own time
                 for stage in ("full", "early")}
        epochs = {stage: sum(j.epochs for j in jobs if j.stage == stage) for stage in ("full", "early")}
        latency = [c.latency_ms for c in Candidate.all_of_study(session, study.id)]
    said = " ".join(demo_run["output"].split())  # the demo sums the measured costs up in one line
    assert f"{len(latency)} candidates measured at 8x8: {min(latency):.2f} to {max(latency):.2f} ms" in said
    shown = run_json("cost", "demo", "--stored", "--db", demo_run["db"])  # the command the demo points to
    assert sorted(row["latency_ms"] for row in shown["candidates"]) == sorted(latency)
    compute = pd.read_csv(demo_run["out"] / "report" / "tables" / "compute.csv").set_index("estimator")
    assert compute.loc["exact", "jobs"] == 6 and compute.loc["esa", "jobs"] == 6
    assert compute.loc["exact", "device_hours"] == pytest.approx(hours["full"])
    assert compute.loc["esa", "device_hours"] == pytest.approx(hours["early"])
    assert compute.loc["exact", "candidate_epochs"] == epochs["full"]
    # with two tasks every network is a single or a pair, so HOA needed exactly the exact plan's jobs
    assert compute.loc["hoa", "device_hours"] == pytest.approx(hours["full"])
    assert compute.loc["exact", "mean_distance"] == 0


def test_every_figure_is_a_valid_image(demo_run):
    figures = sorted((demo_run["out"] / "report" / "figures").glob("*.png"))
    names = {path.stem for path in figures}
    assert {"loss_vs_budget", "groupings_exact", "groupings_esa", "groupings_hoa", "affinity_heatmap"} <= names
    for path in figures:
        with Image.open(path) as image:
            image.verify()
    for source in demo_run["html"].image_sources:
        with Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))) as image:
            image.verify()
    assert len(demo_run["html"].image_sources) == len(figures)


def test_demo_report_opens_in_chromium(demo_run):
    page = open_in_chromium(demo_run["out"] / "report" / "report.html")
    assert page.console == []
    assert_not_blank(page.screenshot)


def test_rerun_with_different_settings_is_refused(demo_run):
    result = run("demo", "--out", str(demo_run["out"]), "--tasks", ",".join(TASKS), "--images", "13", "--resolution", "8")
    assert result.exit_code == 1 and "use another --out" in result.output


def test_rerun_with_other_epochs_is_refused_not_reported_on_the_old_runs(demo_run):
    """It said `training options changed: max_epochs 2 -> 3`, trained nothing and reported the 2-epoch runs."""
    result = run("demo", "--out", str(demo_run["out"]), "--tasks", ",".join(TASKS), "--images", "12", "--resolution", "8",
                 "--max-epochs", "3", "--budgets", "0.5:2:0.5")
    said = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "holds a demo trained for 2 epochs; use another --out (or --db) for --max-epochs 3, or --max-epochs 2" in said
    with open_store(demo_run["db"]).session() as session:
        assert Study.find_or_raise_by_name(session, "demo").training["max_epochs"] == 2


@pytest.mark.parametrize(("elapsed", "shown"), [(0.4, "0 min 0 s"), (65.2, "1 min 5 s"), (119.6, "2 min 0 s"), (3599.5, "60 min 0 s")])
def test_demo_reports_its_time_in_whole_seconds(elapsed, shown):
    assert minutes_and_seconds(elapsed) == shown


def test_quick_keeps_the_options_given_explicitly(demo_run):
    """--quick sets only what was not given: here --tasks and --images are the user's, the resolution is --quick's."""
    result = run("demo", "--quick", "--out", str(demo_run["out"]), "--tasks", ",".join(TASKS), "--images", "13")
    said = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "use another --out (or --db) for tasks depth,normal and data images=13, resolution=8" in said  # not a Python dict


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--tasks", "depth"], "the demo needs at least two tasks to group, got only 'depth'"),
        (["--tasks", "depth,zzz"], "unknown task 'zzz' for dataset 'synthetic'"),
        (["--budgets", "1:x:1"], "invalid budgets '1:x:1'"),
        (["--budgets", "0.1,0.2"], "no budget in '0.1,0.2' fits any grouping: the cheapest, one 'half' network serving "
                                   "every task, costs 0.5"),
        (["--resolution", "100000"], "resolution must be an integer >= 8 and <= 1024, got 100000"),
    ],
)
def test_settings_the_report_would_refuse_are_refused_before_training(tmp_path, monkeypatch, option, message):
    monkeypatch.setenv("TASKGROUP_HOME", str(tmp_path / "home"))
    result = run("demo", "--quick", "--out", str(tmp_path / "demo"), *option)
    assert result.exit_code == 1 and message in " ".join(result.output.split())
    assert not (tmp_path / "demo").exists()  # nothing created, nothing trained
    assert "step 1" not in result.output


def test_the_report_says_what_its_budgets_count(demo_run, tmp_path):
    """The demo reports in declared costs (the paper's units) although it measured latency; a report in
    another unit says so too, or the same study's two reports would disagree without a word why."""
    def loss_text(folder):
        sections = json.loads((folder / "report.json").read_text())["sections"]
        return next(section["text"] for section in sections if section["id"] == "loss-vs-budget")

    assert "Budgets are in declared costs" in loss_text(demo_run["out"] / "report")
    # Budgets far above any measured latency: a loaded machine measures a few ms per network.
    run_ok("report", "demo", "--out", str(tmp_path / "ms"), "--format", "json", "--unit", "ms", "--budgets", "1000,2000",
           "--estimators", "exact", "--db", demo_run["db"])
    assert "Budgets are in measured latency in milliseconds." in loss_text(tmp_path / "ms")


def test_an_out_that_is_a_file_is_refused_in_words(tmp_path, monkeypatch):
    """It said only `error: PATH: File exists` (or `Not a directory` for a folder under a file)."""
    monkeypatch.setenv("TASKGROUP_HOME", str(tmp_path / "home"))
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out, said in ((afile, f"--out {afile} is a file"), (afile / "sub", f"--out {afile / 'sub'} is inside {afile}, which is a file")):
        result = run("demo", "--quick", "--out", str(out))
        message = "".join(result.output.split())
        assert result.exit_code == 1
        assert f"error:{said};nameafolderforthedemo'sdatabase,checkpointsandreport".replace(" ", "") in message
        assert "step 1" not in result.output
    assert afile.read_text() == "keep me"
