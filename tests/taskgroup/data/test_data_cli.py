"""`taskgroup data ...` as a user runs it: generate, show, tasks, check, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from taskgroup.cli.main import app
from taskgroup.data.synthetic import SyntheticParams
from tests.taskgroup.data.test_data_loaders import write_nyuv2

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["data", *args], catch_exceptions=False)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_generate_then_show_writes_a_readable_png(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    result = run("generate", "--out", str(out), "--images", "6", "--resolution", "16", "--seed", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["splits"] == {"train": 4, "val": 1, "test": 1} and summary["reused"] is False
    again = json.loads(run("generate", "--out", str(out), "--images", "6", "--resolution", "16", "--seed", "2", "--json").stdout)
    assert again["reused"] is True

    png = tmp_path / "preview.png"
    result = run("show", str(out), "--index", "5", "--out", str(png))
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(png).convert("RGB"))
    height, width, _ = image.shape
    assert width > 4 * height  # all labels side by side in one row
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # real content, not a blank canvas


def test_show_without_a_directory_shows_the_data_a_study_with_those_options_trains_on(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TASKGROUP_CACHE", str(tmp_path / "cache"))
    png = tmp_path / "study.png"
    result = run("show", "--option", "images=5", "--option", "resolution=16", "--index", "4", "--out", str(png))
    assert result.exit_code == 0, result.output
    entry = SyntheticParams.from_options({"images": 5, "resolution": 16}).cache_key  # where a study's data lives
    assert list((tmp_path / "cache").iterdir()) == [tmp_path / "cache" / entry]
    assert len(np.unique(np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3), axis=0)) > 50
    assert_one_line_error(run("show", str(tmp_path), "--option", "images=5", "--out", str(png)), "give one or the other")
    assert_one_line_error(run("show", "--option", "imagez=5", "--out", str(png)), "unknown option(s) imagez")


def test_generate_refuses_to_overwrite_other_data(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    for force in ([], ["--force"]):  # not even --force replaces a folder of the user's own files
        assert_one_line_error(run("generate", "--out", str(tmp_path), "--images", "3", "--resolution", "8", *force),
                              str(tmp_path), "not a generated dataset")  # fmt: skip
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert_one_line_error(run("generate", "--out", str(tmp_path / "x"), "--images", "2"), "images must be at least 3")


def test_generate_with_force_replaces_a_dataset_of_other_parameters(tmp_path: Path) -> None:
    """--force used to say "wrote 6 images" and keep the 3 already there (exit 0)."""
    out = tmp_path / "syn"
    run("generate", "--out", str(out), "--images", "3", "--resolution", "8")
    assert_one_line_error(run("generate", "--out", str(out), "--images", "6", "--resolution", "8"),
                          "a dataset of other parameters", "--force")  # fmt: skip
    replaced = run("generate", "--out", str(out), "--images", "6", "--resolution", "8", "--force", "--json")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(replaced.stdout)["images"] == 6 and json.loads((out / "meta.json").read_text())["images"] == 6
    assert np.load(out / "depth.npy", mmap_mode="r").shape[0] == 6
    assert [path.name for path in tmp_path.iterdir()] == ["syn"]  # the old copy is gone, no temporary left
    (out / "README.txt").write_text("mine")  # --force replaced the folder whole, deleting this with it
    assert_one_line_error(run("generate", "--out", str(out), "--images", "3", "--resolution", "8", "--force"),
                          "holds files besides the dataset (README.txt)")  # fmt: skip
    assert (out / "README.txt").read_text() == "mine" and json.loads((out / "meta.json").read_text())["images"] == 6


def test_tasks_lists_every_dataset(tmp_path: Path) -> None:
    listing = json.loads(run("tasks", "--json").stdout)
    assert set(listing) == {"synthetic", "taskonomy", "nyuv2", "celeba"}
    assert "keypoint" in listing["synthetic"] and "attr_smiling" in listing["celeba"]
    assert_one_line_error(run("tasks", "imagenet"), "unknown dataset 'imagenet'", "taskonomy")


def test_check_reports_split_sizes_and_shapes(tmp_path: Path) -> None:
    run("generate", "--out", str(tmp_path / "syn"), "--images", "10", "--resolution", "8")
    report = json.loads(run("check", "synthetic", "--root", str(tmp_path / "syn"), "--tasks", "depth,segment", "--json").stdout)
    assert report["splits"]["train"]["images"] == 8
    assert report["splits"]["val"]["fields"]["depth"] == {"dtype": "float32", "shape": [1, 8, 8]}
    assert report["splits"]["test"]["fields"]["segment"] == {"dtype": "int64", "shape": [8, 8]}


def test_check_all_reads_every_item_and_lists_each_bad_one(tmp_path: Path) -> None:
    """Without --all only item 0 of each split is read, so a bad label further in passed the check
    and failed training instead."""
    syn = tmp_path / "syn"
    run("generate", "--out", str(syn), "--images", "10", "--resolution", "8")
    clean = run("check", "synthetic", "--root", str(syn), "--all")
    assert clean.exit_code == 0, clean.output
    assert "read all 10 items: no problem found" in clean.output
    segment = np.load(syn / "segment.npy", mmap_mode="r+")
    segment[3, 0, 0] = 30
    segment[6, 0, 0] = 7
    segment.flush()
    assert run("check", "synthetic", "--root", str(syn)).exit_code == 0  # both are past the first train item
    result = run("check", "synthetic", "--root", str(syn), "--all", "--tasks", "segment,depth")
    assert result.exit_code == 1
    lines = [" ".join(line.split()) for line in result.output.splitlines() if line.strip()]
    assert f"train item 3: corrupt file: {syn / 'segment.npy'} (image 3: classes must be 0..4, found 30)" in lines
    assert f"train item 6: corrupt file: {syn / 'segment.npy'} (image 6: classes must be 0..4, found 7)" in lines
    assert lines[-1] == "error: 2 of 10 items cannot be used (listed above)"
    report = json.loads(run("check", "synthetic", "--root", str(syn), "--all", "--json").stdout)
    assert report["read"] == "all" and [p.split(":")[0] for p in report["problems"]] == ["train item 3", "train item 6"]
    assert report["splits"]["train"]["fields"]["segment"] == {"dtype": "int64", "shape": [8, 8]}


def test_errors_are_one_line_naming_the_path_or_task(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    assert_one_line_error(run("show", str(missing), "--out", str(tmp_path / "a.png")), str(missing))
    syn = tmp_path / "syn"
    run("generate", "--out", str(syn), "--images", "3", "--resolution", "8")
    assert_one_line_error(run("show", str(syn), "--index", "3", "--out", str(tmp_path / "a.png")), "--index 3", "0..2")
    assert_one_line_error(run("check", "synthetic", "--root", str(syn), "--tasks", "depth,curvature"),
                          "'curvature'", "available: albedo, depth")  # fmt: skip
    (syn / "normal.npy").write_bytes(b"broken")
    assert_one_line_error(run("check", "synthetic", "--root", str(syn)), str(syn / "normal.npy"))
    (syn / "depth.npy").unlink()
    assert_one_line_error(run("show", str(syn), "--out", str(tmp_path / "a.png")), "missing file", str(syn / "depth.npy"))
    assert_one_line_error(run("check", "taskonomy", "--root", str(missing)), "directory not found", str(missing))


def test_check_refuses_bad_values_with_one_line_not_a_traceback(tmp_path: Path) -> None:
    """These used to pass `data check` (NaN) or end in a traceback (string labels, cache_dir=5)."""
    write_nyuv2(tmp_path / "nyu")
    label = tmp_path / "nyu" / "train" / "label" / "0.npy"
    np.save(label, np.full((6, 8), "x"))
    assert_one_line_error(run("check", "nyuv2", "--root", str(tmp_path / "nyu")), str(label), "dtype <U1")
    np.save(label, np.full((6, 8), np.nan, np.float32))
    assert_one_line_error(run("check", "nyuv2", "--root", str(tmp_path / "nyu")), str(label), "NaN")
    assert_one_line_error(run("show", "--option", "cache_dir=5", "--out", str(tmp_path / "a.png")),
                          "cache_dir must be a folder path, got 5")  # fmt: skip


def test_show_writes_a_png_where_it_says_and_refuses_other_files(tmp_path: Path) -> None:
    """`--out preview` used to write preview.png but say "wrote preview"; `--out s.txt` ended in a traceback."""
    syn = tmp_path / "syn"
    run("generate", "--out", str(syn), "--images", "3", "--resolution", "8")
    result = run("show", str(syn), "--out", str(tmp_path / "preview"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "preview.png").is_file() and not (tmp_path / "preview").exists()
    assert f"wrote {tmp_path / 'preview.png'} " in " ".join(result.output.split())
    assert_one_line_error(run("show", str(syn), "--out", str(tmp_path / "s.txt")), "must be a .png file")
    (tmp_path / "folder.png").mkdir()
    assert_one_line_error(run("show", str(syn), "--out", str(tmp_path / "folder.png")), "is a folder")
    (tmp_path / "plain").mkdir()  # a folder without a suffix: not written beside as plain.png
    assert_one_line_error(run("show", str(syn), "--out", str(tmp_path / "plain")), "is a folder")
    assert not (tmp_path / "plain.png").exists()
    assert not (tmp_path / "s.txt").exists()
