"""The report as data: sections of tables and figures, rendered alike by every output format.

Every format walks the same `Report`, so the HTML, the Markdown, the CSV files and the JSON
document cannot disagree about what a section contains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Table:
    """A titled table; `name` is its file stem (CSV) and its key in the JSON document."""

    name: str
    title: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class Figure:
    """A titled PNG image; `name` is its file stem in the Markdown output."""

    name: str
    title: str
    png: bytes


@dataclass(frozen=True)
class Section:
    """One part of the report: an anchor id, a heading, a paragraph, then figures and tables."""

    id: str
    title: str
    text: str
    figures: tuple[Figure, ...] = ()
    tables: tuple[Table, ...] = ()


@dataclass(frozen=True)
class Report:
    """A study's whole report; `document` carries the raw inputs (e.g. select objects) for the JSON output."""

    study: str
    title: str
    summary: str
    sections: tuple[Section, ...]
    document: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """What the report leaves out and why (a budget no network fits, an estimator with nothing to
    estimate from): the team reading the files must see it, not only whoever ran the command."""

    def section(self, section_id: str) -> Section:
        """The section with this id (KeyError if absent: a bug in the builder, not user input)."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]

    def figures(self) -> list[Figure]:
        return [figure for section in self.sections for figure in section.figures]
