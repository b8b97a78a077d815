"""`taskgroup report`'s options, as a user types them: the same spellings as `sweep`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.taskgroup.cli.helpers import run_ok

LOSSES = {"a": 0.5, "b": 0.6, "c": 0.4, "a+b": 0.45, "a+c": 0.55, "b+c": 0.5, "a+b+c": 0.6}


def _study(tmp_path: Path) -> str:
    """Three tasks, every subset imported at full size with validation and test losses."""
    csv = tmp_path / "r.csv"
    csv.write_text("tasks,size,cost,stage,split,task,loss\n" + "".join(
        f"{tasks},full,1.0,full,{split},{task},{loss + (0.01 if split == 'test' else 0)}\n"
        for tasks, loss in LOSSES.items() for split in ("val", "test") for task in tasks.split("+")))
    run_ok("study", "create", "s", "--tasks", "a,b,c", "--sizes", "full=1.0")
    run_ok("import", "s", str(csv))
    return "s"


def _document(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_report_takes_estimator_as_sweep_does(tmp_path):
    study = _study(tmp_path)
    run_ok("report", study, "--out", str(tmp_path / "one"), "--budgets", "1,2", "--estimator", "exact", "--format", "json")
    assert _document(tmp_path / "one")["estimators"] == ["exact"]
