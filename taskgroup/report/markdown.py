"""The Markdown report: the same sections, with figures as PNG files next to it."""

from __future__ import annotations

from pathlib import Path

from taskgroup.report.document import Report, Table
from taskgroup.report.formats import REPORT_FORMATS, ReportWriter, format_value

FILE_NAME = "report.md"
FIGURE_DIR = "figures"


@REPORT_FORMATS.register("md")
class MarkdownWriter(ReportWriter):
    """report.md plus figures/NAME.png, for a repository or a wiki page."""

    name = "md"
    entries = (FILE_NAME, f"{FIGURE_DIR}/*.png")

    def write(self, report: Report, out_dir: Path) -> list[Path]:
        figure_dir = out_dir / FIGURE_DIR
        figure_dir.mkdir()
        written = []
        for figure in report.figures():
            path = figure_dir / f"{figure.name}.png"
            path.write_bytes(figure.png)
            written.append(path)
        path = out_dir / FILE_NAME
        path.write_text(render_markdown(report), encoding="utf-8")
        return [path, *written]


def render_markdown(report: Report) -> str:
    lines = [f"# {report.title}", "", report.summary, ""]
    if report.notes:
        lines += [*(f"- Note: {note}" for note in report.notes), ""]
    for section in report.sections:
        lines += [f"## {section.title}", "", f'<a id="{section.id}"></a>', "", section.text, ""]
        for figure in section.figures:
            lines += [f"![{figure.title}]({FIGURE_DIR}/{figure.name}.png)", ""]
        for table in section.tables:
            lines += [f"**{table.title}**", "", *_table(table), ""]
    return "\n".join(lines)


def _table(table: Table) -> list[str]:
    columns = [str(column) for column in table.frame.columns]
    if table.frame.empty:
        return ["(no rows)"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    for row in table.frame.itertuples(index=False):
        lines.append("| " + " | ".join(format_value(value).replace("|", "\\|") for value in row) + " |")
    return lines
