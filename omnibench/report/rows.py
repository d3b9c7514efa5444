"""What a report table is made of: its columns and its rows (measured, published, Δ).

Below :mod:`omnibench.report.caveats` (which marks a row's cells) and
:mod:`omnibench.report.tables` (which assembles rows and columns into a table).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from omnibench.report.published import CellKey, Stat

MEASURED, PUBLISHED, DELTA = "measured", "published", "delta"  # a row's kinds


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column: its key values, the metric (or text field) it shows, its header levels, its
    kind."""

    key: tuple[Any, ...]
    metric: str
    header: tuple[str, ...]
    kind: str = "value"  # value | text | cost | delta


@dataclasses.dataclass(frozen=True)
class Row:
    """A table row: a method from one source (omnibench, a paper's table, or a Δ between them)."""

    method: str
    source: str
    kind: str
    cells: Mapping[CellKey, Stat]
    text: Mapping[str, str] = dataclasses.field(default_factory=dict)
    group: str = ""
    planned: frozenset[tuple[Any, ...]] | None = (
        None  # measured rows: columns the suite runs (None: all)
    )
    caveats: Mapping[tuple[Any, ...], str] = dataclasses.field(
        default_factory=dict
    )  # column key -> why no Δ
    skipped: Mapping[tuple[Any, ...], str] = dataclasses.field(
        default_factory=dict
    )  # column key -> skipped videos
    videos: Mapping[tuple[Any, ...], str] = dataclasses.field(
        default_factory=dict
    )  # column key -> how its videos were prepared ("" for the originals)
