"""Read back what a user sees in the HTML report: section ids, tables (text and exact values), images."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Cell:
    text: str
    value: str | None  # the exact number in data-value, for numeric cells


@dataclass
class HtmlReport:
    section_ids: list[str] = field(default_factory=list)
    tables: dict[str, list[dict[str, Cell]]] = field(default_factory=dict)
    image_sources: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.report = HtmlReport()
        self.table: str | None = None
        self.header: list[str] = []
        self.row: list[Cell] | None = None
        self.cell: Cell | None = None
        self.in_header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.report.tags.add(tag)
        if tag == "section":
            self.report.section_ids.append(attributes.get("id") or "")
        elif tag == "table":
            self.table, self.header = attributes.get("id") or "", []
            self.report.tables[self.table] = []
        elif tag == "thead":
            self.in_header = True
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = Cell("", attributes.get("data-value"))
        elif tag == "img":
            self.report.image_sources.append(attributes.get("src") or "")
        elif tag in ("a", "link", "script", "iframe"):
            for key in ("href", "src"):
                if attributes.get(key):
                    self.report.links.append(attributes[key] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.in_header:
                self.header = [cell.text for cell in self.row]
            elif self.table is not None and len(self.row) == len(self.header):
                self.report.tables[self.table].append(dict(zip(self.header, self.row)))
            self.row = None
        elif tag == "thead":
            self.in_header = False
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.text += data


def read_html(text: str) -> HtmlReport:
    reader = _Reader()
    reader.feed(text)
    return reader.report
