"""Where checkpoints live: the same run finds its folder again, other settings never share it."""

from __future__ import annotations

from pathlib import Path

from jobs.claim import checkpoint_dir, settings_folder


def test_a_job_folder_is_stable_and_keyed_by_its_training_settings(tmp_path: Path) -> None:
    folder = checkpoint_dir(tmp_path, "scenes", 7, {"lr": 0.001, "max_epochs": 3})
    assert folder.parent == tmp_path / "scenes" and folder.name.startswith("job-7-")
    assert checkpoint_dir(tmp_path, "scenes", 7, {"max_epochs": 3, "lr": 0.001}) == folder  # key order does not matter
    assert checkpoint_dir(tmp_path, "scenes", 7, {"lr": 0.0005, "max_epochs": 3}) != folder
    assert checkpoint_dir(tmp_path, "scenes", 8, {"lr": 0.001, "max_epochs": 3}) != folder


def test_unsafe_names_become_one_folder_level(tmp_path: Path) -> None:
    folder = settings_folder(tmp_path, "../my study", "affinity-full@1/2", {})
    assert folder.parent.parent == tmp_path
    assert "/" not in folder.name and " " not in folder.parent.name
