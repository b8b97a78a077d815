"""`taskgroup cost NAME` as a user runs it: measure a study's candidates and store the figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from db import open_store
from db.models import Candidate, Study
from tests.taskgroup.cli.helpers import run_error, run_json, run_ok

CANDIDATES = [("depth", "full"), ("normal", "full"), ("depth+normal", "full"), ("depth", "half")]


def _study_with_candidates(tmp_path: Path) -> str:
    """A study whose candidates come from imported results, as after `taskgroup import`."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "depth,normal", "--sizes", "full=1.0,half=0.5", "--db", db)
    lines = ["tasks,size,cost,stage,split,task,loss"]
    for tasks, size in CANDIDATES:
        cost = 1.0 if size == "full" else 0.5
        lines += [f"{tasks},{size},{cost},full,val,{task},0.5" for task in tasks.split("+")]
    csv = tmp_path / "results.csv"
    csv.write_text("\n".join(lines) + "\n")
    run_ok("import", "s", str(csv), "--db", db)
    return db


def test_cost_measures_and_stores_every_candidate(tmp_path: Path) -> None:
    db = _study_with_candidates(tmp_path)
    out = run_json("cost", "s", "--image-size", "16", "--repeats", "3", "--rounds", "1", "--warmup", "1", "--threads", "1",
                   "--networks", "candidates", "--db", db)  # fmt: skip
    assert out["device"] == "cpu"
    assert out["input_shape"] == [3, 16, 16]
    rows = {(row["tasks"], row["size"]): row for row in out["candidates"]}
    assert set(rows) == set(CANDIDATES)
    # One network for two tasks costs more than either single-task network and less than both together.
    pair, depth, normal = rows[("depth+normal", "full")], rows[("depth", "full")], rows[("normal", "full")]
    assert max(depth["macs"], normal["macs"]) < pair["macs"] < depth["macs"] + normal["macs"]
    assert rows[("depth", "half")]["macs"] < depth["macs"] / 2
    assert rows[("depth", "half")]["declared_cost"] == 0.5
    # The measured relative cost is in units of the mean full-size single-task network.
    assert abs(depth["relative"] + normal["relative"] - 2.0) < 1e-9

    store = open_store(db)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, "s")
        stored = {(c.tasks, c.size): c for c in Candidate.all_of_study(session, study.id)}
    for key, row in rows.items():
        candidate = stored[key]
        assert candidate.params == row["params"] > 0
        assert candidate.macs == row["macs"] > 0
        assert candidate.latency_ms == row["latency_ms"] > 0
        assert candidate.latency_spread_ms is not None and candidate.latency_spread_ms >= 0
        assert candidate.peak_memory_bytes is None  # CPU
        assert candidate.cost_device == "cpu"
    store.dispose()

    shown = run_json("cost", "s", "--stored", "--db", db)  # read back, not measured again
    assert sorted(shown["candidates"], key=lambda row: (row["tasks"], row["size"])) == sorted(
        out["candidates"], key=lambda row: (row["tasks"], row["size"]))


def test_cost_prints_a_table(tmp_path: Path) -> None:
    db = _study_with_candidates(tmp_path)
    out = run_ok("cost", "s", "--image-size", "16", "--repeats", "2", "--rounds", "1", "--warmup", "0", "--db", db).stdout
    assert "depth+normal" in out and "MMACs" in out and "measured" in out


def test_cost_errors_are_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "empty", "--tasks", "depth", "--db", db)
    assert "no study named 'nope'" in run_error("cost", "nope", "--db", db)
    assert "has no candidates yet" in run_error("cost", "empty", "--networks", "candidates", "--db", db)
    assert "--networks must be one of all, candidates, got 'some'" in run_error("cost", "empty", "--networks", "some", "--db", db)
    assert "has no measured costs yet: run `taskgroup cost empty`" in run_error("cost", "empty", "--stored", "--db", db)
    run_ok("study", "create", "paper", "--tasks", "s,d", "--db", db)
    csv = tmp_path / "paper.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\ns+d,full,1.0,full,val,s,0.5\ns+d,full,1.0,full,val,d,0.4\n")
    run_ok("import", "paper", str(csv), "--db", db)
    error = run_error("cost", "paper", "--db", db)
    assert "candidate d+s: 'd' is not a registered task" in error and "`taskgroup data tasks`" in error
    assert "attr_" not in error  # not every task of every dataset listed
    db = _study_with_candidates(tmp_path)
    assert "not a torch device" in run_error("cost", "s", "--device", "tpu:9", "--db", db)


def test_select_in_measured_units_needs_every_candidate_measured(tmp_path: Path) -> None:
    db = _study_with_candidates(tmp_path)
    run_ok("cost", "s", "--image-size", "16", "--repeats", "2", "--rounds", "1", "--warmup", "0", "--networks", "candidates",
           "--db", db)  # fmt: skip
    macs = run_json("select", "s", "--budget", "1e12", "--unit", "macs", "--db", db)
    assert macs["cost"] > 1000  # MACs of real networks, not the declared relative costs
    late = tmp_path / "late.csv"
    late.write_text("tasks,size,cost,stage,split,task,loss\nnormal,half,0.5,full,val,normal,0.45\n")
    run_ok("import", "s", str(late), "--db", db)
    message = run_error("select", "s", "--budget", "1e12", "--unit", "macs", "--db", db)
    assert "normal@half" in message and "taskgroup cost s" in message
    assert run_json("select", "s", "--budget", "2", "--unit", "declared", "--db", db)["cost"] <= 2


def test_measuring_imported_results_says_whose_costs_they_are_and_clear_restores_the_declared_ones(tmp_path: Path) -> None:
    """An imported study's results may come from other networks: measuring says so, and --clear undoes it."""
    db = _study_with_candidates(tmp_path)
    declared = run_json("select", "s", "--budget", "1", "--db", db)
    measured = run_ok("cost", "s", "--image-size", "16", "--repeats", "2", "--rounds", "1", "--warmup", "0", "--db", db)
    assert "study 's' has no dataset: these are taskgroup's own networks" in " ".join(measured.stderr.split())
    assert "`taskgroup cost s --clear` deletes the measurements" in " ".join(measured.stderr.split())
    assert run_json("cost", "s", "--stored", "--db", db)["candidates"]

    assert run_json("cost", "s", "--clear", "--db", db) == {"study": "s", "cleared": 6}  # every subset at both sizes
    assert "has no measured costs yet" in run_error("cost", "s", "--stored", "--db", db)
    assert run_json("select", "s", "--budget", "1", "--db", db) == declared  # `relative` is the declared cost again
    assert "give one" in run_error("cost", "s", "--stored", "--clear", "--db", db)


def test_every_budget_unit_has_words_for_reports() -> None:
    from taskgroup.cli.selection_input import DECLARED_UNIT, UNIT_WORDS
    from taskgroup.cost import UNITS

    assert set(UNIT_WORDS) == {DECLARED_UNIT, *UNITS.names()}


def test_cost_measures_every_network_so_hoa_can_still_choose_untrained_ones(tmp_path: Path) -> None:
    """`cost` measured only the candidates with results, and with a measured unit a network without
    a cost is never chosen: HOA's and lookahead's untrained predictions vanished from every choice."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "depth,edge,normal", "--sizes", "full=1.0", "--db", db)
    lines = ["tasks,size,cost,stage,split,task,loss"]
    for tasks in ("depth", "edge", "normal", "depth+edge", "depth+normal", "edge+normal"):
        lines += [f"{tasks},full,1.0,full,{split},{task},{0.5 if '+' in tasks else 1.0}"
                  for task in tasks.split("+") for split in ("val", "test")]
    (tmp_path / "hoa.csv").write_text("\n".join(lines) + "\n")
    run_ok("import", "s", str(tmp_path / "hoa.csv"), "--db", db)
    triple = ["--estimator", "hoa", "--require", "depth+edge+normal@full", "--db", db]
    assert run_json("select", "s", "--budget", "1", *triple)["networks"][0]["tasks"] == ["depth", "edge", "normal"]
    out = run_json("cost", "s", "--image-size", "16", "--repeats", "2", "--rounds", "1", "--warmup", "0", "--db", db)
    assert {(row["tasks"], row["size"]) for row in out["candidates"]} == {
        (tasks, "full") for tasks in ("depth", "edge", "normal", "depth+edge", "depth+normal", "edge+normal",
                                      "depth+edge+normal")}
    measured = {row["tasks"]: row["relative"] for row in out["candidates"]}
    chosen = run_json("select", "s", "--budget", "1e6", *triple)  # relative: now the measured latency
    assert chosen["unit"] == "relative"  # before `cost` it was "declared"
    networks = {"+".join(network["tasks"]): network["cost"] for network in chosen["networks"]}
    assert networks["depth+edge+normal"] == pytest.approx(measured["depth+edge+normal"])
    assert run_json("status", "s", "--db", db)["jobs"]["total"] == 0  # measuring queued no training


def test_relative_costs_of_a_study_without_a_full_size_count_in_its_declared_units(tmp_path: Path) -> None:
    """Every selection after `cost` used to fail: "the relative unit needs a measured single-task
    network at size 'full'", though every network was measured."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "depth,normal", "--sizes", "big=2,small=0.5", "--db", db)
    lines = ["tasks,size,cost,stage,split,task,loss"]
    for size, cost in (("big", 2.0), ("small", 0.5)):
        lines += [f"{task},{size},{cost},full,val,{task},0.5" for task in ("depth", "normal")]
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    run_ok("import", "s", str(tmp_path / "r.csv"), "--db", db)
    out = run_json("cost", "s", "--image-size", "16", "--repeats", "2", "--rounds", "1", "--warmup", "0", "--db", db)
    relative = {(row["tasks"], row["size"]): row["relative"] for row in out["candidates"]}
    assert abs(relative[("depth", "big")] + relative[("normal", "big")] - 4.0) < 1e-9  # the big singles: 2 each
    chosen = run_json("select", "s", "--budget", "4.5", "--db", db)
    assert chosen["cost"] == pytest.approx(sum(relative[("+".join(network["tasks"]), network["size"])]
                                               for network in chosen["networks"]))


def test_relative_units_based_on_measured_costs_are_noted_on_stderr_only(tmp_path: Path) -> None:
    """`--unit relative` (the default) means the declared costs until `taskgroup cost` has run, then
    measured latency: the JSON's `unit` said so, but nothing a user comparing with an earlier run reads."""
    db = _study_with_candidates(tmp_path)
    said = "--unit relative: costs are measured latency (`taskgroup cost`) relative to a full-size single-task network"
    assert said not in " ".join(run_ok("select", "s", "--budget", "2", "--db", db).stderr.split())  # declared
    run_ok("cost", "s", "--image-size", "16", "--repeats", "2", "--rounds", "1", "--warmup", "0", "--db", db)
    for command in (("select", "s", "--budget", "9"), ("sweep", "s", "--budgets", "9", "--random-samples", "5"),
                    ("report", "s", "--budgets", "9", "--out", str(tmp_path / "r"), "--format", "json")):
        result = run_ok(*command, "--json", "--db", db)
        assert said in " ".join(result.stderr.split()) and said not in result.stdout
        assert result.stderr.count("--unit relative:") == 1  # one line
    shown = run_ok("select", "s", "--budget", "9", "--db", db)
    assert said in " ".join(shown.stderr.split()) and '"unit"' not in shown.stdout
    assert said not in run_ok("select", "s", "--budget", "2", "--unit", "declared", "--db", db).stderr


def test_cost_measures_at_the_size_of_the_studys_own_images(tmp_path: Path) -> None:
    """A study on a generated 16x16 folder was measured at 64x64 (MACs 16x too high); a folder that
    is gone is one error naming --image-size, not a measurement at some other size."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    folder = tmp_path / "small16"
    run_ok("data", "generate", "--out", str(folder), "--images", "10", "--resolution", "16")
    run_ok("study", "create", "r16", "--tasks", "depth,normal", "--dataset", "synthetic", "--data-root", str(folder),
           "--db", db)
    quick = ("--repeats", "1", "--rounds", "1", "--warmup", "0", "--threads", "1", "--db", db)
    assert run_json("cost", "r16", *quick)["input_shape"] == [3, 16, 16]
    assert run_json("cost", "r16", "--image-size", "24", *quick)["input_shape"] == [3, 24, 24]
    (folder / "meta.json").unlink()
    error = run_error("cost", "r16", *quick)
    assert "cannot read the size of the study's images" in error and "give --image-size" in error
    assert str(folder) in error
