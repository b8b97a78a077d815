"""The documented lookahead protocol end to end, with real training on tiny synthetic data:
`plan --estimator lookahead` + `work`, `affinity measure`, `finalize --estimator lookahead --until-stable`."""

from __future__ import annotations

import pytest

from db import open_store
from db.models import Study
from db.results import results_frame
from tests.taskgroup.cli.helpers import run_json, run_ok

BUDGETS = "0.5:1.5:0.5"  # one, two or three half-size networks
WORK = ("--devices", "cpu")


def create(tmp_path, tasks: str) -> None:
    run_ok("study", "create", "s", "--tasks", tasks, "--sizes", "half=xception:0.5@0.5", "--dataset", "synthetic",
           "--data-option", "images=24", "--data-option", "resolution=16",
           "--data-option", f"cache_dir={tmp_path / 'cache'}")
    run_ok("configure", "s", "--set", "max_epochs=1", "--set", "batch_size=8", "--set", "seed=1")


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
