"""Pairwise affinity (the paper's Tables 1-2) against hand computation from the published files."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from taskgroup.io.standley import read_standley
from taskgroup.report import gain_matrix, mutual_gains, pair_gains
from tests.taskgroup.report.reference import TASKS, raw_losses


@pytest.fixture
def reference_results(reference_dir):
    return read_standley(reference_dir / "results.txt", reference_dir / "results_test.txt", TASKS,
                         early_path=reference_dir / "results_20.txt")


@pytest.mark.parametrize(("task", "partner"), [("segment", "depth"), ("edge", "segment"), ("normal", "keypoint"), ("depth", "normal")])
def test_gain_is_relative_test_loss_drop_against_the_full_size_single_task_network(reference_results, reference_dir, task, partner):
    raw = raw_losses(reference_dir / "results_test.txt")
    alone = raw[(task, "full")][task]
    together = raw[("+".join(sorted([task, partner])), "full")][task]
    gains = pair_gains(reference_results).set_index(["size", "task", "partner"])
    row = gains.loc[("full", task, partner)]
    assert row["loss_alone"] == alone and row["loss_together"] == together
    assert row["gain"] == pytest.approx((alone - together) / alone, abs=1e-12)


def test_hand_computed_entries_of_the_paper(reference_results):
    # results_test.txt: segment alone 0.07662, segment in {segment, depth} 0.07419;
    # edge alone 0.0275, edge in {segment, edge} 0.044.
    gains = pair_gains(reference_results).set_index(["size", "task", "partner"])["gain"]
    assert gains[("full", "segment", "depth")] == pytest.approx((0.07662 - 0.07419) / 0.07662)
    assert gains[("full", "edge", "segment")] == pytest.approx((0.0275 - 0.044) / 0.0275)
    assert gains[("full", "edge", "segment")] < -0.5  # edges suffer badly from segmentation, as in the paper


def test_every_ordered_pair_appears_once_and_only_at_the_size_with_pairs(reference_results):
    gains = pair_gains(reference_results)
    assert set(gains["size"]) == {"full"}  # the half-size singles have no half-size pairs to compare with
    assert len(gains) == 5 * 4
    assert not gains.duplicated(["task", "partner"]).any()


def test_matrix_rows_are_the_measured_task_and_mutual_gain_is_the_mean(reference_results):
    gains = pair_gains(reference_results)
    matrix = gain_matrix(gains, "full", TASKS)
    assert list(matrix.index) == TASKS and list(matrix.columns) == TASKS
    assert all(math.isnan(matrix.loc[t, t]) for t in TASKS)
    lookup = gains.set_index(["task", "partner"])["gain"]
    assert matrix.loc["edge", "keypoint"] == lookup[("edge", "keypoint")]
    pairs = mutual_gains(gains).set_index("pair")
    assert len(pairs) == 10
    expected = (lookup[("depth", "segment")] + lookup[("segment", "depth")]) / 2
    assert pairs.loc["depth+segment", "mutual_gain"] == pytest.approx(expected)
    assert list(pairs["mutual_gain"]) == sorted(pairs["mutual_gain"], reverse=True)


def test_validation_split_can_be_chosen(reference_results, reference_dir):
    raw = raw_losses(reference_dir / "results.txt")
    gains = pair_gains(reference_results, split="val").set_index(["task", "partner"])["gain"]
    alone, together = raw[("depth", "full")]["depth"], raw[("depth+keypoint", "full")]["depth"]
    assert gains[("depth", "keypoint")] == pytest.approx((alone - together) / alone)


def test_no_pairs_means_no_gains():
    results = pd.DataFrame(
        [("a", "full", 1.0, "full", "test", "a", 0.5), ("b", "full", 1.0, "full", "test", "b", 0.4)],
        columns=["tasks", "size", "cost", "stage", "split", "task", "loss"],
    )
    assert pair_gains(results).empty
