"""Where checkpoints live: the same run finds its folder again, other settings never share it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobs.claim import checkpoint_dir, job_run_key, settings_folder
from tests.taskgroup.cli.helpers import run_json, run_ok


def _run(**changes: object) -> dict:
    key = {"created": "2026-12-01 03:00:00", "dataset": {"name": "synthetic"}, "tasks": "depth+normal",
           "size": {"label": "full", "cost": 1.0}, "stage": "full", "training": {"lr": 0.001, "max_epochs": 3}}
    return job_run_key(**{**key, **changes})


def test_a_job_folder_is_stable_and_keyed_by_everything_that_defines_its_run(tmp_path: Path) -> None:
    folder = checkpoint_dir(tmp_path, "scenes", 7, _run())
    assert folder.parent == tmp_path / "scenes" and folder.name.startswith("job-7-")
    assert checkpoint_dir(tmp_path, "scenes", 7, _run(training={"max_epochs": 3, "lr": 0.001})) == folder  # key order
    assert checkpoint_dir(tmp_path, "scenes", 8, _run()) != folder
    changed = [_run(training={"lr": 0.0005, "max_epochs": 3}), _run(tasks="depth"), _run(stage="early"),
               _run(size={"label": "half", "cost": 0.5}), _run(dataset={"name": "synthetic", "options": {"seed": 1}}),
               _run(created="2026-12-01 03:00:01")]  # the same name, deleted and created again
    folders = {checkpoint_dir(tmp_path, "scenes", 7, run) for run in changed}
    assert len(folders) == len(changed) and folder not in folders


def test_unsafe_names_become_one_folder_level(tmp_path: Path) -> None:
    folder = settings_folder(tmp_path, "../my study", "affinity-full@1/2", {})
    assert folder.parent.parent == tmp_path
    assert "/" not in folder.name and " " not in folder.parent.name
    for dots in (".", ".."):  # the root itself or its parent, were they kept
        folder = settings_folder(tmp_path, dots, "job-1", {})
        assert folder.parent.parent == tmp_path and folder.parent.name.strip("_") == ""


def test_a_study_deleted_and_created_again_trains_its_own_networks(tmp_path: Path) -> None:
    """Job ids start over in a re-created study; its jobs must not resume the old study's checkpoints."""
    options = ("--sizes", "full=1.0", "--dataset", "synthetic", "--data-option", "images=24",
               "--data-option", "resolution=16", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}")
    run_args = ("--estimator", "esa", "--devices", "cpu", "--checkpoint-root", str(tmp_path / "checkpoints"),
                "--set", "max_epochs=1", "--set", "batch_size=8", "--db", options[-1])
    run_ok("study", "create", "s", "--tasks", "depth,normal", *options)
    first = run_json("run", "s", *run_args)
    run_ok("study", "delete", "s", "--yes", "--db", options[-1])
    run_ok("study", "create", "s", "--tasks", "edge,depth", *options)
    second = run_json("run", "s", *run_args)
    assert first["jobs"]["done"] == 3
    assert (second["jobs"]["done"], second["jobs"]["failed"]) == (3, 0)  # failed before: "belongs to another run"
    run_ok("export", "s", str(tmp_path / "second.csv"), "--db", options[-1])
    assert set(pd.read_csv(tmp_path / "second.csv")["tasks"]) == {"depth", "edge", "depth+edge"}


def test_deleting_a_study_says_where_its_checkpoints_are_left(taskgroup_home: Path) -> None:
    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0")
    run_ok("run", "s", "--estimator", "hoa", "--devices", "cpu", "--runner", "dry")  # checkpoints under the home
    folder = taskgroup_home / "checkpoints" / "s"
    assert folder.is_dir()
    result = run_ok("study", "delete", "s", "--yes")
    assert f"note: its checkpoints are left in {folder}" in " ".join(result.stderr.split())
    assert folder.is_dir()  # a note, not a deletion: the folder may be shared or wanted
