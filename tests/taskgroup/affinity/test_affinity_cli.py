"""`taskgroup affinity measure|show` against a real SQLite database, and select reading the matrix."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from typer.testing import CliRunner

from db import open_store
from db.affinity import load_affinity, store_affinity
from db.models import Study
from db.results import results_frame, store_results
from taskgroup.cli.main import app
from taskgroup.estimators import Evidence, get_estimator

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def make_study(db: str, tmp_path, tasks: str = "depth,edge,normal") -> None:
    result = invoke(
        "study", "create", "s", "--tasks", tasks, "--sizes", "tiny=xception:0.25@0.25", "--dataset", "synthetic",
        "--data-option", "images=24", "--data-option", "resolution=16", "--data-option", f"cache_dir={tmp_path / 'cache'}",
        "--db", db,
    )
    assert result.exit_code == 0, result.output
    store = open_store(db)
    with store.session() as session:  # a short schedule (the CLI has no training flags)
        Study.find_or_raise_by_name(session, "s").training = {"max_epochs": 1, "batch_size": 8, "seed": 0}


def test_measure_stores_the_matrix_and_the_all_task_results(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(db, tmp_path)
    result = invoke("affinity", "measure", "s", "--every", "1", "--db", db, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["tasks"] == ["depth", "edge", "normal"]
    assert payload["measurements"] == payload["steps"] >= 1
    matrix = payload["affinity"]["tiny"]
    assert all(matrix[task][task] > 0 for task in payload["tasks"])
    assert payload["results_recorded"] is True
    assert payload["scaling"]["fitted_on"] == 0  # no singles yet: nothing to fit the scaling to

    store = open_store(db)
    with store.session() as session:
        study = Study.find_or_raise_by_name(session, "s")
        stored = load_affinity(session, study)
        results = results_frame(session, study)
    assert len(stored) == 9
    assert {(r.source, r.target): r.affinity for r in stored.itertuples()} == {
        (s, t): v for s, row in matrix.items() for t, v in row.items()
    }
    assert set(results["tasks"]) == {"depth+edge+normal"} and set(results["stage"]) == {"full"}

    shown = json.loads(invoke("affinity", "show", "s", "--db", db, "--json").stdout)
    assert shown["affinity"] == payload["affinity"]
    table = invoke("affinity", "show", "s", "--db", db)
    assert table.exit_code == 0 and "depth" in table.stdout and "source" in table.stdout

    # The stored matrix is what the lookahead estimator reads (here: no singles yet, so only the
    # measured all-task network can be judged).
    estimated = get_estimator("lookahead").estimate(Evidence(results, {"affinity": stored}))
    assert set(estimated["tasks"]) == {"depth+edge+normal"}

    again = json.loads(invoke("affinity", "measure", "s", "--every", "2", "--db", db, "--json").stdout)
    assert again["results_recorded"] is False  # the all-task network's results are kept
    with store.session() as session:
        assert len(load_affinity(session, Study.find_or_raise_by_name(session, "s"))) == 9  # replaced, not added


def test_errors_are_one_clear_line(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(db, tmp_path)
    result = invoke("affinity", "show", "nope", "--db", db)
    assert result.exit_code == 1 and "no study named 'nope'" in result.output
    result = invoke("affinity", "show", "s", "--db", db)
    assert result.exit_code == 1 and "taskgroup affinity measure s" in result.output
    result = invoke("affinity", "measure", "s", "--size", "huge", "--db", db)
    assert result.exit_code == 1 and "no size 'huge'" in result.output
    make_one = invoke("study", "create", "one", "--tasks", "depth", "--dataset", "synthetic", "--db", db)
    assert make_one.exit_code == 0, make_one.output
    result = invoke("affinity", "measure", "one", "--db", db)
    assert result.exit_code == 1 and "at least two" in result.output


def test_a_diverging_measurement_names_the_command_that_lowers_the_learning_rate(tmp_path) -> None:
    """It said only "lower the learning rate", and `affinity measure` has no option for it."""
    from tests.taskgroup.cli.helpers import run_error, run_ok

    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(db, tmp_path, tasks="depth,edge")
    run_ok("configure", "s", "--set", "lr=1e30", "--set", "optimizer=sgd", "--set", "amp=false", "--db", db)
    error = run_error("affinity", "measure", "s", "--device", "cpu", "--db", db)
    assert "diverged" in error and error.endswith(
        "lower the learning rate or pick another weighting method "
        "(`taskgroup configure s --set lr=...` or `--set weighting=...`, then measure again)"
    ), error


def _checkpoint_folder(db: str) -> str:
    """Study `s`'s own folder under the checkpoint root."""
    with open_store(db).session() as session:
        return Study.find_or_raise_by_name(session, "s").checkpoint_folder


def test_measure_checkpoints_under_the_checkpoint_root_and_a_finished_run_is_not_repeated(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(db, tmp_path)
    root = tmp_path / "ckpt"
    first = json.loads(invoke("affinity", "measure", "s", "--every", "2", "--checkpoint-root", str(root),
                              "--db", db, "--json").stdout)
    folder = root / _checkpoint_folder(db)
    assert folder.name.startswith("s-")
    assert [p.name.startswith("affinity-tiny-") for p in folder.iterdir()] == [True]
    assert first["checkpoint"].startswith(str(folder))
    checkpoint = next(folder.iterdir()) / "last.pt"
    written = checkpoint.stat().st_mtime_ns

    again = json.loads(invoke("affinity", "measure", "s", "--every", "2", "--checkpoint-root", str(root),
                              "--db", db, "--json").stdout)
    assert again["affinity"] == first["affinity"] and again["checkpoint"] == first["checkpoint"]
    assert checkpoint.stat().st_mtime_ns == written  # read back, not trained again

    other = json.loads(invoke("affinity", "measure", "s", "--every", "1", "--checkpoint-root", str(root),
                              "--db", db, "--json").stdout)
    assert other["checkpoint"] != first["checkpoint"]  # other settings: a fresh measurement
    assert len(list(folder.iterdir())) == 2


def test_ctrl_c_checkpoints_the_measurement_and_the_same_command_resumes_it(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(db, tmp_path)
    store = open_store(db)
    with store.session() as session:  # long enough to be interrupted after its first checkpoint
        Study.find_or_raise_by_name(session, "s").training = {"max_epochs": 12, "batch_size": 8, "seed": 0, "patience": 12}
    root = tmp_path / "ckpt"
    executable = Path(sys.executable).parent / "taskgroup"  # the installed command, as a user runs it
    command = [str(executable), "affinity", "measure", "s", "--every", "1",
               "--checkpoint-root", str(root), "--db", db, "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    pattern = f"{_checkpoint_folder(db)}/affinity-tiny-*/last.pt"
    while not list(root.glob(pattern)) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr  # stopped, as `work` and `train` exit: not a failure
    assert "stopped; the measurement is checkpointed: run the same command to resume" in stderr
    [checkpoint] = root.glob(pattern)
    stopped_at = torch.load(checkpoint, weights_only=True)["position"]["step"]
    assert stopped_at > 0

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    payload = json.loads(resumed.stdout)
    assert payload["steps"] > stopped_at
    assert payload["measurements"] == payload["steps"]  # the sums before the interruption were kept
    assert list(root.glob(pattern)) == [checkpoint]  # the same folder, resumed


# A[i -> j] (row: source); normalised by the target's own entry the all-task network's mean
# affinities onto depth, edge and normal are -0.25, +0.375 and -0.5 (worked in estimators/test_lookahead.py).
MATRIX = {"depth": {"depth": 0.02, "edge": 0.01, "normal": -0.01},
          "edge": {"depth": 0.01, "edge": 0.04, "normal": 0.00},
          "normal": {"depth": -0.04, "edge": 0.02, "normal": 0.01}}
MEAN_AFFINITY = {"depth": -0.25, "edge": 0.375, "normal": -0.5}


def store_evidence(db: str, all_task_losses: dict[str, float]) -> None:
    """Singles at loss 1, the all-task network at `all_task_losses`, and MATRIX as the measured affinity."""
    networks = {task: {task: 1.0} for task in MATRIX} | {"depth+edge+normal": all_task_losses}
    rows = [{"tasks": tasks, "size": "tiny", "cost": 0.25, "stage": "full", "split": split, "task": task, "loss": loss}
            for tasks, losses in networks.items() for task, loss in losses.items() for split in ("val", "test")]
    affinity = [{"size": "tiny", "source": s, "target": t, "affinity": v} for s, row in MATRIX.items() for t, v in row.items()]
    with open_store(db).session() as session:
        study = Study.find_or_raise_by_name(session, "s")
        store_results(session, study, rows, replace=True)
        store_affinity(session, study, affinity, measurements=3)


def test_show_reports_the_fitted_scaling_and_warns_when_the_networks_contradict_the_affinities(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(db, tmp_path)
    # Losses that fall as affinity rises (strength 0.3, offset 0.05): the affinities are believed.
    store_evidence(db, {task: 1.05 - 0.3 * m for task, m in MEAN_AFFINITY.items()})
    agreeing = invoke("affinity", "show", "s", "--db", db, "--json")
    scaling = json.loads(agreeing.stdout)["scaling"]
    assert scaling["fitted_on"] == 3 and abs(scaling["strength"] - 0.3) < 1e-9 and abs(scaling["offset"] - 0.05) < 1e-9
    assert "contradict" not in agreeing.stderr
    text = invoke("affinity", "show", "s", "--db", db)
    shown = " ".join(text.stdout.split())  # rich wraps lines at the terminal's width
    assert "fitted to 3 multi-task losses: strength 0.300, offset +0.050" in shown and "contradict" not in text.output

    # Losses that rise with affinity: the fit gives the affinities no weight, and the user is told.
    store_evidence(db, {task: 1.0 + 0.3 * m for task, m in MEAN_AFFINITY.items()})
    contradicted = invoke("affinity", "show", "s", "--db", db, "--json")
    scaling = json.loads(contradicted.stdout)["scaling"]
    assert scaling["strength"] == 0.0 and scaling["fitted_on"] == 3
    assert "contradict the affinities" in contradicted.stderr and "--explore" in contradicted.stderr
    assert "taskgroup plan s --estimator hoa" in " ".join(contradicted.stderr.split())  # no pair is trained yet
    assert "--explore" in invoke("affinity", "show", "s", "--db", db).stderr


CHOOSING = [("select", "--budget", "1"), ("sweep", "--budgets", "1,2", "--estimators", "exact,lookahead"),
            ("finalize", "--budgets", "1,2", "--estimator", "lookahead")]


def test_choosing_with_lookahead_warns_when_the_affinities_were_given_no_weight(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(db, tmp_path)
    store_evidence(db, {task: 1.0 + 0.3 * m for task, m in MEAN_AFFINITY.items()})
    for command, *options in CHOOSING:
        lookahead = ["--estimator", "lookahead"] if command == "select" else []
        result = invoke(command, "s", *options, *lookahead, "--db", db, "--json")
        assert result.exit_code == 0, result.output
        assert "contradict the affinities" in result.stderr, command
        json.loads(result.stdout)  # the note stays off stdout, which a script reads

    store_evidence(db, {task: 1.05 - 0.3 * m for task, m in MEAN_AFFINITY.items()})
    agreeing = invoke("finalize", "s", "--budgets", "1,2", "--estimator", "lookahead", "--db", db)
    assert agreeing.exit_code == 0 and "contradict" not in agreeing.output
    store_evidence(db, {task: 1.0 + 0.3 * m for task, m in MEAN_AFFINITY.items()})
    for command, estimator in (("finalize", "hoa"), ("select", "exact")):
        other = invoke(command, "s", "--budget" + ("s" if command == "finalize" else ""), "1", "--estimator", estimator,
                       "--db", db)
        assert other.exit_code == 0 and "contradict" not in other.output, command

    with open_store(db).session() as session:  # now every network is trained: lookahead predicts none of them
        rows = [{"tasks": pair, "size": "tiny", "cost": 0.25, "stage": "full", "split": split, "task": task, "loss": 1.1}
                for pair in ("depth+edge", "depth+normal", "edge+normal") for task in pair.split("+")
                for split in ("val", "test")]
        store_results(session, Study.find_or_raise_by_name(session, "s"), rows, replace=False)
    still = " ".join(invoke("affinity", "show", "s", "--db", db).stderr.split())
    assert "contradict the affinities" in still  # still so, but planning HOA would queue nothing now
    assert "select with `--estimator hoa` (every pair it needs is trained)" in still and "taskgroup plan" not in still
    exhaustive = invoke("select", "s", "--budget", "1", "--estimator", "lookahead", "--db", db)
    assert exhaustive.exit_code == 0 and "contradict" not in exhaustive.output  # but no advice that would do nothing


def test_choosing_with_lookahead_names_the_tasks_whose_single_task_network_is_untrained(tmp_path) -> None:
    """After `affinity measure` alone, lookahead estimated nothing and `select` quietly chose the
    all-task network, the one network with losses, as if it had compared groupings."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(db, tmp_path)
    rows = [{"tasks": "depth+edge+normal", "size": "tiny", "cost": 0.25, "stage": "full", "split": split, "task": task,
             "loss": 1.0} for task in MATRIX for split in ("val", "test")]
    affinity = [{"size": "tiny", "source": s, "target": t, "affinity": v} for s, row in MATRIX.items() for t, v in row.items()]
    with open_store(db).session() as session:
        study = Study.find_or_raise_by_name(session, "s")
        store_results(session, study, rows, replace=True)
        store_affinity(session, study, affinity, measurements=3)
    for command, *options in CHOOSING:
        lookahead = ["--estimator", "lookahead"] if command == "select" else []
        result = invoke(command, "s", *options, *lookahead, "--db", db)
        assert result.exit_code == 0, result.output
        said = " ".join(result.stderr.split())
        assert ("note: lookahead estimates no network with depth, edge, normal: their single-task networks have no "
                "full-stage loss yet, so the choice is only among networks with results (`taskgroup run s --estimator "
                "lookahead` trains them)") in said, command
    with open_store(db).session() as session:  # an imported study has nothing to train on: import them instead
        Study.find_or_raise_by_name(session, "s").dataset = {}
    said = " ".join(invoke("select", "s", "--budget", "1", "--estimator", "lookahead", "--db", db).stderr.split())
    assert "(import their results: `taskgroup import s FILE`)" in said and "taskgroup run" not in said
    store_evidence(db, {task: 1.0 for task in MATRIX})  # every single trained
    assert "estimates no network" not in invoke("select", "s", "--budget", "1", "--estimator", "lookahead", "--db", db).stderr
