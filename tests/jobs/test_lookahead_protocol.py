"""The documented lookahead protocol end to end, with real training on tiny synthetic data:
`plan --estimator lookahead` + `work`, `affinity measure`, `finalize --estimator lookahead --until-stable`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from db import open_store
from db.models import Affinity, Job, Study
from db.results import results_frame
from tests.taskgroup.cli.helpers import run_json, run_ok

BUDGETS = "0.5:1.5:0.5"  # one, two or three half-size networks
WORK = ("--devices", "cpu")


def create(tmp_path, tasks: str, name: str = "s") -> None:
    run_ok("study", "create", name, "--tasks", tasks, "--sizes", "half=xception:0.5@0.5", "--dataset", "synthetic",
           "--data-option", "images=24", "--data-option", "resolution=16",
           "--data-option", f"cache_dir={tmp_path / 'cache'}")
    run_ok("configure", name, "--set", "max_epochs=1", "--set", "batch_size=8", "--set", "seed=1")


def fully_trained() -> set[tuple[str, str]]:
    with open_store(None).session() as session:
        frame = results_frame(session, Study.find_or_raise_by_name(session, "s"))
    full = frame[(frame["stage"] == "full") & (frame["split"] == "val")]
    return set(zip(full["tasks"], full["size"]))


def names(networks: list[dict]) -> set[tuple[str, str]]:
    return {("+".join(n["tasks"]), n["size"]) for n in networks}


def run_protocol(tmp_path, tasks: str) -> None:
    create(tmp_path, tasks)
    assert run_json("plan", "s", "--estimator", "lookahead")["jobs_added"] == len(tasks.split(","))
    run_ok("work", "s", *WORK)
    measured = run_json("affinity", "measure", "s", "--every", "1")
    assert measured["results_recorded"]
    summary = run_json("finalize", "s", "--budgets", BUDGETS, "--estimator", "lookahead", "--until-stable", *WORK)
    assert summary["stop_reason"] == "stable" and summary["estimator"] == "lookahead"
    assert summary["rounds"]  # on this data and seed the first choices include pairs nobody trained yet
    trained = fully_trained()
    assert {n for round_ in summary["rounds"] for n in names(round_)} <= trained

    for budget in summary["budgets"]:
        selection = run_json("select", "s", "--budget", str(budget["budget"]), "--estimator", "lookahead")
        assert names(selection["networks"]) == names(budget["networks"])
        assert names(selection["networks"]) <= trained  # every final choice is a fully trained network
        assert selection["val_loss"] == pytest.approx(selection["predicted_loss"])  # judged on real losses

    again = run_json("finalize", "s", "--budgets", BUDGETS, "--estimator", "lookahead", "--until-stable", *WORK)
    assert again["rounds"] == [] and again["networks_trained"] == 0
    assert [names(b["networks"]) for b in again["budgets"]] == [names(b["networks"]) for b in summary["budgets"]]
    assert fully_trained() == trained


def test_lookahead_protocol(tmp_path):
    """About 2 s: three tasks, 24 images of 16x16, one epoch, one size."""
    run_protocol(tmp_path, "depth,edge,normal")


def test_the_measured_run_is_the_all_task_networks_job_and_counts_as_lookaheads_compute(tmp_path):
    """`affinity measure` trains the all-task network: a job of it queued by the exact plan is
    finished by that run (not trained again), and the report charges the run to lookahead."""
    create(tmp_path, "depth,edge,normal")
    run_ok("plan", "s", "--estimator", "exact")
    assert run_json("affinity", "measure", "s", "--every", "1")["results_recorded"]
    assert run_json("status", "s")["jobs"] == {"queued": 6, "running": 0, "done": 1, "failed": 0, "total": 7}
    with open_store(None).session() as session:
        study = Study.find_or_raise_by_name(session, "s")
        (job,) = [job for job in Job.all_of_study(session, study.id) if job.state == "done"]
        assert (job.candidate.tasks, job.epochs, job.device) == ("depth+edge+normal", 1, "cpu")
        assert job.finished_at >= job.started_at
        assert {result.job_id for result in job.candidate.results} == {job.id}
        assert {row.job_id for row in session.query(Affinity).filter_by(study_id=study.id)} == {job.id}

    run_ok("work", "s", *WORK)
    assert run_json("status", "s")["jobs"]["done"] == 7
    again = run_json("affinity", "measure", "s", "--every", "1")  # read back from its checkpoint
    assert not again["results_recorded"]

    swept = run_json("sweep", "s", "--budgets", BUDGETS)  # every estimator by default
    assert {row["estimator"] for row in swept if "estimator" in row} == {"exact", "hoa", "lookahead"}
    run_ok("report", "s", "--out", str(tmp_path / "report"), "--format", "csv", "--budgets", BUDGETS)
    compute = pd.read_csv(tmp_path / "report" / "tables" / "compute.csv").set_index("estimator")
    assert compute.loc["lookahead", "jobs"] == 4 and compute.loc["lookahead", "candidate_epochs"] == 4  # singles + the run
    assert compute.loc["exact", "jobs"] == 7


def test_the_report_lets_lookahead_choose_from_its_own_runs_as_if_nothing_else_were_trained(tmp_path):
    """Lookahead uses every trained network's real losses, so on an exhaustive study `select` repeats
    the exact choice. The report, as the paper's protocol, lets it choose from its singles and its
    all-task run alone: the choice of a study that trained only those."""
    for name, estimator in (("all", "exact"), ("own", "lookahead")):
        create(tmp_path, "depth,edge,normal", name=name)
        run_ok("plan", name, "--estimator", estimator)
        run_ok("work", name, *WORK)
        run_ok("affinity", "measure", name, "--every", "1")
    run_ok("report", "all", "--out", str(tmp_path / "report"), "--format", "json", "--budgets", BUDGETS)
    reported = json.loads((tmp_path / "report" / "report.json").read_text())["selections"]
    lookahead = {row["budget"]: names(row["networks"]) for row in reported if row["estimator"] == "lookahead"}
    assert sorted(lookahead) == [0.5, 1.0, 1.5]
    for budget, chosen in lookahead.items():
        assert chosen == names(run_json("select", "own", "--budget", str(budget), "--estimator", "lookahead")["networks"])
    everything = {b: names(run_json("select", "all", "--budget", str(b), "--estimator", "lookahead")["networks"]) for b in lookahead}
    assert everything != lookahead  # on this data, knowing every network's real losses changes lookahead's choice
