"""Building a suite's report tables: the layout's builder over the runs, after the pooling check.

``tables`` holds what a table is made of (rows, columns, cells, notes); ``layouts`` and ``paired``
build on it; this module picks the builder of a suite's ``table.layout``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from omnibench.config.metrics import metric_label
from omnibench.errors import OmniBenchError
from omnibench.report import caveats, layouts
from omnibench.report import cells as C
from omnibench.report.labels import value_label
from omnibench.report.paired import with_reference_deltas
from omnibench.report.pooling import check_cells
from omnibench.report.published import with_related
from omnibench.report.records import SuiteRuns
from omnibench.report.stats import BootstrapSettings
from omnibench.report.tables import (
    Column,
    ReportTable,
    TableSpecLike,
    assemble,
    digits_of,
    run_footer,
    shown_rows,
    source_notes,
)


def build_tables(
    spec: TableSpecLike, runs: SuiteRuns, bootstrap: BootstrapSettings | None = None
) -> list[ReportTable]:
    """The paper-like tables a suite feeds (one, or one per dataset group for ``supervised``)."""
    builders: dict[str, Callable[[TableSpecLike, SuiteRuns], list[ReportTable]]] = {
        "grid": functools.partial(build_grid, bootstrap=bootstrap or BootstrapSettings()),
        "supervised": layouts.build_supervised,
        "zero_shot": layouts.build_zero_shot,
    }
    if spec.layout not in builders:
        raise OmniBenchError(
            f"suite {runs.suite}: table layout '{spec.layout}' is not one of {', '.join(builders)}"
        )
    check_cells(spec, runs.expected, runs.suite)
    return builders[spec.layout](spec, runs)


def build_grid(
    spec: TableSpecLike, runs: SuiteRuns, bootstrap: BootstrapSettings
) -> list[ReportTable]:
    """Rows × column keys of the suite's metrics; published rows of ``paper_table``; Δ rows (to the
    published row, and to the suite's reference row with paired intervals)."""
    expected, done = runs.expected_frame, runs.records_frame
    metrics = {m: f"metrics.{m}" for m in spec.metrics}
    found = [*C.keys_of(expected, spec.columns), *C.keys_of(done, spec.columns)]
    keys = C.column_keys(found)
    stats = {
        row: C.fill_wildcards(cells, keys)
        for row, cells in C.aggregate(done, spec.rows, spec.columns, metrics).items()
    }
    measured = C.measured_rows(expected, done, spec.rows, stats, spec.columns, keys)
    caveats.attach_runs(measured, done, spec.rows, spec.columns, keys)
    columns = [
        Column(k, m, _header(spec.columns, k, m, len(metrics) > 1)) for k in keys for m in metrics
    ]
    sources = with_related(spec.paper_table)
    published = shown_rows(sources, columns)
    rows = assemble(C.pair_rows(published, measured), delta_rows=True, col_paths=spec.columns)
    notes = source_notes(sources, rows) + caveats.caveat_notes(rows, spec.columns)
    if spec.reference is not None:
        rows, more = with_reference_deltas(rows, measured, spec, runs, (done, keys), bootstrap)
        notes += more
    table = ReportTable(
        runs.suite,
        spec.paper_table or "table",
        spec.title,
        "grid",
        digits_of(sources),
        tuple(spec.columns),
        columns,
        rows,
        notes,
        run_footer(runs),
    )
    return [table]


def _header(
    paths: Sequence[str], key: tuple[Any, ...], metric: str, with_metric: bool
) -> tuple[str, ...]:
    labels = tuple(value_label(p, v) for p, v in zip(paths, key))
    return (*labels, metric_label(metric)) if with_metric or not labels else labels
