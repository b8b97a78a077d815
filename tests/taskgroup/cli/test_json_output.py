"""`--json` output is strict JSON that any parser reads: numbers that are not finite are `null`, and
totals show no noise from summing."""

from __future__ import annotations

import json
import math

import numpy as np

from taskgroup.cli.common import emit_json
from tests.taskgroup.cli.helpers import run_json, run_ok


def test_non_finite_numbers_and_numpy_scalars_become_plain_json(capsys):
    emit_json({"loss": math.nan, "budgets": [1.0, math.inf, np.float64(2.5)], "count": np.int64(3),
               "nested": ({"spread": -math.inf},), "name": "a"})
    text = capsys.readouterr().out
    parsed = json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))  # strict
    assert parsed == {"loss": None, "budgets": [1.0, None, 2.5], "count": 3, "nested": [{"spread": None}], "name": "a"}


def test_totals_of_select_sweep_and_report_carry_no_float_noise(tmp_path):
    """A sum of losses 0.1 + 0.2 was printed 0.30000000000000004 (the paper's totals as 0.45224000000000003)."""
    (tmp_path / "r.csv").write_text("tasks,size,cost,stage,split,task,loss\n" + "".join(
        f"{task},full,1,full,{split},{task},{loss}\n" for task, loss in (("a", 0.1), ("b", 0.2)) for split in ("val", "test")))
    run_ok("study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0")
    run_ok("import", "s", str(tmp_path / "r.csv"))
    printed = run_ok("select", "s", "--budget", "2", "--json").stdout
    assert '"val_loss": 0.3,' in printed and "0.30000000000000004" not in printed
    assert json.loads(printed)["test_loss"] == json.loads(printed)["predicted_loss"] == 0.3
    rows = run_json("sweep", "s", "--budgets", "2", "--random-samples", "5")
    assert {row["val_loss"] for row in rows if row.get("baseline") != "all-in-one"} == {0.3}  # no a+b network
    run_ok("report", "s", "--out", str(tmp_path / "report"), "--budgets", "2", "--format", "json")
    assert "0.30000000000000004" not in (tmp_path / "report" / "report.json").read_text()
    assert json.loads((tmp_path / "report" / "report.json").read_text())["selections"][0]["val_loss"] == 0.3
