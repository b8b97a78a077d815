"""The machine-readable outputs: one CSV per table, and one JSON document with everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from taskgroup.report.document import Report
from taskgroup.report.formats import REPORT_FORMATS, ReportWriter
from taskgroup.report.markdown import FIGURE_DIR

TABLE_DIR = "tables"
JSON_NAME = "report.json"


@REPORT_FORMATS.register("csv")
class CsvWriter(ReportWriter):
    """tables/NAME.csv for each table, full precision, for spreadsheets and scripts."""

    name = "csv"
    entries = (f"{TABLE_DIR}/*.csv",)

    def write(self, report: Report, out_dir: Path) -> list[Path]:
        table_dir = out_dir / TABLE_DIR
        table_dir.mkdir()
        written = []
        for table in report.tables():
            path = table_dir / f"{table.name}.csv"
            table.frame.to_csv(path, index=False)
            written.append(path)
        return written


@REPORT_FORMATS.register("json")
class JsonWriter(ReportWriter):
    """report.json: the select objects, and every section's tables as lists of records (missing -> null)."""

    name = "json"
    entries = (JSON_NAME,)

    def write(self, report: Report, out_dir: Path) -> list[Path]:
        path = out_dir / JSON_NAME
        path.write_text(json.dumps(report_document(report), indent=2) + "\n", encoding="utf-8")
        return [path]


def report_document(report: Report) -> dict[str, Any]:
    """The JSON document: the builder's raw inputs plus each section's text, tables and figure files."""
    return {
        **report.document,
        "title": report.title,
        "summary": report.summary,
        "notes": list(report.notes),
        "sections": [
            {
                "id": section.id,
                "title": section.title,
                "text": section.text,
                "figures": [f"{FIGURE_DIR}/{figure.name}.png" for figure in section.figures],
                "tables": {table.name: _records(table.frame) for table in section.tables},
            }
            for section in report.sections
        ],
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON objects, every float exact (as in the CSV files): pandas' `to_json` keeps 15 decimal
    places, not 15 digits, and rounded small affinities to 9 digits or to 0. Missing values are null."""
    return [{str(column): _plain(value) for column, value in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or (not isinstance(value, (str, list, tuple, dict)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value
