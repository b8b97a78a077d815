"""`taskgroup report` on the paper's published results reproduces its loss-vs-budget curve and affinity tables."""

from __future__ import annotations

import base64
import io
import json
import math

import pandas as pd
import pytest
from PIL import Image

from tests.taskgroup.cli.helpers import run_error
from tests.taskgroup.report.reference import expected_exact_sets, expected_totals, raw_losses

SECTIONS = ["loss-vs-budget", "groupings", "affinity", "serving-losses", "network-costs", "compute"]


def test_curve_of_each_estimator_equals_the_papers_totals(reference_report, reference_dir):
    document = json.loads((reference_report["out"] / "report.json").read_text())
    curve = {section["id"]: section for section in document["sections"]}["loss-vs-budget"]["tables"]["loss_vs_budget"]
    for estimator, totals in expected_totals(reference_dir / "README.md").items():
        mine = {row["budget"]: row["test_loss"] for row in curve if row["series"] == estimator}
        assert sorted(mine) == [budget for budget, _ in totals]
        for budget, total in totals:
            assert round(mine[budget], 5) == total, (estimator, budget)


def test_html_shows_the_papers_totals_and_exact_sets(reference_report, reference_dir):
    rows = reference_report["html"].tables["table-choices"]
    shown = {(row["estimator"].text, float(row["budget"].value)): row for row in rows}
    for estimator, totals in expected_totals(reference_dir / "README.md").items():
        for budget, total in totals:
            row = shown[(estimator, budget)]
            assert round(float(row["test_loss"].value), 5) == total
            assert row["test_loss"].text == f"{float(row['test_loss'].value):.6g}"
    for budget, networks in expected_exact_sets(reference_dir / "README.md").items():
        assert set(shown[("exact", budget)]["networks"].text.split()) == networks, budget


def test_baselines_are_shown_next_to_the_estimators(reference_report, reference_dir):
    raw_val, raw_test = raw_losses(reference_dir / "results.txt"), raw_losses(reference_dir / "results_test.txt")
    rows = {(row["baseline"].text, float(row["budget"].value)): row for row in reference_report["html"].tables["table-baselines"]}
    assert {name for name, _ in rows} == {"all-in-one", "one-per-task", "random", "worst"}
    # budget 1 affords only the five-task network: the all-in-one baseline is the exact optimum there
    assert round(float(rows[("all-in-one", 1.0)]["test_loss"].value), 5) == 0.50278
    # budget 5: one network per task, each at the size with its lower validation loss (by hand from the files)
    expected = 0.0
    for task in ("segment", "depth", "normal", "keypoint", "edge"):
        size = min(("full", "half"), key=lambda s: raw_val[(task, s)][task])
        expected += raw_test[(task, size)][task]
    assert float(rows[("one-per-task", 5.0)]["test_loss"].value) == pytest.approx(expected)
    random_row = rows[("random", 3.0)]
    assert float(random_row["test_loss_std"].value) > 0
    curve = pd.read_csv(reference_report["out"] / "tables" / "loss_vs_budget.csv")
    assert set(curve[curve["kind"] == "baseline"]["series"]) == {"all-in-one", "one-per-task", "random", "worst"}


def test_affinity_csv_equals_hand_computation_from_the_files(reference_report, reference_dir):
    raw = raw_losses(reference_dir / "results_test.txt")
    table = pd.read_csv(reference_report["out"] / "tables" / "affinity.csv")
    assert len(table) == 20
    for row in table.to_dict("records"):
        alone = raw[(row["task"], "full")][row["task"]]
        together = raw[("+".join(sorted([row["task"], row["partner"]])), "full")][row["task"]]
        assert row["gain"] == pytest.approx((alone - together) / alone, abs=1e-12)
    matrix = pd.read_csv(reference_report["out"] / "tables" / "affinity_matrix_full.csv", index_col="task \\ partner")
    assert matrix.loc["segment", "depth"] == pytest.approx((0.07662 - 0.07419) / 0.07662)
    assert math.isnan(matrix.loc["depth", "depth"])


def test_every_section_is_in_every_format(reference_report):
    out = reference_report["out"]
    assert reference_report["html"].section_ids == SECTIONS
    markdown = (out / "report.md").read_text()
    document = json.loads((out / "report.json").read_text())
    assert [section["id"] for section in document["sections"]] == SECTIONS
    for section in document["sections"]:
        assert f"## {section['title']}" in markdown
        for name in section["tables"]:
            assert (out / "tables" / f"{name}.csv").is_file()
            assert f"table-{name}" in reference_report["html"].tables
        for figure in section["figures"]:
            assert f"]({figure})" in markdown and (out / figure).is_file()


def test_figures_are_valid_images_embedded_in_the_html(reference_report):
    out = reference_report["out"]
    sources = reference_report["html"].image_sources
    figures = sorted((out / "figures").glob("*.png"))
    # loss curve, one grouping figure per estimator, affinity heatmap, distance from the optimum
    assert len(figures) == len(sources) == 6
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).verify()
    for path in figures:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.width > 200 and image.height > 150


def test_html_is_self_contained(reference_report):
    html = reference_report["html"]
    assert "script" not in html.tags and "link" not in html.tags
    assert all(link.startswith("#") for link in html.links)
    text = (reference_report["out"] / "report.html").read_text()
    assert "http://" not in text and "https://" not in text and "url(" not in text


def test_distances_from_the_exact_optimum_match_the_papers_gaps(reference_report, reference_dir):
    totals = expected_totals(reference_dir / "README.md")
    distance = pd.read_csv(reference_report["out"] / "tables" / "distance.csv")
    exact = dict(totals["exact"])
    for estimator in ("esa", "hoa"):
        for budget, total in totals[estimator]:
            row = distance[(distance["estimator"] == estimator) & (distance["budget"] == budget)].iloc[0]
            assert row["distance"] == pytest.approx(total - exact[budget], abs=2e-5)
    compute = pd.read_csv(reference_report["out"] / "tables" / "compute.csv")
    assert list(compute["jobs"]) == [0, 0, 0]  # imported results: no training recorded


def test_the_report_says_which_networks_exact_chose_among(reference_report):
    """The paper trained every subset at full size and only the singles at half size: 36 of 62."""
    summary = json.loads((reference_report["out"] / "report.json").read_text())["summary"]
    assert "Exact chose among the 36 fully trained networks of the 62 possible" in summary


def test_imported_results_are_reported_in_their_declared_costs(reference_report):
    sections = json.loads((reference_report["out"] / "report.json").read_text())["sections"]
    loss = next(section["text"] for section in sections if section["id"] == "loss-vs-budget")
    assert "Budgets are in declared costs" in loss  # `relative`, the default, before any measurement


def test_bad_report_requests_get_one_clear_error(reference_report, tmp_path):
    db = reference_report["db"]
    assert "unknown report format 'pdf'" in run_error("report", "paper", "--out", str(tmp_path / "x"), "--format", "pdf", "--db", db)
    assert "budgets '5:1:1'" in run_error("report", "paper", "--out", str(tmp_path / "x"), "--budgets", "5:1:1", "--db", db)
    assert "no study named 'nope'" in run_error("report", "nope", "--out", str(tmp_path / "x"), "--db", db)
    assert "unknown estimator 'magic'" in run_error("report", "paper", "--out", str(tmp_path / "x"), "--estimators", "magic", "--db", db)
    assert "no estimator can select" in run_error("report", "paper", "--out", str(tmp_path / "x"), "--estimators", "lookahead", "--db", db)
    assert not (tmp_path / "x").exists()
