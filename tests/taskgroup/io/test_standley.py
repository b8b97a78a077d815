"""Reading the paper's TSV layout: the published files, and clear errors for broken ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taskgroup.errors import InvalidInputError
from taskgroup.io.standley import read_standley

NAMES = ["segment", "depth", "normal", "keypoint", "edge"]


def write(path: Path, lines: list[str], newline: bool = True) -> Path:
    path.write_text("\n".join(lines) + ("\n" if newline else ""))
    return path


def two_task_lines() -> list[str]:
    # half singles; then a, b, a+b as full networks
    return ["0.5\t0.6", "0.4\t", "\t0.7", "0.3\t0.65"]


def test_reads_the_published_files(reference_dir: Path) -> None:
    results = read_standley(
        reference_dir / "results.txt", reference_dir / "results_test.txt", NAMES, early_path=reference_dir / "results_20.txt"
    )
    assert list(results.columns) == ["tasks", "size", "cost", "stage", "split", "task", "loss", "origin"]
    # 5 half singles + (5*1 + 10*2 + 10*3 + 5*4 + 1*5) full losses, per (stage, split)
    assert results.groupby(["stage", "split"]).size().to_dict() == {("early", "val"): 85, ("full", "test"): 85, ("full", "val"): 85}
    everything = results[(results["tasks"] == "depth+edge+keypoint+normal+segment") & (results["split"] == "val")]
    full_val = everything[everything["stage"] == "full"].set_index("task")["loss"].to_dict()
    assert full_val == {"segment": 0.07854, "depth": 0.1864, "normal": 0.1, "keypoint": 0.09814, "edge": 0.04453}
    half = results[(results["size"] == "half") & (results["stage"] == "full") & (results["split"] == "test")]
    assert half.set_index("task")["loss"].to_dict()["segment"] == 0.07742
    assert set(half["cost"]) == {0.5} and set(results.loc[results["size"] == "full", "cost"]) == {1.0}


def test_trailing_newline_is_optional(tmp_path: Path) -> None:
    with_newline = read_standley(write(tmp_path / "v", two_task_lines()), write(tmp_path / "t", two_task_lines()), ["b", "a"])
    without = read_standley(
        write(tmp_path / "v2", two_task_lines(), newline=False), write(tmp_path / "t2", two_task_lines(), newline=False), ["b", "a"]
    )
    assert _losses(with_newline).equals(_losses(without))
    blank_lines_after = tmp_path / "v3"
    blank_lines_after.write_text("\n".join(two_task_lines()) + "\n\n \n")  # as an editor may leave them
    assert _losses(read_standley(blank_lines_after, blank_lines_after, ["b", "a"])).equals(_losses(with_newline))
    # columns are named b, a: the pair network's canonical name is sorted
    assert set(with_newline["tasks"]) == {"a", "b", "a+b"}


def test_a_byte_order_mark_and_crlf_line_ends_read_like_the_plain_file(tmp_path: Path) -> None:
    plain = read_standley(write(tmp_path / "v", two_task_lines()), write(tmp_path / "t", two_task_lines()), ["b", "a"])
    windows = tmp_path / "w"
    windows.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(two_task_lines()).encode() + b"\r\n")
    assert _losses(read_standley(windows, windows, ["b", "a"])).equals(_losses(plain))


def _losses(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without its origin column, which names the file read."""
    return frame.drop(columns="origin")


def test_each_row_names_the_file_and_line_it_came_from(tmp_path: Path) -> None:
    """For errors found after reading, e.g. a line contradicting stored results."""
    val, test = write(tmp_path / "val.tsv", two_task_lines()), write(tmp_path / "test.tsv", two_task_lines())
    results = read_standley(val, test, ["b", "a"]).set_index(["split", "tasks", "size", "task"])["origin"]
    assert results["val", "a", "half", "a"] == f"{val}, line 1"
    assert results["test", "a+b", "full", "b"] == f"{test}, line 4"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["0.5\t0.6", "0.4\t", "\t0.7\t", "0.3\t0.65"], r"line 3: expected 2 tab-separated columns .* found 3"),
        (["0.5\t0.6", "0.4\t", "\tabc", "0.3\t0.65"], r"line 3: loss of b 'abc' is not a number"),
        (["0.5\t0.6", "0.4\t", "\tnan", "0.3\t0.65"], r"line 3: loss of b must be a finite number"),
        (["0.5\t0.6", "0.4\t", "\t0_7", "0.3\t0.65"], r"line 3: loss of b '0_7' is not a number"),
        (["0.5\t0.6", "0.4\t", "\t0.7"], r"expected 4 lines for 2 tasks .* found 3"),
        (["0.5\t0.6", "0.4\t", "\t0.7", "0.3\t0.65", "0.1\t0.1"], r"expected 4 lines for 2 tasks .* found 5"),
        (["0.5\t", "0.4\t", "\t0.7", "0.3\t0.65"], r"line 1: .*half-size.* empty: b"),
        (["0.5\t0.6", "0.4\t", "0.41\t", "0.3\t0.65"], r"line 3: network a already appeared on line 2"),
        (["0.5\t0.6", "0.4\t", "\t", "0.3\t0.65"], r"line 3: no column is filled"),
    ],
)
def test_malformed_files_name_the_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    val = write(tmp_path / "val.tsv", lines)
    test = write(tmp_path / "test.tsv", two_task_lines())
    with pytest.raises(InvalidInputError, match=message) as raised:
        read_standley(val, test, ["a", "b"])
    assert str(val) in str(raised.value)


def test_bad_task_names_and_missing_files(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok", two_task_lines())
    with pytest.raises(InvalidInputError, match="distinct"):
        read_standley(ok, ok, ["a", "a"])
    with pytest.raises(InvalidInputError, match="without '\\+'"):
        read_standley(ok, ok, ["a+b", "c"])
    with pytest.raises(InvalidInputError, match="no such file"):
        read_standley(tmp_path / "missing", ok, ["a", "b"])
