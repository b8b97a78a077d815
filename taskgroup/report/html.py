"""The self-contained HTML report: inline CSS, figures as base64 PNG data URIs, no scripts, no network."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

from taskgroup.report.document import Figure, Report, Section, Table
from taskgroup.report.formats import REPORT_FORMATS, ReportWriter, format_value

FILE_NAME = "report.html"
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1150px;
       color: #222; background: #fff; line-height: 1.45; padding: 0 1rem; }
h1 { border-bottom: 3px solid #1f4e79; padding-bottom: .3rem; }
h2 { color: #1f4e79; margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
nav ul { columns: 2; }
ul.notes { color: #7a4b00; }
* { box-sizing: border-box; }
table { border-collapse: collapse; margin: .8rem 0 1.5rem; font-size: .85rem; display: block; max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #d0d0d0; padding: .25rem .5rem; text-align: left; }
th { background: #eef3f8; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
"""


@REPORT_FORMATS.register("html")
class HtmlWriter(ReportWriter):
    """One HTML file a user can mail or open offline; every cell of a float keeps its exact value in data-value."""

    name = "html"
    entries = (FILE_NAME,)

    def write(self, report: Report, out_dir: Path) -> list[Path]:
        path = out_dir / FILE_NAME
        path.write_text(render_html(report), encoding="utf-8")
        return [path]


def render_html(report: Report) -> str:
    """The whole document as one string."""
    nav = "".join(f'<li><a href="#{s.id}">{_e(s.title)}</a></li>' for s in report.sections)
    body = "".join(_section(section) for section in report.sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_e(report.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{_e(report.title)}</h1>\n<p class=\"summary\">{_e(report.summary)}</p>\n{_notes(report.notes)}"
        f"<nav><ul>{nav}</ul></nav>\n{body}</body>\n</html>\n"
    )


def _notes(notes: tuple[str, ...]) -> str:
    items = "".join(f"<li>{_e(note)}</li>" for note in notes)
    return f'<ul class="notes">{items}</ul>\n' if notes else ""


def _section(section: Section) -> str:
    parts = [f'<section id="{section.id}">\n<h2>{_e(section.title)}</h2>\n<p>{_e(section.text)}</p>\n']
    parts += [_figure(figure) for figure in section.figures]
    parts += [_table(table) for table in section.tables]
    parts.append("</section>\n")
    return "".join(parts)


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (
        f'<figure id="figure-{figure.name}"><img alt="{_e(figure.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(figure.title)}</figcaption></figure>\n"
    )


def _table(table: Table) -> str:
    head = "".join(f"<th>{_e(str(column))}</th>" for column in table.frame.columns)
    rows = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>\n" for row in table.frame.itertuples(index=False))
    if table.frame.empty:
        rows = f'<tr><td colspan="{max(len(table.frame.columns), 1)}">(no rows)</td></tr>\n'
    return f'<table id="table-{table.name}">\n<caption>{_e(table.title)}</caption>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n'


def _cell(value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) or _is_numpy_number(value):
        number = float(value)  # type: ignore[arg-type]
        exact = "" if math.isnan(number) else repr(number)
        return f'<td class="number" data-value="{exact}">{_e(format_value(value))}</td>'
    if value is None or value is pd.NaT:
        return "<td></td>"
    return f"<td>{_e(format_value(value))}</td>"


def _is_numpy_number(value: object) -> bool:
    return hasattr(value, "dtype") and value.dtype.kind in "iuf"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
