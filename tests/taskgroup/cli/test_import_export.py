"""`taskgroup import` / `export`: the exchange CSV and the paper's TSV files, and bad input."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.taskgroup.cli.helpers import run_error, run_json, run_ok

HEADER = "tasks,size,cost,stage,split,task,loss\n"
GOOD = HEADER + (
    "a,full,1.0,full,val,a,0.5\n"
    "a,full,1.0,full,test,a,0.55\n"
    "b,full,1.0,full,val,b,0.25\n"
    "a+b,full,1.0,full,val,a,0.4\n"
    "a+b,full,1.0,full,val,b,0.3\n"
    "a+b,full,1.0,early,val,b,0.35\n"
    "a,half,0.5,full,val,a,0.6\n"
)


@pytest.fixture
def study():
    run_ok("study", "create", "s", "--tasks", "a,b,c")
    return "s"


def _write(tmp_path, text, name="r.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_import_then_export_round_trips(tmp_path, study):
    summary = run_json("import", study, _write(tmp_path, GOOD))
    assert summary["results_added"] == 7 and summary["candidates_added"] == 4
    out = tmp_path / "out.csv"
    run_ok("export", study, str(out))
    lines = out.read_text().splitlines()
    assert lines[0] == HEADER.strip()
    assert sorted(lines[1:]) == sorted(GOOD.strip().splitlines()[1:])
    run_ok("study", "create", "copy", "--tasks", "a,b,c")
    run_ok("import", "copy", str(out))
    out2 = tmp_path / "out2.csv"
    run_ok("export", "copy", str(out2))
    assert out2.read_text() == out.read_text()


def test_a_spreadsheets_csv_with_byte_order_mark_and_crlf_imports_like_the_plain_file(tmp_path, study):
    """What Excel writes as "CSV UTF-8": a byte-order mark, then lines ending in CR LF."""
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert run_json("import", study, str(path))["results_added"] == 7
    run_ok("study", "create", "plain", "--tasks", "a,b,c")
    run_ok("import", "plain", _write(tmp_path, GOOD))
    assert _export(tmp_path, study) == _export(tmp_path, "plain")


def test_reimporting_the_same_file_is_harmless(tmp_path, study):
    path = _write(tmp_path, GOOD)
    run_ok("import", study, path)
    again = run_json("import", study, path)
    assert again["results_added"] == 0 and again["results_unchanged"] == 7


def test_an_export_saved_again_by_a_spreadsheet_imports_as_unchanged(tmp_path, study):
    """A spreadsheet keeps 15 significant digits: 4.9669060707092285 came back as 4.96690607070923 and
    was refused as a contradiction; a real difference (in the 11th digit) still is."""
    exact = HEADER + "a,full,1.0000000000000002,full,val,a,4.9669060707092285\n"
    run_ok("import", study, _write(tmp_path, exact))
    saved = run_json("import", study, _write(tmp_path, HEADER + "a,full,1,full,val,a,4.96690607070923\n", "saved.csv"))
    assert (saved["results_unchanged"], saved["results_replaced"]) == (1, 0)
    assert "a,full,1.0000000000000002,full,val,a,4.9669060707092285" in _export(tmp_path, study)  # the stored digits kept
    edited = _write(tmp_path, HEADER + "a,full,1,full,val,a,4.9669060708\n", "edited.csv")
    assert "is stored as 4.9669060707092285, the input says 4.9669060708" in run_error("import", study, edited)


def _export(tmp_path, study):
    out = tmp_path / "state.csv"
    run_ok("export", study, str(out), "--force")
    return out.read_text()


BAD_FILES = {
    "wrong header": ("tasks,size,cost\n", "header"),
    "missing field": (HEADER + "a,full,1.0,full,val,a\n", "line 2"),
    "non-numeric loss": (HEADER + "a,full,1.0,full,val,a,low\n", "line 2: loss 'low' is not a number"),
    "nan loss": (HEADER + "a,full,1.0,full,val,a,nan\n", "line 2: loss must be a finite"),
    "zero cost": (HEADER + "a,full,0,full,val,a,0.1\n", "line 2: cost must be positive"),
    "negative cost": (HEADER + "a,full,1.0,full,val,a,0.1\na,full,-1,full,val,a,0.1\n", "line 3: cost must be positive"),
    "bad stage": (HEADER + "a,full,1.0,final,val,a,0.1\n", "stage must be one of"),
    "bad split": (HEADER + "a,full,1.0,full,train,a,0.1\n", "split must be one of"),
    "task not in candidate": (HEADER + "a,full,1.0,full,val,b,0.1\n", "is not one of the candidate's tasks"),
    "conflicting duplicates": (HEADER + "a,full,1.0,full,val,a,0.1\na,full,1.0,full,val,a,0.2\n", "line 3"),
    "unknown task": (HEADER + "a,full,1.0,full,val,a,0.5\na+zz,full,1.0,full,val,zz,0.1\n",
                     "r.csv, line 3: unknown task 'zz' in candidate a+zz (study tasks: a, b, c)"),
    "unknown size": (HEADER + "a,full,1.0,full,val,a,0.5\n\na,tiny,1.0,full,val,a,0.1\n",  # a blank line counts
                     "r.csv, line 4: unknown size 'tiny' (study sizes: full, half)"),
    "empty": ("", "empty file"),
    "header only": (HEADER, "no result rows"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_refused_and_nothing_is_written(tmp_path, study, case):
    run_ok("import", study, _write(tmp_path, GOOD, "good.csv"))
    before = _export(tmp_path, study)
    text, expected = BAD_FILES[case]
    message = run_error("import", study, _write(tmp_path, text))
    assert expected in message
    assert _export(tmp_path, study) == before


def test_binary_file_is_refused(tmp_path, study):
    path = tmp_path / "r.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    assert "not a UTF-8 text file" in run_error("import", study, str(path))


def test_missing_file_names_the_path(tmp_path, study):
    assert "no such file" in run_error("import", study, str(tmp_path / "nope.csv"))


def test_conflict_with_stored_results_needs_replace(tmp_path, study):
    """The message names the file and line, as every other bad line's does (before: neither)."""
    run_ok("import", study, _write(tmp_path, GOOD))
    changed = _write(tmp_path, HEADER + "c,full,1.0,full,val,c,0.1\na,full,1.0,full,val,a,0.45\n", "changed.csv")
    before = _export(tmp_path, study)
    message = "".join(run_error("import", study, changed).split())  # the console folds the path anywhere
    assert (f"{changed},line3:alossofa(full,full,val)isstoredas0.5,theinputsays0.45;use--replacetooverwrite"
            in message)
    recosted = _write(tmp_path, HEADER + "b,full,2.0,full,val,b,0.25\n", "recosted.csv")
    assert (f"{recosted},line2:candidateb(full)isstoredwithcost1.0,theinputsays2.0"
            in "".join(run_error("import", study, recosted).split()))
    assert _export(tmp_path, study) == before
    assert run_json("import", study, changed, "--replace")["results_replaced"] == 1
    assert "a,full,1.0,full,val,a,0.45" in _export(tmp_path, study)


def test_a_standley_line_that_contradicts_stored_results_is_named(tmp_path):
    run_ok("study", "create", "p", "--tasks", "a,b")
    val = _write(tmp_path, "0.5\t0.6\n0.4\t\n\t0.7\n0.3\t0.65\n", "val.tsv")
    test = _write(tmp_path, "0.5\t0.6\n0.4\t\n\t0.7\n0.3\t0.65\n", "test.tsv")
    run_ok("import", "p", "--format", "standley", val, test, "--tasks", "a,b")
    changed = _write(tmp_path, "0.5\t0.6\n0.4\t\n\t0.7\n0.3\t0.66\n", "changed.tsv")
    message = "".join(run_error("import", "p", "--format", "standley", val, changed, "--tasks", "a,b").split())
    assert f"{changed},line4:blossofa+b(full,full,test)isstoredas0.65,theinputsays0.66" in message


def test_import_into_unknown_study_says_how_to_make_one(tmp_path):
    message = run_error("import", "nope", _write(tmp_path, GOOD))
    assert "no study named 'nope'" in message and "`taskgroup study create` makes one" in message


def test_one_result_is_counted_in_the_singular(tmp_path, study):
    output = " ".join(run_ok("import", study, _write(tmp_path, HEADER + "a,full,1.0,full,val,a,0.5\n")).output.split())
    assert "1 result added" in output and "1 new candidate." in output
    assert f"Wrote 1 result of {study}" in " ".join(run_ok("export", study, str(tmp_path / "out.csv")).output.split())


def test_export_of_a_study_without_results(tmp_path, study):
    assert "no results" in run_error("export", study, str(tmp_path / "x.csv"))


def test_files_that_cannot_be_written_are_one_line_errors(tmp_path):
    study = "ab"
    run_ok("study", "create", study, "--tasks", "a,b")
    run_ok("import", study, _write(tmp_path, GOOD))
    missing = tmp_path / "no" / "such"
    assert f"cannot write {missing / 'x.csv'}: folder {missing} does not exist" in run_error(
        "export", study, str(missing / "x.csv"))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n")
    # the system's reason in one line, no traceback
    assert str(blocker) in run_error("report", study, "--out", str(blocker / "report"))
    assert str(blocker) in run_error("data", "generate", "--out", str(blocker / "data"), "--images", "10")
    assert blocker.read_text() == "a file, not a folder\n"


def test_export_to_a_folder_is_refused_and_writes_nothing(tmp_path, study):
    run_ok("import", study, _write(tmp_path, GOOD))
    folder = tmp_path / "reports"
    folder.mkdir()
    assert f"cannot write {folder}: it is a folder" in run_error("export", study, str(folder))
    assert list(folder.iterdir()) == [] and not list(tmp_path.glob(".*.tmp"))


def test_export_refuses_to_overwrite_a_file_unless_forced(tmp_path, study):
    """An export silently replaced whatever FILE (and FILE.affinity.csv) held."""
    run_ok("import", study, _write(tmp_path, GOOD))
    out = tmp_path / "mine.csv"
    out.write_text("my own notes\n")
    refused = " ".join(run_error("export", study, str(out)).split())
    assert refused == f"error: {out} already exists; add --force to replace it"
    assert out.read_text() == "my own notes\n" and not list(tmp_path.glob(".*.tmp"))
    beside = tmp_path / "mine.affinity.csv"
    beside.write_text("an old matrix\n")
    refused = " ".join(run_error("export", study, str(out)).split())
    assert refused == (f"error: {out} and {beside} already exist; add --force to replace {out} and remove {beside} "
                       f"({study} has no lookahead affinity matrix, and `taskgroup import` would read that file with {out})")
    assert beside.read_text() == "an old matrix\n"
    run_ok("export", study, str(out), "--force")
    assert out.read_text().splitlines()[0] == HEADER.strip() and not beside.exists()  # the study has no matrix
    assert run_ok("export", study, "-").stdout.splitlines()[0] == HEADER.strip()  # standard output: nothing to replace


def test_an_old_affinity_file_alone_is_refused_saying_force_removes_it(tmp_path, study):
    """It said `add --force to replace it`, but the study has no matrix to replace it with: --force deletes it."""
    run_ok("import", study, _write(tmp_path, GOOD))
    out, beside = tmp_path / "mine.csv", tmp_path / "mine.affinity.csv"
    beside.write_text("an old matrix\n")
    refused = " ".join(run_error("export", study, str(out)).split())
    assert refused == (f"error: {beside} already exists; add --force to remove it ({study} has no lookahead affinity "
                       f"matrix, and `taskgroup import` would read that file with {out})")
    assert beside.read_text() == "an old matrix\n" and not out.exists()


def _read_in_thread(path: Path) -> tuple[threading.Thread, list[str]]:
    """A reader of the FIFO `path`, as `cat path` would be: the export's open() waits for it."""
    read: list[str] = []
    thread = threading.Thread(target=lambda: read.append(path.read_text()), daemon=True)
    thread.start()
    return thread, read


def test_export_into_a_fifo_writes_it_in_place_with_or_without_force(tmp_path, study):
    """The FIFO was refused as an existing file, and with --force a temporary file was renamed over it (as root
    that replaced /dev/stdout itself); now the CSV goes through it and it stays a FIFO."""
    run_ok("import", study, _write(tmp_path, GOOD))
    fifo = tmp_path / "out" / "pipe"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    for force in ((), ("--force",)):
        thread, read = _read_in_thread(fifo)
        result = run_ok("export", study, str(fifo), *force)
        thread.join(timeout=30)
        assert read[0].splitlines()[0] == HEADER.strip() and len(read[0].splitlines()) == 1 + 7
        assert result.stdout == ""  # standard output may be that stream: nothing else is written to it
        assert stat.S_ISFIFO(fifo.stat().st_mode) and list(fifo.parent.iterdir()) == [fifo]  # no temporary file either


def test_export_into_a_pipes_dev_fd_path_writes_the_pipe(tmp_path, study):
    """`taskgroup export s /dev/fd/3 3>&1 | gzip` or `>(gzip > x)`: the pipe gets the CSV, no --force needed."""
    run_ok("import", study, _write(tmp_path, GOOD))
    reader, writer = os.pipe()
    try:
        run_ok("export", study, f"/dev/fd/{writer}")
    finally:
        os.close(writer)
    with os.fdopen(reader) as pipe:
        assert pipe.read().splitlines()[0] == HEADER.strip()


def test_export_through_a_symlink_replaces_its_file_and_keeps_the_link(tmp_path, study):
    """As /dev/stdout is a link when standard output is redirected to a file: the link must not be replaced."""
    run_ok("import", study, _write(tmp_path, GOOD))
    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    real.write_text("old\n")
    link.symlink_to(real)
    assert f"{link} already exists; add --force" in run_error("export", study, str(link))
    run_ok("export", study, str(link), "--force")
    assert link.is_symlink() and real.read_text().splitlines()[0] == HEADER.strip()
    assert not list(tmp_path.glob(".*.tmp"))


def _taskgroup(*args: str, **popen) -> subprocess.Popen:
    """The installed command in its own process: standard output is a real file or pipe, as in a shell."""
    command = Path(sys.executable).with_name("taskgroup")
    return subprocess.Popen([str(command), *args], stderr=subprocess.PIPE, text=True, **popen)


def test_export_to_standard_output_appends_to_a_redirected_file(tmp_path, study):
    """`{ echo header; taskgroup export s -; } > file` keeps the header: the output is not reopened and truncated."""
    run_ok("import", study, _write(tmp_path, GOOD))
    out = tmp_path / "both.csv"
    out.write_text("# before\n")
    with open(out, "a") as handle:
        assert _taskgroup("export", study, "-", stdout=handle).wait() == 0
    lines = out.read_text().splitlines()
    assert lines[:2] == ["# before", HEADER.strip()] and len(lines) == 2 + 7


def test_a_reader_that_stops_early_gets_no_error_message(tmp_path, study):
    """`taskgroup export s - | head -1`: the closed pipe ends the command quietly, without `error:` or a traceback."""
    run_ok("import", study, _write(tmp_path, GOOD))
    process = _taskgroup("export", study, "-", stdout=subprocess.PIPE)
    process.stdout.close()  # before the command has started up, so its first write finds the pipe closed
    assert process.wait() == 1 and process.stderr.read() == ""


def test_costs_other_than_the_declared_ones_are_noted_and_priced_as_imported(tmp_path):
    run_ok("study", "create", "dear", "--tasks", "a,b", "--sizes", "full=2.0,half=0.5")
    result = run_ok("import", "dear", _write(tmp_path, GOOD.replace("b,full,1.0,full,val,b,0.25", "b,full,2.0,full,val,b,0.25")))
    note = " ".join(result.stderr.split())
    assert "2 candidates in the file have a cost other than their size's declared cost (e.g. a@full: 1, declared 2)" in note
    assert run_json("select", "dear", "--budget", "1", "--unit", "declared")["cost"] == 1.0  # a+b as imported
    run_ok("study", "create", "same", "--tasks", "a,b", "--sizes", "full=1.0,half=0.5")
    assert "note:" not in run_ok("import", "same", _write(tmp_path, GOOD)).stderr
