"""Reports like the papers' tables: measured rows beside the published ones, in the terminal,
LaTeX, markdown, CSV and PNG plots. See :func:`write_report`."""

from __future__ import annotations

from omnibench.report.writer import suite_tables, write_report

__all__ = ["suite_tables", "write_report"]
