"""A study notices when its on-disk data changes under it: results on two datasets are not compared as one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from db.models import Job, Study
from jobs.runners import build_runner
from jobs.worker import Worker
from tests.jobs.helpers import make_study, settings
from tests.taskgroup.cli.helpers import run_error, run_json, run_ok

TRAIN = ("--devices", "cpu", "--set", "max_epochs=1", "--set", "batch_size=4")


def _generate(root: Path, images: int) -> None:
    run_ok("data", "generate", "--out", str(root), "--images", str(images), "--resolution", "8", "--force")


def _create(root: Path) -> None:
    run_ok("study", "create", "s", "--tasks", "depth,edge", "--sizes", "tiny=0.25@0.25", "--dataset", "synthetic",
           "--data-root", str(root))  # fmt: skip


def test_data_grown_after_jobs_trained_on_it_is_refused_before_anything_is_queued(tmp_path):
    """12 images grown to 20 used to train the rest of the study on 20, unsaid."""
    root = tmp_path / "scenes"
    _generate(root, 12)
    _create(root)
    assert run_json("study", "show", "s")["data_splits"] == {"train": 10, "val": 1, "test": 1}
    assert "data train 10, val 1, test 1 items" in " ".join(run_ok("study", "show", "s").stdout.split())
    assert run_json("run", "s", "--estimator", "lookahead", *TRAIN)["jobs"]["done"] == 2
    _generate(root, 20)
    message = run_error("run", "s", "--estimator", "exact", *TRAIN)
    assert (f"the data at {root} changed since the study's first runs: they had train 10, val 1, test 1 items, it now "
            "has train 16, val 2, test 2; its results would mix the two. Restore the data, or create a new study "
            "for it") in message
    assert run_json("status", "s")["jobs"] == {"queued": 0, "running": 0, "done": 2, "failed": 0, "total": 2}
    assert run_json("study", "show", "s")["data_splits"] == {"train": 10, "val": 1, "test": 1}
    _generate(root, 12)  # the same data again (deterministic): the study goes on
    assert run_json("run", "s", "--estimator", "exact", *TRAIN)["jobs"]["done"] == 3


def test_data_fixed_before_anything_trained_on_it_is_recorded_anew(tmp_path):
    root = tmp_path / "scenes"
    _generate(root, 12)
    _create(root)
    _generate(root, 20)
    assert run_json("run", "s", "--estimator", "lookahead", *TRAIN)["jobs"]["done"] == 2
    assert run_json("study", "show", "s")["data_splits"] == {"train": 16, "val": 2, "test": 2}


def test_a_worker_whose_copy_of_the_data_differs_fails_the_job_naming_both(tmp_path):
    """Machines that train may each hold their own copy of the folder; the study's record is what counts."""
    root = tmp_path / "scenes"
    _generate(root, 12)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    dataset = {"name": "synthetic", "root": str(root), "options": {}}
    store = make_study(url, tasks=["depth"], jobs=1, dataset=dataset, training={"max_epochs": 1, "batch_size": 4})
    with store.session() as session:
        Study.find_or_raise_by_name(session, "s").data_splits = {"train": 16, "val": 2, "test": 2}
    summary = Worker(store, "s", "cpu", settings(tmp_path, runner="train"), build_runner("train")).run()
    assert summary.failed == 1
    with store.session() as session:
        job = session.scalars(select(Job)).one()
    assert (job.state, job.attempts) == ("failed", 1)  # another attempt on this machine would find the same data
    assert "they had train 16, val 2, test 2 items, it now has train 10, val 1, test 1" in job.error
