"""Commands that only read the database start without torch or matplotlib (each takes about a second
to import; docs/benchmarks.md, "CLI start-up")."""

from __future__ import annotations

import subprocess
import sys

from tests.taskgroup.cli.helpers import run_ok

HEAVY = ("torch", "torchvision", "matplotlib", "ray")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    return set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split())


def test_the_cli_starts_without_torch_or_matplotlib():
    assert _loaded_after("import taskgroup.cli.main") == set()


def test_reading_commands_stay_light_and_training_code_still_loads_torch(tmp_path):
    db = f"sqlite:///{tmp_path / 'light.sqlite'}"
    csv = tmp_path / "r.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\n"
                   "a,full,1,full,val,a,0.5\nb,full,1,full,val,b,0.6\na+b,full,1,full,val,a,0.4\na+b,full,1,full,val,b,0.7\n")
    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0", "--db", db)  # sizes need the encoders
    commands = [("import", "s", str(csv)), ("select", "s", "--budget", "2"), ("sweep", "s", "--budgets", "1,2"),
                ("status", "s"), ("study", "list"), ("export", "s", str(tmp_path / "out.csv")), ("configure", "s"),
                ("db", "current")]
    script = "from typer.testing import CliRunner\nfrom taskgroup.cli.main import app\n" + "".join(
        f"result = CliRunner().invoke(app, {[*command, '--db', db]!r})\nassert result.exit_code == 0, result.output\n"
        for command in commands
    )
    assert _loaded_after(script) == set()
    assert "torch" in _loaded_after("from taskgroup.training import train_candidate")
    assert "torch" in _loaded_after("from taskgroup.cost import measure_cost")


def test_python_dash_m_runs_the_same_command():
    """`python -m taskgroup.cli.main --help` printed nothing and exited 0; `python -m taskgroup` did not exist."""
    for module in ("taskgroup", "taskgroup.cli.main"):
        shown = subprocess.run([sys.executable, "-m", module, "study", "list", "--help"], capture_output=True, text=True)
        assert shown.returncode == 0 and "Usage: taskgroup study list" in shown.stdout, (module, shown.stdout)
        unknown = subprocess.run([sys.executable, "-m", module, "nope"], capture_output=True, text=True)
        assert unknown.returncode == 2 and "No such command 'nope'" in unknown.stderr
