"""`taskgroup export` / `import` carry the lookahead affinity matrix in a file beside the exchange CSV."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from db import open_store
from db.affinity import store_affinity
from db.models import Study
from tests.taskgroup.cli.helpers import run, run_error, run_json, run_ok

TASKS = ("normal", "depth", "edge")  # not alphabetical: files follow the study's order
SIZES = "half=xception:0.5@0.5"
SINGLES = "tasks,size,cost,stage,split,task,loss\n" + "".join(
    f"{task},half,0.5,full,{split},{task},{loss}\n"
    for task, loss in zip(TASKS, (0.8, 1.3, 0.4), strict=True) for split in ("val", "test")
)
RESULTS = SINGLES + "".join(
    f"depth+edge+normal,half,0.5,full,{split},{task},{loss}\n"
    for task, loss in zip(TASKS, (0.75, 1.4, 0.38), strict=True) for split in ("val", "test")
)
AFFINITY_HEADER = "size,source,target,affinity,measurements\n"


def _affinity_lines(values: dict[tuple[str, str], float] | None = None, measurements: int = 3) -> str:
    values = values or {}
    return "".join(f"half,{s},{t},{values.get((s, t), 0.01 if s == t else 0.002)},{measurements}\n"
                   for s in TASKS for t in TASKS)


GOOD_AFFINITY = AFFINITY_HEADER + _affinity_lines()


def _create(name: str = "s", *extra: str) -> None:
    run_ok("study", "create", name, "--tasks", ",".join(TASKS), "--sizes", SIZES, *extra)


def _export(tmp_path: Path, study: str = "s", *db: str) -> tuple[str, str | None]:
    """The exported results CSV and the affinity file beside it (None when none was written)."""
    out = tmp_path / "state" / f"{study}.csv"
    out.parent.mkdir(exist_ok=True)
    run_ok("export", study, str(out), "--force", *db)
    beside = out.with_name(f"{study}.affinity.csv")
    return out.read_text(), beside.read_text() if beside.exists() else None


def _write_pair(tmp_path: Path, results: str, affinity: str | None, name: str = "r") -> str:
    (tmp_path / f"{name}.csv").write_text(results)
    if affinity is not None:
        (tmp_path / f"{name}.affinity.csv").write_text(affinity)
    return str(tmp_path / f"{name}.csv")


def test_a_measured_matrix_survives_export_and_import_into_a_fresh_database(tmp_path, db_url):
    """The walkthrough: `affinity measure`, `export`, `import` elsewhere. Before, the copy had no matrix:
    `affinity show` failed and `select --estimator lookahead` refused; now both show what the original does."""
    _create("s", "--dataset", "synthetic", "--data-option", "images=24", "--data-option", "resolution=16",
            "--data-option", f"cache_dir={tmp_path / 'cache'}")
    run_ok("configure", "s", "--set", "max_epochs=1", "--set", "batch_size=8", "--set", "seed=1")
    run_ok("import", "s", _write_pair(tmp_path, SINGLES, None, "singles"))
    run_ok("affinity", "measure", "s", "--every", "2", "--device", "cpu")
    exported = tmp_path / "s.csv"
    assert "and its lookahead affinity matrix (size half) to" in " ".join(run_ok("export", "s", str(exported)).output.split())
    lines = (tmp_path / "s.affinity.csv").read_text().splitlines()
    assert lines[0] == AFFINITY_HEADER.strip()
    assert [tuple(line.split(",")[1:3]) for line in lines[1:]] == [(s, t) for s in TASKS for t in TASKS]

    db = ("--db", db_url)
    run_ok("study", "create", "s", "--tasks", ",".join(TASKS), "--sizes", SIZES, *db)
    summary = run_json("import", "s", str(exported), *db)
    assert summary["affinity"] == {"file": str(tmp_path / "s.affinity.csv"), "added": ["half"], "replaced": [],
                                   "unchanged": []}

    assert run_json("affinity", "show", "s", *db) == run_json("affinity", "show", "s")
    for budget in ("0.5", "1", "1.5"):
        assert (run_json("select", "s", "--budget", budget, "--estimator", "lookahead", *db)
                == run_json("select", "s", "--budget", budget, "--estimator", "lookahead"))
    for out, where in ((tmp_path / "original", ()), (tmp_path / "copy", db)):
        run_ok("report", "s", "--out", str(out), "--format", "csv", "--estimators", "lookahead", "--budgets", "0.5:1.5:0.5",
               *where)
    for table in ("lookahead_affinity_half.csv", "choices.csv"):
        assert (tmp_path / "copy" / "tables" / table).read_text() == (tmp_path / "original" / "tables" / table).read_text()
    # Exported again from the copy, both files are what the original wrote: values and measurement count kept.
    assert _export(tmp_path, "s", *db) == (exported.read_text(), (tmp_path / "s.affinity.csv").read_text())


def test_an_export_without_an_affinity_file_imports_as_before(tmp_path):
    _create()
    summary = run_json("import", "s", _write_pair(tmp_path, RESULTS, None))
    assert summary["results_added"] == 12 and summary["affinity"] is None
    assert _export(tmp_path)[1] is None  # a study without a matrix: no affinity file is written
    assert "has no affinity matrix" in run_error("affinity", "show", "s")


def test_reimporting_is_harmless_and_a_different_matrix_needs_replace(tmp_path):
    _create()
    path = _write_pair(tmp_path, RESULTS, GOOD_AFFINITY)
    assert run_json("import", "s", path)["affinity"]["added"] == ["half"]
    assert run_json("import", "s", path)["affinity"]["unchanged"] == ["half"]
    before = _export(tmp_path)

    changed = _write_pair(tmp_path, RESULTS, AFFINITY_HEADER + _affinity_lines({("depth", "edge"): -0.004}), "changed")
    message = "".join(run_error("import", "s", changed).split())  # the console folds the path anywhere
    assert (f"{tmp_path / 'changed.affinity.csv'},line7:theaffinitymatrixofsizehalfisstoredwiththeaffinityofdepth"
            "ontoedge0.002,theinputsays-0.004;use--replacetooverwrite") in message
    assert _export(tmp_path) == before
    assert run_json("import", "s", changed, "--replace")["affinity"]["replaced"] == ["half"]
    assert run_json("affinity", "show", "s")["affinity"]["half"]["depth"]["edge"] == -0.004
    output = "".join(run_ok("import", "s", changed).output.split())  # the console folds the path anywhere
    assert f"Lookaheadaffinitymatrixfrom{tmp_path / 'changed.affinity.csv'}:unchangedatsizehalf." in output


def _square(values: dict[tuple[str, str], str], measurements: dict[tuple[str, str], str] | None = None) -> str:
    measurements = measurements or {}
    return AFFINITY_HEADER + "".join(
        f"half,{s},{t},{values.get((s, t), '0.01')},{measurements.get((s, t), '3')}\n" for s in TASKS for t in TASKS)


BAD_AFFINITY = {
    "wrong header": ("size,source,target,value\n", "line 1: header must have the columns size,source,target,affinity,measurements"),
    "missing field": (AFFINITY_HEADER + "half,normal,normal,0.01\n", "line 2: expected 5 fields, got 4"),
    "non-numeric affinity": (_square({("normal", "depth"): "high"}), "line 3: affinity 'high' is not a number"),
    "nan affinity": (_square({("normal", "depth"): "nan"}), "line 3: affinity must be a finite number"),
    "zero measurements": (_square({}, {("normal", "normal"): "0"}), "line 2: measurements must be a positive whole number, got '0'"),
    "fractional measurements": (_square({}, {("normal", "normal"): "2.5"}), "measurements must be a positive whole number, got '2.5'"),
    "two measurement counts": (_square({}, {("edge", "edge"): "4"}), "line 10: measurements 4 of size half contradicts 3 on line 2"),
    "duplicate entry": (GOOD_AFFINITY + "half,normal,normal,0.01,3\n", "line 11: the affinity of normal onto normal (size half) is given again (first on line 2)"),
    "incomplete matrix": (GOOD_AFFINITY.replace("half,depth,edge,0.002,3\n", ""), "the matrix of size half lacks the affinity of depth onto edge"),
    "empty source": (GOOD_AFFINITY.replace("half,depth,edge,", "half,,edge,"), "line 7: source is empty"),
    "unknown task": (GOOD_AFFINITY + "".join(f"half,{s},zz,0.0,3\nhalf,zz,{s},0.0,3\n" for s in TASKS) + "half,zz,zz,0.01,3\n",
                     "line 11: unknown task 'zz' in the affinity matrix (study tasks: depth, edge, normal)"),
    # one line with a mistyped task: before, the matrix was said to lack the affinity of normal onto zz
    "unknown task on one line": (GOOD_AFFINITY + "half,edge,zz,0.1,3\n", "line 11: unknown task 'zz' in the affinity matrix"),
    "unknown size": (GOOD_AFFINITY.replace("half,", "tiny,"), "line 2: unknown size 'tiny' in the affinity matrix (study sizes: half)"),
    "unknown size on one line": (GOOD_AFFINITY + "tiny,edge,edge,0.1,3\n", "line 11: unknown size 'tiny' in the affinity matrix"),
    "empty": ("", "empty file"),
    "header only": (AFFINITY_HEADER, "no affinity rows after the header"),
}


@pytest.mark.parametrize("case", sorted(BAD_AFFINITY))
def test_a_bad_affinity_file_is_refused_and_nothing_is_written(tmp_path, case):
    _create()
    run_ok("import", "s", _write_pair(tmp_path, SINGLES, GOOD_AFFINITY, "good"))
    before = _export(tmp_path)
    text, expected = BAD_AFFINITY[case]
    message = " ".join(run_error("import", "s", _write_pair(tmp_path, RESULTS, text)).split())
    assert str(tmp_path / "r.affinity.csv") in message.replace(" ", "") and expected in message
    assert _export(tmp_path) == before  # neither the good results file beside it nor the matrix were imported


def test_export_to_standard_output_says_the_matrix_is_not_in_it(tmp_path):
    _create()
    run_ok("import", "s", _write_pair(tmp_path, RESULTS, GOOD_AFFINITY))
    result = run("export", "s", "-")
    assert result.exit_code == 0
    assert result.stdout == _export(tmp_path)[0]  # the exchange CSV only, as other tools expect
    assert "lookahead affinity matrix is not part of the exchange CSV" in " ".join(result.stderr.split())


def test_export_into_a_fifo_writes_only_the_csv_and_says_the_matrix_is_not_in_it(tmp_path):
    """As with '-': no FILE.affinity.csv is made beside a stream (for /dev/fd/3 it would be in /dev/fd)."""
    _create()
    run_ok("import", "s", _write_pair(tmp_path, RESULTS, GOOD_AFFINITY))
    fifo = tmp_path / "out" / "pipe"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    read: list[str] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_text()), daemon=True)
    reader.start()
    result = run("export", "s", str(fifo))
    reader.join(timeout=30)
    assert result.exit_code == 0 and read == [_export(tmp_path)[0]]
    assert "lookahead affinity matrix is not part of the exchange CSV" in " ".join(result.stderr.split())
    assert list(fifo.parent.iterdir()) == [fifo]


def test_exporting_a_study_without_a_matrix_removes_an_earlier_exports_affinity_file(tmp_path):
    """Else `import` would give the second study the first one's matrix."""
    _create("measured")
    _create("plain")
    run_ok("import", "measured", _write_pair(tmp_path, RESULTS, GOOD_AFFINITY))
    run_ok("import", "plain", _write_pair(tmp_path, SINGLES, None, "singles"))
    out = tmp_path / "out.csv"
    run_ok("export", "measured", str(out))
    assert (tmp_path / "out.affinity.csv").exists()
    result = run_ok("export", "plain", str(out), "--force")
    assert not (tmp_path / "out.affinity.csv").exists()
    assert f"removed {tmp_path / 'out.affinity.csv'}" in " ".join(result.stderr.split())
    _create("copy")
    assert run_json("import", "copy", str(out))["affinity"] is None


def test_an_affinity_file_in_another_order_imports_to_the_same_matrix(tmp_path):
    """Lines and columns in any order (a spreadsheet's sort) import as the same matrix."""
    _create()
    with open_store(None).session() as session:
        rows = [{"size": "half", "source": s, "target": t, "affinity": 0.01 * (i + 1) + 0.001 * j}
                for i, s in enumerate(TASKS) for j, t in enumerate(TASKS)]
        store_affinity(session, Study.find_or_raise_by_name(session, "s"), rows, measurements=5)
    run_ok("import", "s", _write_pair(tmp_path, RESULTS, None))
    _, affinity = _export(tmp_path)
    assert affinity is not None
    header, *lines = affinity.splitlines()
    shuffled = "measurements,affinity,target,source,size\n" + "".join(
        ",".join(reversed(line.split(","))) + "\n" for line in sorted(lines))
    _create("copy")
    assert run_json("import", "copy", _write_pair(tmp_path, RESULTS, shuffled, "shuffled"))["affinity"]["added"] == ["half"]
    assert run_json("affinity", "show", "copy")["affinity"] == run_json("affinity", "show", "s")["affinity"]
    assert _export(tmp_path, "copy")[1] == affinity
