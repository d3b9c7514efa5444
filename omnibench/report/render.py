"""Report tables for people: rich tables in the terminal, markdown, CSV (long format)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from omnibench.atomic import atomic_write_text
from omnibench.report.labels import MINUS, WITHIN_NOISE
from omnibench.report.tables import DELTA, MEASURED, ReportTable

INDEX_HEADERS = ("Method", "Source")


def headers(table: ReportTable) -> list[tuple[str, ...]]:
    """Every column's header, padded to the same number of levels (Method and Source first)."""
    depth = max((len(c.header) for c in table.columns), default=1)
    return [
        (*h, *[""] * (depth - len(h)))
        for h in (*[(h,) for h in INDEX_HEADERS], *[c.header for c in table.columns])
    ]


def _header_index(table: ReportTable) -> pd.Index:
    """A MultiIndex for multi-level headers, a flat Index for single-level ones."""
    levels = headers(table)
    return (
        pd.MultiIndex.from_tuples(levels)
        if len(levels[0]) > 1
        else pd.Index([h[0] for h in levels])
    )


def display_frame(
    table: ReportTable, mark_best: Callable[[str], str] | None = None
) -> pd.DataFrame:
    """All cells as text (Method repeated only on its first row), with a MultiIndex of header
    levels."""
    best = table.best()
    lines, previous = [], None
    for i, row in enumerate(table.rows):
        method = "" if row.method == previous else row.method
        previous = row.method
        values = [table.text(row, c) for c in table.columns]
        if mark_best is not None:
            values = [mark_best(v) if (i, j) in best else v for j, v in enumerate(values)]
        lines.append([method, row.source, *values])
    return pd.DataFrame(lines, columns=_header_index(table))


def best_mask(table: ReportTable) -> pd.DataFrame:
    """True where a cell is its column's best value (same shape as :func:`display_frame`)."""
    best = table.best()
    mask = [
        [False, False, *[(i, j) in best for j in range(len(table.columns))]]
        for i in range(len(table.rows))
    ]
    return pd.DataFrame(mask, columns=_header_index(table))


def rich_table(table: ReportTable) -> Table:
    """A rich table: measured rows in cyan, best values bold, deltas green / red (its notes and
    footer are printed below it by :func:`print_tables`)."""
    out = Table(
        title=f"{escape(table.title)}  [dim]({escape(table.suite)} · {table.key})[/]",
        title_justify="left",
    )
    left = [True, True, *[c.kind == "text" for c in table.columns]]
    for header, is_left in zip(headers(table), left):
        out.add_column("\n".join(h for h in header if h), justify="left" if is_left else "right")
    best, breaks = table.best(), _block_ends(table)
    for i, row in enumerate(table.rows):
        style = {MEASURED: "cyan", DELTA: "dim"}.get(row.kind, "")
        cells = [
            Text(
                value := table.text(row, c),
                style=_cell_style(value, row.kind == DELTA or c.kind == "delta", (i, j) in best),
            )
            for j, c in enumerate(table.columns)
        ]
        new_method = i == 0 or table.rows[i - 1].method != row.method
        out.add_row(
            Text(row.method if new_method else "", style=style),
            Text(row.source, style=style),
            *cells,
            style=style,
            end_section=i in breaks,
        )
    return out


def _block_ends(table: ReportTable) -> set[int]:
    """Rows after which a rule separates a block of several rows of one method (ours beside the
    paper's)."""
    starts = [
        i for i, row in enumerate(table.rows) if i == 0 or table.rows[i - 1].method != row.method
    ]
    blocks = list(zip(starts, [*starts[1:], len(table.rows)]))
    ends = set()
    for (start, end), following in zip(blocks, [*blocks[1:], None]):
        if following is not None and (end - start > 1 or following[1] - following[0] > 1):
            ends.add(end - 1)
    return ends


def _cell_style(value: str, delta: bool, best: bool) -> str:
    if delta:  # a difference within noise stays uncoloured
        within_noise = value.endswith(WITHIN_NOISE)
        return (
            ""
            if within_noise
            else "green"
            if value.startswith("+")
            else "red"
            if value.startswith(MINUS)
            else ""
        )
    return "bold" if best else ""


def print_tables(tables: Sequence[ReportTable], console: Console) -> None:
    """Print every table to ``console``, each note and footer line below it whole (a terminal wraps
    it at its width; a file keeps it on one line), never wrapped to the table's width."""
    for table in tables:
        console.print(rich_table(table))
        for line in [*table.notes, *table.footer]:
            console.print(Text(line), soft_wrap=True)
        console.print()


def markdown(tables: Sequence[ReportTable]) -> str:
    """All tables as one markdown document (best values in bold, notes and footer under each
    table)."""
    parts = []
    for table in tables:
        frame = display_frame(table, mark_best=lambda v: f"**{v}**")
        frame.columns = [" ".join(h for h in header if h) for header in headers(table)]
        body = frame.to_markdown(
            index=False,
            disable_numparse=True,
            colalign=["left", "left", *["right"] * len(table.columns)],
        )
        notes = "\n".join(f"- {line}" for line in [*table.notes, *table.footer])
        parts.append(f"## {table.title}\n\n*{table.suite} · {table.key}*\n\n{body}\n\n{notes}\n")
    return "\n".join(parts)


def write_csv(tables: Sequence[ReportTable], directory: Path) -> list[Path]:
    """One long-format CSV per table (``<suite>-<table>.csv``): a line per numeric cell."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        path = directory / f"{table.name}.csv"
        atomic_write_text(path, table.tidy().to_csv(index=False))
        written.append(path)
    return written
