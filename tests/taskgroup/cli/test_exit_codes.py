"""The exit statuses README.md documents: 0 done, 1 our error, 2 usage error, 130 stopped by Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.taskgroup.cli.helpers import run, run_error, run_ok


def test_a_usage_error_exits_2_and_our_own_error_exits_1():
    for args in (("select",), ("select", "s", "--budget", "x"), ("study", "list", "--no-such-option"), ("study",)):
        assert run(*args).exit_code == 2, args  # click's usage errors, and a group run without a command
    run_ok("study", "create", "s", "--tasks", "a,b")  # exit 0
    assert run("study", "show", "nosuch").exit_code == 1
    assert "no study named 'nosuch'" in run_error("study", "show", "nosuch")


def _interrupt_data_generate(tmp_path: Path, signum: signal.Signals) -> tuple[int, str]:
    """`data generate` sent `signum` once its hidden temporary folder exists: its exit status and stderr."""
    command = [str(Path(sys.executable).parent / "taskgroup"), "data", "generate", "--out", str(tmp_path / "gen"),
               "--images", "50000", "--resolution", "16"]  # minutes of rendering: stopped long before the end
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".gen.tmp-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".gen.tmp-*")), "the temporary folder never appeared"
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def test_ctrl_c_stops_any_command_with_status_130_and_no_traceback(tmp_path):
    """A command that does not train (here `data generate`) stops at once; training ones are tested with theirs."""
    status, stderr = _interrupt_data_generate(tmp_path, signal.SIGINT)
    assert status == 130, stderr
    assert "Traceback" not in stderr and not (tmp_path / "gen").exists()
    assert not list(tmp_path.glob(".gen*"))  # the half-rendered temporary folder is removed too


def test_sigterm_ends_data_generate_as_the_signal_does_and_removes_its_temporary_folder(tmp_path):
    """kill, systemd or Slurm ended it, leaving `.gen.tmp-<hex>` (gigabytes for a large render) behind."""
    status, stderr = _interrupt_data_generate(tmp_path, signal.SIGTERM)
    assert status == -signal.SIGTERM, stderr  # ended by the signal: a shell shows 143, as for any other command
    assert "Traceback" not in stderr and not list(tmp_path.glob(".gen*")) and not (tmp_path / "gen").exists()
