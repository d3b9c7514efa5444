"""Paper-like tables: measured rows next to the published rows of the same table.

A :class:`ReportTable` is format-free data (rows of :class:`Stat` cells); ``render``,
``latex`` and ``plots`` turn it into text, LaTeX and figures. Layouts:

- ``grid``: rows × column keys of one metric (Table 5: methods × K per dataset; Tables 7-11:
  ablation rows × datasets). A "Δ" row under each measured row gives measured − published.
- ``supervised`` (``layouts.py``): Tables 2/3 (method, backbone, frames × views, top-1, top-5,
  GFLOPs) and Table 4 (top-1 / top-5 per dataset), with a Δ top-1 column.
- ``zero_shot`` (``layouts.py``): Table 6, mean ± std over the test splits per evaluation dataset,
  with a Δ column per dataset.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pandas as pd

from omnibench.report import caveats
from omnibench.report import cells as C
from omnibench.report.labels import (
    DASH,
    MINUS,
    PLUS_MINUS,
    WITHIN_NOISE,
    plural,
)
from omnibench.report.pooling import TableKeys
from omnibench.report.provenance import provenance_line
from omnibench.report.published import (
    PublishedRow,
    PublishedTable,
    Stat,
)
from omnibench.report.records import SuiteRuns
from omnibench.report.rows import DELTA as DELTA  # a row's kinds, with its parts
from omnibench.report.rows import MEASURED as MEASURED
from omnibench.report.rows import PUBLISHED as PUBLISHED
from omnibench.report.rows import Column as Column
from omnibench.report.rows import Row as Row
from omnibench.store.states import RunState

OURS = "omnibench"
NAME_ROOM = 200  # bytes of a table's file name before its suffix (a name may have 255)
DELTA_PREFIX = "Δ "


class TableSpecLike(TableKeys, Protocol):
    """What a report needs from a suite's ``table:`` entry (``omnibench.suite.load.TableSpec``):
    the keys its cells pool by (:class:`~omnibench.report.pooling.TableKeys`) and the rest;
    read-only."""

    @property
    def paper_table(self) -> str | None: ...
    @property
    def title(self) -> str: ...
    @property
    def metrics(self) -> Sequence[str]: ...
    @property
    def reference(
        self,
    ) -> Mapping[str, Any] | None: ...  # the row each other row is compared with (grid)


@dataclasses.dataclass
class ReportTable:
    """One paper-like table of one suite, with its caption notes and its footer (run counts)."""

    suite: str
    key: str
    title: str
    layout: str
    digits: int
    level_names: tuple[str, ...]
    columns: list[Column]
    rows: list[Row]
    notes: list[str]
    footer: list[str]
    classes: int | None = (
        None  # the class count every finished run shares (its chance level), else None
    )

    @property
    def name(self) -> str:
        """File-name friendly identifier: ``<suite>-<table key>``; one longer than
        :data:`NAME_ROOM` is cut and ends in a hash of the whole, so ``.csv`` / ``.png`` files
        named after it fit the filesystem's 255 bytes."""
        name = f"{self.suite}-{self.key}".replace("/", "-")
        if len(name.encode()) <= NAME_ROOM:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        return f"{name.encode()[: NAME_ROOM - 9].decode(errors='ignore')}-{digest}"

    def cell(self, row: Row, column: Column) -> Stat | None:
        """The numeric cell of ``row`` under ``column`` (None for text columns or no value)."""
        return row.cells.get((column.key, column.metric))

    def text(self, row: Row, column: Column) -> str:
        """A cell as display text: "–" when missing, "a ± b" with a std, signed for deltas; a
        measured value is followed by its marks (:func:`caveats.marks`: ¹ not compared, † videos
        skipped)."""
        if column.kind == "text":
            return row.text.get(column.metric, "")
        stat = self.cell(row, column)
        if column.kind == "cost":  # GFLOPs: as printed (145), ours to one decimal (140.7); no std
            digits = (
                0
                if stat is not None and stat.mean is not None and float(stat.mean).is_integer()
                else 1
            )
            return format_stat(Stat(stat.mean) if stat is not None else None, digits)
        delta = row.kind == DELTA or column.kind == "delta"
        unplanned = (
            row.planned is not None and column.key not in row.planned
        )  # no run of the suite fills it
        text = format_stat(stat, self.digits, signed=delta, blank=delta or unplanned)
        if row.kind != MEASURED or stat is None or stat.mean is None:
            return text
        if stat.std is not None and len(pooled_sizes(self.rows)) > 1:
            text += f" (n={stat.n})"  # cells pool different numbers of runs: say how many
        return text + caveats.marks(row, column, self.rows)

    def best(self) -> set[tuple[int, int]]:
        """(row, column) positions of the best value per accuracy column (bold in the paper)."""
        marked = set()
        for j, column in enumerate(self.columns):
            if column.kind != "value":
                continue
            scores = {
                i: round(s.mean, self.digits)
                for i, row in enumerate(self.rows)
                if row.kind != DELTA
                and (s := self.cell(row, column)) is not None
                and s.mean is not None
            }
            top = max(scores.values(), default=None)
            marked |= {(i, j) for i, score in scores.items() if score == top}
        return marked

    def tidy(self) -> pd.DataFrame:
        """Long format: one line per numeric cell (row position, method, source, kind, column
        values, metric, mean, std, n, skipped videos, why it is not compared with the published
        row)."""
        lines = []
        for i, row in enumerate(self.rows):
            for column in self.columns:
                stat = self.cell(row, column)
                if column.kind == "text" or stat is None:
                    continue
                keys = dict(zip(self.level_names, column.key))
                lines.append(
                    {
                        "suite": self.suite,
                        "table": self.key,
                        "row": i,
                        "method": row.method,
                        "source": row.source,
                        "kind": row.kind,
                        **keys,
                        "metric": column.metric,
                        "mean": stat.mean,
                        "std": stat.std,
                        "n": stat.n,
                        "ci_low": stat.low,
                        "ci_high": stat.high,
                        "p_value": stat.p_value,
                        "within_noise": stat.within_noise,
                        "skipped": row.skipped.get(column.key, ""),
                        "not_compared": row.caveats.get(column.key, ""),
                        "prepared_videos": row.videos.get(column.key, ""),
                        **row.text,
                    }
                )
        return pd.DataFrame(lines)


def format_stat(stat: Stat | None, digits: int, signed: bool = False, blank: bool = False) -> str:
    """ "54.1", "54.1 ± 1.2", "+0.8" / "−0.8" (signed), "+0.8 [−0.2, +1.9] ≈" (an interval that
    contains 0), or "–" (no value; empty when ``blank``)."""
    if stat is None or stat.mean is None:
        return "" if blank else DASH
    text = _number(stat.mean, digits, signed)
    if stat.low is not None and stat.high is not None:
        bounds = f"{text} [{_number(stat.low, digits, True)}, {_number(stat.high, digits, True)}]"
        return f"{bounds} {WITHIN_NOISE}" if stat.within_noise else bounds
    return f"{text} {PLUS_MINUS} {stat.std:.{digits}f}" if stat.std is not None else text


def _number(value: float, digits: int, signed: bool) -> str:
    return f"{value + 0.0:{'+' if signed else ''}.{digits}f}".replace("-", MINUS)


def pooled_sizes(rows: Sequence[Row]) -> set[int]:
    """How many runs the measured cells with a std pool (one size: the notes say it; several: each
    cell does)."""
    return {
        s.n for row in rows if row.kind == MEASURED for s in row.cells.values() if s.std is not None
    }


def digits_of(sources: Sequence[PublishedTable]) -> int:
    """Decimals as the table's paper prints them (2 when there is no published table)."""
    return sources[0].digits if sources else 2


def shown_rows(sources: Sequence[PublishedTable], columns: Sequence[Column]) -> list[PublishedRow]:
    """Published rows (own table first, then related tables) that have a value in a shown column."""
    wanted = {(c.key, c.metric) for c in columns}
    return [
        row
        for table in sources
        for row in table.rows
        if any(k in wanted and s.mean is not None for k, s in row.cells.items())
    ]


def assemble(
    pairs: Sequence[tuple[PublishedRow | None, C.MeasuredRow | None]],
    delta_rows: bool,
    text: Mapping[int, dict[str, str]] | None = None,
    col_paths: Sequence[str] = (),
) -> list[Row]:
    """Rows in display order; with ``delta_rows`` a Δ row follows each measured row that has a
    published partner in the same setting (:mod:`comparable`): cells of another setting get no Δ but
    a caveat."""
    rows: list[Row] = []
    for pub, ours in pairs:
        if pub is not None:
            rows.append(
                Row(
                    pub.method,
                    pub.source,
                    PUBLISHED,
                    pub.cells,
                    (text or {}).get(id(pub), {}),
                    pub.group,
                )
            )
        if ours is None:
            continue
        cells = dict(ours.cells)
        differ = caveats.not_compared(pub, ours, col_paths) if pub is not None else {}
        delta = (
            {k: s for k, s in C.deltas(ours.cells, pub.cells).items() if k[0] not in differ}
            if pub
            else {}
        )
        if not delta_rows:
            cells.update({(k, DELTA_PREFIX + m): s for (k, m), s in delta.items()})
        rows.append(
            Row(
                ours.label,
                OURS,
                MEASURED,
                cells,
                (text or {}).get(id(ours), {}),
                planned=ours.planned,
                caveats=differ,
                skipped=ours.skipped,
                videos=ours.videos,
            )
        )
        if delta_rows and pub is not None and (delta or not differ):
            rows.append(Row(ours.label, f"Δ vs {pub.source}", DELTA, delta))
    return rows


def source_notes(sources: Sequence[PublishedTable], rows: Sequence[Row]) -> list[str]:
    """Caption lines: which papers' tables the published rows come from, and how to read the
    cells."""
    used = {row.source for row in rows if row.kind == PUBLISHED}
    notes = [t.citation() + (f" {t.note}" if t.note else "") for t in sources if t.source in used]
    delta = (
        (
            f" Δ = {OURS} − the published row of the same "
            "method, only where the runs' setting is the "
            "paper's (protocol, backbone, weights, frames, "
            "views, epochs, classes, test splits, no --limit)."
        )
        if used
        else ""
    )
    sizes = pooled_sizes(rows)
    over = f"n = {next(iter(sizes))} runs" if len(sizes) == 1 else "the n runs it shows"
    notes.append(
        f"{OURS}: mean {PLUS_MINUS} std (sample) over "
        f"{over} (seeds, samplings or splits) where a cell "
        f"shows {PLUS_MINUS}; {DASH} = no finished run (blank: the suite runs none).{delta}"
    )
    return notes


def without_empty_deltas(columns: list[Column], rows: Sequence[Row]) -> list[Column]:
    """Δ columns only when some row has a published partner."""
    if any(row.kind == PUBLISHED for row in rows):
        return columns
    return [c for c in columns if c.kind != "delta"]


def run_footer(runs: SuiteRuns) -> list[str]:
    """How many of the suite's runs are in each state (as ``omnibench status`` names them), and
    where to look."""
    counts = runs.counts()
    parts = [f"{counts[s]} {s}" for s in RunState if counts[s]]
    lines = [
        f"suite {runs.suite}: {plural(sum(counts.values()), 'run')} "
        f"— {', '.join(parts) if parts else 'none defined'}."
    ]
    if sum(counts.values()) > counts[RunState.DONE]:
        lines.append(f"Cells of unfinished runs show {DASH}; see: omnibench status {runs.suite}")
    if counts[RunState.STALE]:
        lines.append(
            f"{plural(counts['stale'], 'stale run')}: annotation files changed since they ran, or "
            "another revision of their model or protocol computed them "
            f"(not shown; omnibench status {runs.suite} says why, omnibench run reruns them)."
        )
    if counts[RunState.CORRUPT]:
        lines.append(
            f"{plural(counts['corrupt'], 'corrupt run')}: a file of the run cannot be read "
            f"(not shown; omnibench status {runs.suite} says which and where; omnibench rm "
            f"{runs.suite} --run RUN clears one)."
        )
    if runs.stale:
        lines.append(
            f"{plural(runs.stale, 'other finished run')} of "
            "this suite in the store (other --set / --limit "
            "settings, or an older suite file) not shown."
        )
    made = provenance_line(runs.records)
    return [*lines, made] if made else lines
