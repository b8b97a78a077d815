"""Output formats of a report, one registered writer class each (html, md, csv, json)."""

from __future__ import annotations

import math
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

    @abstractmethod
    def write(self, report: Report, out_dir: Path) -> list[Path]:
        """Write this format's files under `out_dir` (which exists)."""


REPORT_FORMATS: Registry[type[ReportWriter]] = Registry("report format")


def report_writers(out_dir: str | Path, formats: Iterable[str]) -> dict[str, ReportWriter]:
    """The writer of each requested format; refuses an unknown format or an `out_dir` that is a file,
    which callers check before the work of building a report."""
    names = list(dict.fromkeys(formats))
    if not names:
        raise InvalidInputError("no report format given (known: " + ", ".join(REPORT_FORMATS.names()) + ")")
    writers = {name: REPORT_FORMATS.get(name)() for name in names}
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {out} exists and is not a directory")
    return writers


def write_report(report: Report, out_dir: str | Path, formats: Iterable[str]) -> dict[str, list[Path]]:
    """Write each requested format under `out_dir` (created if needed); format name -> files written."""
    writers = report_writers(out_dir, formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {name: writer.write(report, out) for name, writer in writers.items()}


def format_value(value: Any) -> str:
    """How a table cell reads: floats to 6 significant digits, blanks for missing values."""
    if value is None:
        return ""
    if isinstance(value, float) or hasattr(value, "dtype") and value.dtype.kind == "f":
        value = float(value)
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)
