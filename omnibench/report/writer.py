"""Build a report from suites and the run store, then print it and / or write its files.

Reads only suite definitions and run records; it never runs anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnibench.report.build import build_tables
from omnibench.report.records import collect_runs
from omnibench.report.stats import BootstrapSettings
from omnibench.report.tables import ReportTable

if TYPE_CHECKING:
    from rich.console import Console

    from omnibench.store.run_store import RunStore


def _loaded(suite: Any) -> Any:
    """``suite`` as an ``omnibench.suite.load.Suite`` (given as one, or its name / path)."""
    if isinstance(suite, (str, Path)):
        from omnibench.suite.load import load_suite  # noqa: PLC0415

        return load_suite(str(suite))
    return suite


def suite_tables(
    suite: Any, store: RunStore, bootstrap: BootstrapSettings | None = None
) -> list[ReportTable]:
    """The tables one suite feeds (``suite``: an ``omnibench.suite.load.Suite`` or its name /
    path); ``bootstrap``: how the intervals of the Δ-to-reference rows are drawn."""
    suite = _loaded(suite)
    runs = collect_runs(suite.name, suite.specs, store)
    tables = build_tables(suite.table, runs, bootstrap)
    counts = {len(record.get("classes") or ()) for record in runs.records}
    shared = (
        counts.pop() if len(counts) == 1 else 0
    )  # the chance level only when every run has the same classes
    for table in tables:
        table.classes = shared or None
    _label_limited(tables, sorted({spec.limit for spec in suite.specs if spec.limit is not None}))
    return tables


def _label_limited(tables: list[ReportTable], limits: list[int]) -> None:
    """Smoke runs (``--limit``) say so in every table's title and first note."""
    if not limits:
        return
    shown = "/".join(map(str, limits))
    for table in tables:
        table.title = f"{table.title} [limit {shown}]"
        table.notes.insert(
            0,
            f"Limited runs (--limit {shown}): at most {shown} videos per class of every split; "
            "smoke runs, not comparable with published numbers.",
        )


def write_report(
    suites: Sequence[Any],
    store: RunStore,
    *,
    latex: Path | None = None,
    markdown: Path | None = None,
    csv_dir: Path | None = None,
    plots_dir: Path | None = None,
    curves_dir: Path | None = None,
    console: Console | None = None,
    bootstrap: BootstrapSettings | None = None,
) -> tuple[list[ReportTable], list[Path]]:
    """Print the suites' tables to ``console`` (when given) and write the requested files.

    Returns the tables and the files written: one LaTeX document, one markdown document,
    a CSV per table under ``csv_dir``, a PNG per plotted table under ``plots_dir`` and two per
    table with training curves (loss, LR) under ``curves_dir``.
    """
    from omnibench.atomic import atomic_write_text  # noqa: PLC0415
    from omnibench.report import latex as latex_module  # noqa: PLC0415
    from omnibench.report import render  # noqa: PLC0415

    per_suite = [(suite, suite_tables(suite, store, bootstrap)) for suite in map(_loaded, suites)]
    tables = [table for _, feeds in per_suite for table in feeds]
    if console is not None:
        render.print_tables(tables, console)
    written: list[Path] = []
    if latex is not None:
        atomic_write_text(Path(latex), latex_module.document(tables))
        written.append(Path(latex))
    if markdown is not None:
        atomic_write_text(Path(markdown), render.markdown(tables))
        written.append(Path(markdown))
    if csv_dir is not None:
        written += render.write_csv(tables, Path(csv_dir))
    if plots_dir is not None:
        # matplotlib only when plotting
        from omnibench.report.plots import write_plots  # noqa: PLC0415

        written += write_plots(tables, Path(plots_dir))
    if curves_dir is not None:
        from omnibench.report.curve_plots import write_curves  # noqa: PLC0415
        from omnibench.report.curves import table_curves  # noqa: PLC0415

        curves = [table_curves(suite, t, store) for suite, feeds in per_suite for t in feeds]
        written += write_curves(curves, Path(curves_dir))
    return tables, written
