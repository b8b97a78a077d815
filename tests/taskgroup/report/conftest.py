"""A report of the paper's published results, built once per test session through the real CLI."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REFERENCE
from tests.taskgroup.cli.helpers import run_ok
from tests.taskgroup.report.html_tables import read_html
from tests.taskgroup.report.reference import TASKS


@pytest.fixture(scope="session")
def reference_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference-report")
    db = f"sqlite:///{root / 'ref.sqlite'}"
    run_ok("study", "create", "paper", "--tasks", ",".join(TASKS), "--sizes", "full=1.0,half=0.5", "--db", db)
    run_ok("import", "paper", "--format", "standley", "--tasks", ",".join(TASKS),
           str(REFERENCE / "results.txt"), str(REFERENCE / "results_test.txt"),
           "--early", str(REFERENCE / "results_20.txt"), "--db", db)
    out = root / "report"
    written = json.loads(run_ok("report", "paper", "--out", str(out), "--budgets", "1:5:0.5", "--db", db, "--json").stdout)
    return {"out": out, "db": db, "files": written["files"], "html": read_html((out / "report.html").read_text())}


