"""`write_report` leaves its folder holding one whole report: never half of a new one, never an old one's files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taskgroup.errors import InvalidInputError
from taskgroup.report import Report, Section, Table, write_report
from taskgroup.report.data_files import CsvWriter

REPORT = Report("s", "taskgroup report: s", "A summary.", (Section("one", "One", "Text.", tables=(
    Table("numbers", "Numbers", pd.DataFrame({"x": [1.0]})),)),))


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_a_format_that_fails_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_report(REPORT, out, ["html", "json"])
    before = {name: (out / name).read_text() for name in _files(out)}

    def fail(self, report, out_dir):
        raise OSError(28, "No space left on device", str(out_dir / "tables"))

    monkeypatch.setattr(CsvWriter, "write", fail)
    with pytest.raises(OSError, match="No space left"):
        write_report(REPORT, out, ["html", "md", "csv", "json"])  # html and md written before csv fails
    assert {name: (out / name).read_text() for name in _files(out)} == before
    assert [path.name for path in tmp_path.iterdir()] == ["out"]  # the half-written folder is gone


def test_files_are_named_under_the_folder_asked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = write_report(REPORT, "out", ["csv", "json"])
    assert written == {"csv": [Path("out/tables/numbers.csv")], "json": [Path("out/report.json")]}
    assert _files(tmp_path / "out") == ["report.json", "tables", "tables/numbers.csv"]


def test_the_folder_holding_the_current_one_is_not_replaced(tmp_path, monkeypatch):
    (tmp_path / "out" / "tables").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "out" / "tables")
    with pytest.raises(InvalidInputError, match="holds the current folder"):
        write_report(REPORT, tmp_path / "out", ["json"])
    assert _files(tmp_path / "out") == ["tables"]
