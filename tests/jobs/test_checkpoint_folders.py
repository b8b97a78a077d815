"""Where checkpoints live: the same run finds its folder again, other settings never share it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from sqlalchemy import text, update

from db import open_store
from db.checkpoint_folders import new_study_folder, shared_study_folder
from db.migrations_api import upgrade_to_head
from db.models import Job, Study
from db.store import create_db_engine
from jobs.claim import Claim, checkpoint_dir, job_run_key, settings_folder
from jobs.queue import JobQueue
from jobs.status import study_status
from taskgroup.cli.work import progress_detail
from tests.jobs.helpers import settings
from tests.taskgroup.cli.helpers import run_error, run_json, run_ok


@pytest.fixture(autouse=True)
def _home_made(taskgroup_home: Path) -> None:
    """These databases live in TASKGROUP_HOME beside the default checkpoint root, as a user's several
    databases would; a named database's folder must exist."""
    taskgroup_home.mkdir(parents=True, exist_ok=True)


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
    for study_folder in (shared_study_folder("../my study"), new_study_folder("../my study")):
        folder = settings_folder(tmp_path, study_folder, "affinity-full@1/2", {})
        assert folder.parent.parent == tmp_path
        assert "/" not in folder.name and " " not in folder.parent.name
    for dots in (".", ".."):  # the root itself or its parent, were they kept
        assert shared_study_folder(dots).strip("_") == "" and new_study_folder(dots).startswith("_")


def test_each_new_study_owns_a_folder_that_no_study_of_the_same_name_shares() -> None:
    folders = {new_study_folder("scenes") for _ in range(100)}
    assert len(folders) == 100 and all(folder.startswith("scenes-") for folder in folders)


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


def _flat(text: str) -> str:
    """`text` without white space: the console wraps long paths anywhere."""
    return "".join(text.split())


def _dry_run(name: str, db: str) -> str:
    """Create study `name` in `db`, train it with the dry runner, and return its checkpoint folder's name."""
    run_ok("study", "create", name, "--tasks", "a,b", "--sizes", "full=1.0", "--db", db)
    run_ok("run", name, "--estimator", "hoa", "--devices", "cpu", "--runner", "dry", "--db", db)
    return run_json("study", "show", name, "--db", db)["checkpoint_folder"]


def test_deleting_a_study_deletes_its_checkpoints_and_logs_and_no_other_databases(taskgroup_home: Path) -> None:
    """Two databases whose workers share the default checkpoint root, each with a study `s`."""
    first, second = (f"sqlite:///{taskgroup_home / name}" for name in ("one.sqlite", "two.sqlite"))
    root = taskgroup_home / "checkpoints"
    mine, theirs = _dry_run("s", first), _dry_run("s", second)
    assert mine != theirs and mine.startswith("s-")
    kept = sorted(path.relative_to(root) for folder in (root / theirs, root / "logs" / theirs) for path in folder.rglob("*"))
    assert len(kept) >= 3 * 2 + 1  # a folder and a state file per job (a, b, a+b), and the workers' log

    result = run_ok("study", "delete", "s", "--yes", "--db", first)
    assert _flat(f"Deleted its checkpoints and worker logs: {root / mine} and {root / 'logs' / mine}") in _flat(result.stdout)
    assert not (root / mine).exists() and not (root / "logs" / mine).exists()
    assert sorted(path.relative_to(root) for path in root.rglob("*")) == sorted(
        [Path(theirs), Path("logs"), Path("logs", theirs), *kept])
    assert [study["name"] for study in run_json("study", "list", "--db", second)] == ["s"]


def test_keep_checkpoints_leaves_the_folders_and_says_where(taskgroup_home: Path) -> None:
    db = f"sqlite:///{taskgroup_home / 'db.sqlite'}"
    root = taskgroup_home / "checkpoints"
    folder = _dry_run("s", db)
    result = run_ok("study", "delete", "s", "--yes", "--keep-checkpoints", "--db", db)
    assert _flat(f"note: its checkpoints and worker logs are left in {root / folder} and {root / 'logs' / folder}; "
                 "delete those folders to free the space") in _flat(result.stderr)
    assert any((root / folder).iterdir()) and any((root / "logs" / folder).iterdir())


def _claim_one_job(db: str, name: str, tmp_path: Path) -> Claim:
    """Plan study `name` (two tasks) and claim a job of it as a worker would, which stamps its heartbeat."""
    run_ok("study", "create", name, "--tasks", "a,b", "--sizes", "full=1.0", "--db", db)
    run_ok("plan", name, "--estimator", "hoa", "--db", db)
    store = open_store(db)
    with store.session() as session:
        study_id = Study.find_or_raise_by_name(session, name).id
    claim = JobQueue(store, study_id, settings(tmp_path)).claim("w", "cpu")
    assert claim is not None
    return claim


def test_a_study_being_trained_is_deleted_only_with_force(db_url: str, taskgroup_home: Path) -> None:
    _claim_one_job(db_url, "s", taskgroup_home)
    assert "1 job of study 's' is training now" in run_error("study", "delete", "s", "--yes", "--db", db_url)
    assert [study["name"] for study in run_json("study", "list", "--db", db_url)] == ["s"]
    run_ok("study", "delete", "s", "--yes", "--force", "--db", db_url)
    assert run_json("study", "list", "--db", db_url) == []


def test_a_job_whose_worker_is_gone_does_not_hold_its_study(db_url: str, taskgroup_home: Path) -> None:
    claim = _claim_one_job(db_url, "s", taskgroup_home)
    with open_store(db_url).session() as session:  # last heard of long before the grace period
        session.execute(update(Job).where(Job.id == claim.job_id).values(heartbeat_at=datetime(2026, 1, 1)))
    run_ok("study", "delete", "s", "--yes", "--db", db_url)
    assert run_json("study", "list", "--db", db_url) == []


def test_a_job_whose_worker_is_gone_does_not_block_configure_and_cancel_removes_it(
        db_url: str, taskgroup_home: Path) -> None:
    """A SIGKILLed worker leaves its job `running`: configure refused until a worker reclaimed it, and cancel
    said "running jobs will finish", which never happened."""
    claim = _claim_one_job(db_url, "s", taskgroup_home)
    assert "1 running job whose worker is still sending heartbeats" in run_error("configure", "s", "--set", "lr=0.01", "--db", db_url)
    assert " ".join(run_ok("cancel", "s", "--db", db_url).stdout.split()).endswith("removed; 1 running job will finish.")
    with open_store(db_url).session() as session:  # last heard of long before the grace period
        session.execute(update(Job).where(Job.id == claim.job_id).values(heartbeat_at=datetime(2026, 1, 1)))
    status = " ".join(run_ok("status", "s", "--db", db_url).stdout.split())
    assert "A job whose worker is gone goes to the next `taskgroup work s`" in status
    with open_store(db_url).session() as session:  # what `work`'s live display says while it waits to take it over
        report = study_status(session, Study.find_or_raise_by_name(session, "s"))
    # its worker's grace period: 1.5 s in these tests
    assert progress_detail(report) == "1 running (1 silent, taken over after 1.5 s without a heartbeat), 0 failed"
    assert run_json("configure", "s", "--set", "lr=0.01", "--db", db_url)["training"]["lr"] == 0.01
    jobs = run_json("status", "s", "--db", db_url)["jobs"]
    assert run_json("cancel", "s", "--db", db_url) == {"study": "s", "cancelled": jobs["queued"], "abandoned": 1}
    assert run_json("status", "s", "--db", db_url)["jobs"]["total"] == 0


def test_a_study_from_before_revision_0007_keeps_its_folder_which_delete_leaves(taskgroup_home: Path) -> None:
    """Its jobs resume where they checkpointed; the name's folder may be other databases' too."""
    db = f"sqlite:///{taskgroup_home / 'old.sqlite'}"
    engine = create_db_engine(db)
    upgrade_to_head(engine, "0006")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO study (name, tasks, sizes, dataset, training, created_at) VALUES "
                                "('old', '[\"a\"]', '[{\"label\": \"full\", \"cost\": 1.0}]', '{}', '{}', "
                                "CURRENT_TIMESTAMP)"))
    run_ok("db", "upgrade", "--db", db)
    assert run_json("study", "show", "old", "--db", db)["checkpoint_folder"] == "old"
    run_ok("plan", "old", "--estimator", "exact", "--db", db)
    store = open_store(db)
    with store.session() as session:
        study_id = Study.find_or_raise_by_name(session, "old").id
    claim = JobQueue(store, study_id, settings(taskgroup_home)).claim("w", "cpu")
    assert claim is not None and claim.checkpoint_dir.parent == taskgroup_home / "checkpoints" / "old"

    claim.checkpoint_dir.mkdir(parents=True)
    result = run_ok("study", "delete", "old", "--yes", "--force", "--db", db)
    assert _flat(f"its checkpoints are left in {claim.checkpoint_dir.parent}; delete that folder") in _flat(result.stderr)
    assert _flat("studies of that name in other databases use them too") in _flat(result.stderr)
    assert claim.checkpoint_dir.is_dir()


def test_delete_names_the_folder_when_its_workers_checkpointed_under_another_root(taskgroup_home: Path) -> None:
    """Once the study is deleted nothing else records its folder's name, so the note is the user's only pointer."""
    db = f"sqlite:///{taskgroup_home / 'db.sqlite'}"
    folder = _dry_run("s", db)
    elsewhere = taskgroup_home / "elsewhere"
    result = run_ok("study", "delete", "s", "--yes", "--checkpoint-root", str(elsewhere), "--db", db)
    assert _flat(f"no checkpoints of it in {elsewhere}; if its workers used another --checkpoint-root, delete "
                 f"{folder} and logs/{folder} there") in _flat(result.stderr)
    assert any((taskgroup_home / "checkpoints" / folder).iterdir())  # not ours to guess at: left as it was


def test_delete_of_a_study_that_never_trained_says_nothing_of_checkpoints(taskgroup_home: Path) -> None:
    db = f"sqlite:///{taskgroup_home / 'db.sqlite'}"
    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0", "--db", db)
    result = run_ok("study", "delete", "s", "--yes", "--db", db)
    assert "checkpoint" not in result.stderr + result.stdout
