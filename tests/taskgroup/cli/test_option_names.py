"""One name per concept on every command (old names still work), and each default stated once in `--help`."""

from __future__ import annotations

import pytest
import typer.rich_utils

from tests.taskgroup.cli.helpers import every_command, run, run_error, run_json, run_ok

COMMANDS = dict(every_command())
OLD_NAMES = {"--epochs": "--max-epochs", "--workers": None, "--option": "--data-option", "--root": "--data-root"}
"""Names that meant different things on different commands; `--workers` became `--num-workers` on
`train` (data-loading processes) and `--per-device` on `demo` (training processes, as on `run`)."""


def test_no_command_lists_an_old_name_first():
    """`--help` and docs/cli.md show an option by its first name: the new one, everywhere."""
    for path, command in COMMANDS.items():
        for param in command.params:
            assert param.opts[0] not in OLD_NAMES, f"taskgroup {' '.join(path)}: {param.opts}"


def test_each_old_name_is_a_second_name_of_the_new_option():
    names = {path: {param.opts[0]: param.opts[1:] for param in command.params} for path, command in COMMANDS.items()}
    assert names[("train",)]["--max-epochs"] == ["--epochs"] and names[("demo",)]["--max-epochs"] == ["--epochs"]
    assert names[("train",)]["--num-workers"] == ["--workers"] and names[("demo",)]["--per-device"] == ["--workers"]
    for path in (("data", "check"), ("study", "create"), ("train",)):
        assert names[path]["--data-root"] == ["--root"] and names[path]["--data-option"] == ["--option"]
    assert names[("data", "show")]["--data-option"] == ["--option"]


@pytest.mark.parametrize(("name", "setting"), [("--max-epochs", "max_epochs"), ("--epochs", "max_epochs"),
                                               ("--num-workers", "num_workers"), ("--workers", "num_workers")])
def test_train_options_set_the_training_options_they_are_named_after(name, setting):
    """`train --epochs` set `max_epochs`, `configure --set`'s name: a value out of range is refused as that option."""
    message = run_error("train", "--tasks", "depth", name, "-1", "--device", "cpu")
    assert f"training option {setting} must be" in message


@pytest.mark.parametrize("name", ["--per-device", "--workers"])
def test_demo_per_device_is_the_training_processes_option(name):
    result = run("demo", "--quick", name, "0")
    assert result.exit_code == 2
    assert "Invalid value for '--per-device' / '--workers'" in " ".join(result.output.split())


def test_data_check_reads_the_data_root_and_data_options_a_study_names(tmp_path):
    run_ok("data", "generate", "--out", str(tmp_path / "syn"), "--images", "5", "--resolution", "8")
    for root, option in (("--data-root", "--data-option"), ("--root", "--option")):
        assert run_json("data", "check", "synthetic", root, str(tmp_path / "syn"))["splits"]["train"]["images"] == 3
        cached = run_json("data", "check", "synthetic", option, "images=10", option, "resolution=8")
        assert sum(split["images"] for split in cached["splits"].values()) == 10


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path))
def test_help_states_each_default_once(path, monkeypatch):
    """`train --device` read "(default: cuda when present). [default: auto]"; `--runner` "train (default), ...
    [default: train]"."""
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 400)  # one line per option
    for line in run_ok(*path, "--help").output.splitlines():
        text, shown, _ = line.partition("[default:")
        assert not shown or "default" not in text.lower(), f"taskgroup {' '.join(path)}: {' '.join(line.split())}"
