"""Reports of a study: loss against budget, groupings, affinity, serving losses, costs and compute.

`build_report` turns plain data into a `Report`; `write_report` writes it as HTML, Markdown, CSV
and JSON. Importing this package registers every built-in format.
"""

from taskgroup.report import data_files, html, markdown  # noqa: F401  (registration side effect)
from taskgroup.report.affinity import gain_matrix, mutual_gains, pair_gains
from taskgroup.report.build import BASELINE_COLUMNS, ReportInput, build_report
from taskgroup.report.compute import JOB_COLUMNS, compute_spent, distance_from_exact
from taskgroup.report.document import Figure, Report, Section, Table
from taskgroup.report.formats import REPORT_FORMATS, ReportWriter, report_writers, write_report

__all__ = [
    "BASELINE_COLUMNS", "JOB_COLUMNS", "REPORT_FORMATS", "Figure", "Report", "ReportInput", "ReportWriter", "Section",
    "Table", "build_report", "compute_spent", "distance_from_exact", "gain_matrix", "mutual_gains", "pair_gains",
    "report_writers", "write_report",
]
