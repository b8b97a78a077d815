"""Compute accounting: candidate-epochs and device-hours per estimator, and distance from the exact optimum."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from taskgroup.report import JOB_COLUMNS, compute_spent, distance_from_exact

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _job(tasks, size, stage, state, epochs, minutes, wall_time=None):
    finished = None if minutes is None else T0 + timedelta(minutes=minutes)
    return (tasks, size, stage, state, epochs, "cpu", T0 if state != "queued" else None, finished, wall_time)


def test_each_estimator_is_charged_for_the_finished_jobs_it_needs():
    jobs = pd.DataFrame([
        _job("a", "full", "full", "done", 10, 30),
        _job("b", "full", "full", "done", 10, 30),
        _job("a+b", "full", "full", "done", 10, 90),
        _job("a+b", "full", "early", "done", 2, 6),
        _job("a", "full", "early", "failed", 1, 3),  # failed runs still spent their time
        _job("b", "full", "early", "queued", None, None),  # never ran: costs nothing
    ], columns=JOB_COLUMNS)
    needs = {
        "exact": lambda tasks, size, stage: stage == "full",
        "esa": lambda tasks, size, stage: stage == "early",
        "singles": lambda tasks, size, stage: stage == "full" and "+" not in tasks,
    }
    spent = compute_spent(jobs, needs).set_index("estimator")
    assert spent.loc["exact", "jobs"] == 3
    assert spent.loc["exact", "candidate_epochs"] == 30
    assert spent.loc["exact", "device_hours"] == pytest.approx(2.5)  # 30 + 30 + 90 minutes
    assert spent.loc["esa", "jobs"] == 2
    assert spent.loc["esa", "candidate_epochs"] == 3
    assert spent.loc["esa", "device_hours"] == pytest.approx(9 / 60)
    assert spent.loc["singles", "device_hours"] == pytest.approx(1.0)


def test_a_runs_own_training_time_is_charged_not_its_workers_start_up():
    """In a quick demo the first jobs of each worker took 2 s claim-to-finish against 0.1 s for the
    rest (torch's first kernels, opening the data): the estimator whose jobs ran first looked 2.5x dearer."""
    jobs = pd.DataFrame([
        _job("a", "full", "full", "done", 1, 2, wall_time=6.0),  # 2 minutes from claim, 6 s of training
        _job("b", "full", "full", "done", 1, 1, wall_time=None),  # recorded none: finish - start
    ], columns=JOB_COLUMNS)
    spent = compute_spent(jobs, {"exact": lambda *_: True}).set_index("estimator")
    assert spent.loc["exact", "device_hours"] == pytest.approx((6 + 60) / 3600)


def test_no_jobs_costs_nothing():
    spent = compute_spent(pd.DataFrame(columns=JOB_COLUMNS), {"exact": lambda *_: True})
    assert spent.to_dict("records") == [{"estimator": "exact", "jobs": 0, "candidate_epochs": 0.0, "device_hours": 0.0}]


def _select(estimator, budget, test_loss):
    return {"estimator": estimator, "budget": budget, "networks": [], "assignment": {}, "cost": budget,
            "predicted_loss": 0.0, "val_loss": None, "test_loss": test_loss}


def test_distance_is_measured_against_the_exact_choice_at_the_same_budget():
    selections = [_select("exact", 1.0, 0.50), _select("exact", 2.0, 0.40), _select("esa", 1.0, 0.55),
                  _select("esa", 2.0, 0.40), _select("hoa", 3.0, 0.30), _select("hoa", 2.0, None)]
    distance = distance_from_exact(selections).set_index(["estimator", "budget"])
    assert distance.loc[("esa", 1.0), "distance"] == pytest.approx(0.05)
    assert distance.loc[("esa", 1.0), "relative_distance"] == pytest.approx(0.1)
    assert distance.loc[("esa", 2.0), "distance"] == 0
    assert ("hoa", 3.0) not in distance.index  # no exact choice at budget 3
    assert ("hoa", 2.0) not in distance.index  # its test loss is unknown
