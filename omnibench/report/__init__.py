"""Reports like the papers' tables: measured rows beside the published ones, in the terminal,
LaTeX, markdown, CSV and PNG plots. See :func:`write_report`.

The package itself loads nothing heavy: the CLI imports its labels at every start, while
:func:`write_report` and :func:`suite_tables` (pandas, matplotlib) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnibench.registry import lazy_exports

if TYPE_CHECKING:
    from omnibench.report.writer import suite_tables, write_report

__all__ = ["suite_tables", "write_report"]


# omnibench.report.writer's entry points, imported on first use
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "writer"))
