"""Output formats of a report, one registered writer class each (html, md, csv, json)."""

from __future__ import annotations

import math
import os
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from taskgroup.errors import InvalidInputError
from taskgroup.registry import Registry
from taskgroup.report.document import Report


class ReportWriter(ABC):
    """Writes one format of a report into an output directory; returns the files it wrote."""

    name: ClassVar[str]
    entries: ClassVar[tuple[str, ...]]
    """What `write` puts in the output folder: file names, and folders as `NAME/*.SUFFIX` (holding
    only such files). A folder of nothing else is a previous report, which a new one replaces."""

    @abstractmethod
    def write(self, report: Report, out_dir: Path) -> list[Path]:
        """Write this format's files under `out_dir`: a new folder, shared with the other formats written."""


REPORT_FORMATS: Registry[type[ReportWriter]] = Registry("report format")


def report_writers(out_dir: str | Path, formats: Iterable[str]) -> dict[str, ReportWriter]:
    """The writer of each requested format; refuses an unknown format, or an `out_dir` that is a file
    or a folder holding anything but a previous report (whose files `write_report` deletes), which
    callers check before the work of building a report."""
    names = list(dict.fromkeys(formats))
    if not names:
        raise InvalidInputError("no report format given (known: " + ", ".join(REPORT_FORMATS.names()) + ")")
    writers = {name: REPORT_FORMATS.get(name)() for name in names}
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {out} exists and is not a directory")
    if out.is_dir():
        foreign = _foreign_entries(out)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise InvalidInputError(f"--out {out} holds files that are not a taskgroup report's ({shown}): name a new "
                                    "or empty folder (a previous report there is replaced)")
        if Path.cwd().resolve().is_relative_to(out.resolve()):
            raise InvalidInputError(f"--out {out} is or holds the current folder, which replacing the report there "
                                    "would delete: name another folder")
    return writers


def write_report(report: Report, out_dir: str | Path, formats: Iterable[str]) -> dict[str, list[Path]]:
    """Write each requested format into `out_dir`, which then holds this report and nothing else:
    the files are written into a new sibling folder that then takes the place of `out_dir` (a
    previous report there is deleted), so a failure leaves `out_dir` as it was. Format name -> files
    written (under `out_dir`)."""
    writers = report_writers(out_dir, formats)
    out = Path(out_dir)
    target = out.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(target, "partial")
    try:
        written = {name: [out / path.relative_to(staging) for path in writer.write(report, staging)]
                   for name, writer in writers.items()}
        _replace(target, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def _foreign_entries(folder: Path) -> list[str]:
    """The names in `folder` that no report format writes, sorted: none for an empty folder or a
    previous report."""
    entries = [entry for name in REPORT_FORMATS for entry in REPORT_FORMATS.get(name).entries]
    files = {entry for entry in entries if "/" not in entry}
    folders = {name: suffix for name, _, suffix in (entry.partition("/*") for entry in entries if "/" in entry)}
    foreign = []
    for path in folder.iterdir():
        if path.is_symlink():
            known = False
        elif path.name in folders and path.is_dir():
            known = all(child.is_file() and not child.is_symlink() and child.suffix == folders[path.name]
                        for child in path.iterdir())
        else:
            known = path.name in files and path.is_file()
        if not known:
            foreign.append(path.name)
    return sorted(foreign)


def _sibling(target: Path, label: str) -> Path:
    """A new hidden folder next to `target`, on the same file system so that renaming is atomic."""
    while True:
        path = target.with_name(f".{target.name}.{secrets.token_hex(4)}.{label}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _replace(target: Path, staging: Path) -> None:
    """Put `staging` where `target` is, deleting what was there; on failure `target` is restored."""
    if not target.exists():
        os.rename(staging, target)
        return
    previous = _sibling(target, "old")
    try:
        os.replace(target, previous)  # onto the empty folder just made
    except BaseException:
        previous.rmdir()
        raise
    try:
        os.rename(staging, target)
    except BaseException:
        os.replace(previous, target)
        raise
    shutil.rmtree(previous)


def format_value(value: Any) -> str:
    """How a table cell reads: floats to 6 significant digits, blanks for missing values."""
    if value is None:
        return ""
    if isinstance(value, float) or hasattr(value, "dtype") and value.dtype.kind == "f":
        value = float(value)
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)
