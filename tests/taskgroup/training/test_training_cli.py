"""`taskgroup train`: JSON a script can read, one error line on divergence and bad input."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from taskgroup.cli.main import app

SMALL = ["--size", "tiny=0.25", "--data-option", "images=40", "--data-option", "resolution=16", "--batch-size", "8",
         "--device", "cpu"]  # fmt: skip


def test_train_prints_json_losses_per_task(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["train", "--tasks", "depth,edge", "--epochs", "2", "--stage", "early", "--init", "sequential", "--json",
              *SMALL, "--data-option", f"cache_dir={tmp_path}"],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["tasks"] == ["depth", "edge"] and payload["stage"] == "early"
    assert payload["config"]["init"] == "sequential"
    assert set(payload["val_losses"]) == set(payload["test_losses"]) == {"depth", "edge"}
    assert payload["steps"] == payload["planned_steps"] == 2  # 20% of 2 epochs x 4 steps, rounded up
    assert payload["device"] == "cpu"


def test_diverging_run_exits_1_with_one_error_line(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["train", "--tasks", "depth", "--epochs", "2", "--optimizer", "sgd", "--lr", "1e12", *SMALL,
              "--data-option", f"cache_dir={tmp_path}"],  # fmt: skip
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: training of depth (tiny) diverged"), result.output
    assert "lower the learning rate" in lines[0]  # whether the loss turned non-finite in a step or on validation
    assert lines[0].endswith("(--lr, --optimizer or --weighting)") and "configure" not in lines[0]  # its own options


def test_unknown_weighting_init_and_size_are_one_line_errors(tmp_path) -> None:
    result = CliRunner().invoke(app, ["train", "--tasks", "depth", "--weighting", "nope", *SMALL,
                                      "--data-option", f"cache_dir={tmp_path}"])  # fmt: skip
    assert result.exit_code == 1 and "unknown weighting method 'nope'" in result.output
    result = CliRunner().invoke(app, ["train", "--tasks", "depth", "--init", "shuffled", *SMALL,
                                      "--data-option", f"cache_dir={tmp_path}"])  # fmt: skip
    assert result.exit_code == 1 and "init must be one of per-task, sequential, got 'shuffled'" in result.output
    result = CliRunner().invoke(app, ["train", "--tasks", "depth", "--size", "huge"])
    assert result.exit_code == 1 and "--size 'huge'" in result.output


def test_a_bad_device_is_one_line_error_before_any_data_is_made(tmp_path) -> None:
    small = [arg for arg in SMALL if arg != "cpu" and arg != "--device"]
    result = CliRunner().invoke(app, ["train", "--tasks", "depth", "--device", "gpu0", *small,
                                      "--data-option", f"cache_dir={tmp_path}"])  # fmt: skip
    assert result.exit_code == 1 and "device 'gpu0' is not a torch device" in result.output
    assert not any(tmp_path.iterdir())  # the synthetic data was not rendered for a run that cannot start


def test_ctrl_c_checkpoints_and_says_the_same_command_resumes(tmp_path) -> None:
    """It used to exit 130 without a word, and with the epoch under way lost."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    checkpoints = tmp_path / "ckpt"
    command = [str(Path(sys.executable).parent / "taskgroup"), "train", "--tasks", "depth", "--epochs", "40",
               "--patience", "40", "--size", "tiny=0.25", "--data-option", "images=400", "--data-option",
               "resolution=16", "--batch-size", "8", "--device", "cpu", "--data-option", f"cache_dir={tmp_path}",
               "--checkpoint-dir", str(checkpoints)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not (checkpoints / "last.pt").is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert f"stopped; run the same command to resume from {checkpoints}" in " ".join(stderr.split())
    assert "Traceback" not in stderr and (checkpoints / "last.pt").is_file()


def _corrupt_checkpoints() -> dict[str, bytes]:
    """A `last.pt` of random bytes and one cut short, as a crashed copy or a full disk leaves them."""
    import io
    import os

    import torch

    whole = io.BytesIO()
    torch.save({"position": {"epoch": 1}, "weights": torch.zeros(256)}, whole)
    return {"random": os.urandom(300), "truncated": whole.getvalue()[: len(whole.getvalue()) // 2]}


def test_a_corrupt_checkpoint_is_one_error_naming_it_and_deleting_it_starts_afresh(tmp_path) -> None:
    """torch's paragraph advised `weights_only=False`; the user needs the file and what to do."""
    from tests.taskgroup.cli.helpers import run_error, run_ok

    command = ["train", "--tasks", "depth", "--epochs", "1", *SMALL, "--data-option", f"cache_dir={tmp_path}"]
    for kind, content in _corrupt_checkpoints().items():
        checkpoint = tmp_path / kind / "last.pt"
        checkpoint.parent.mkdir()
        checkpoint.write_bytes(content)
        error = run_error(*command, "--checkpoint-dir", str(checkpoint.parent))
        assert error == (f"error: checkpoint {checkpoint} is corrupt or unreadable (not a checkpoint taskgroup wrote, "
                         "or cut short); delete it to train this run again from scratch"), kind
        assert checkpoint.read_bytes() == content  # left for the user to look at
    checkpoint.unlink()
    run_ok(*command, "--checkpoint-dir", str(checkpoint.parent))


def test_a_checkpoint_dir_that_is_a_file_is_refused_before_training(tmp_path) -> None:
    """It trained a whole epoch, then said only `FILE: File exists`."""
    from tests.taskgroup.cli.helpers import run_error

    file = tmp_path / "notes.txt"
    file.write_text("mine")
    command = ["train", "--tasks", "depth", "--epochs", "1", *SMALL, "--data-option", f"cache_dir={tmp_path}"]
    assert run_error(*command, "--checkpoint-dir", str(file)) == (
        f"error: checkpoint folder {file} is a file, not a folder; give the path of a folder (it is created if missing)"
    )
    assert run_error(*command, "--checkpoint-dir", str(file / "run")) == (
        f"error: checkpoint folder {file / 'run'} cannot be created: {file} is a file, not a folder; "
        "give the path of a folder (it is created if missing)"
    )
    assert file.read_text() == "mine"
