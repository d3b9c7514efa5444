"""Reports like the papers' tables: measured rows beside the published ones, in the terminal,
LaTeX, markdown, CSV and PNG plots. See :func:`write_report`.

The package itself loads nothing heavy: the CLI imports its labels at every start, while
:func:`write_report` and :func:`suite_tables` (pandas, matplotlib) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omnibench.report.writer import suite_tables, write_report

__all__ = ["suite_tables", "write_report"]


def __getattr__(name: str) -> Any:
    """:mod:`omnibench.report.writer`'s entry points, imported on first use."""
    if name not in __all__:
        raise AttributeError(f"module 'omnibench.report' has no attribute '{name}'")
    return getattr(importlib.import_module("omnibench.report.writer"), name)
