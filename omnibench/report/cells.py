"""From flat run frames to table cells: grouping keys, mean ± std, ordering, matching published
rows, deltas.

Cells aggregate every run (and, for zero-shot, every split) whose row and column values are
equal; the mean ± std is taken over what varies between them, which may only be seeds, K-shot
samplings and splits (:mod:`omnibench.report.pooling`): a table that would average anything else
(frames, a learning rate) is refused. The std is the sample std (``ddof=1``), as the run
records' own ``top1_std`` (``engine.metrics.mean_std``); a single value has no std.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from omnibench.report import pooling
from omnibench.report.labels import normalize_label, row_label
from omnibench.report.pooling import MODEL_IMPLIED, Key, canonical
from omnibench.report.pooling import poolable as poolable  # what a cell may average over
from omnibench.report.published import CellKey, PublishedRow, Stat


@dataclasses.dataclass
class MeasuredRow:
    """One omnibench row: its key (row values), label, cells, and descriptive fields."""

    key: Key
    label: str
    cells: dict[CellKey, Stat] = dataclasses.field(default_factory=dict)
    model: str | None = None  # set when the row is exactly one model (rows: [model.name])
    info: dict[str, Any] = dataclasses.field(
        default_factory=dict
    )  # backbone, frames, used for matching
    planned: frozenset[Key] | None = (
        None  # column keys some run of this row fills (None: every column)
    )
    runs: dict[Key, list[dict[str, Any]]] = dataclasses.field(
        default_factory=dict
    )  # column key -> flat runs
    skipped: dict[Key, str] = dataclasses.field(
        default_factory=dict
    )  # column key -> skipped videos ("2/16 eval")
    videos: dict[Key, str] = dataclasses.field(
        default_factory=dict
    )  # column key -> how its runs' videos were prepared ("" for the originals)


def row_name(paths: Sequence[str], key: Key) -> str:
    """:func:`labels.row_label` of a row, without the values a model's row only has implied
    (:data:`MODEL_IMPLIED`): frozen CLIP reads "Vanilla CLIP", not "Vanilla CLIP PTA ✗"."""
    values = dict(zip(paths, key))
    implied = MODEL_IMPLIED.get(str(values.get("model.name")), {})
    kept = [(path, value) for path, value in values.items() if path not in implied]
    return row_label([path for path, _ in kept], [value for _, value in kept])


class FrameColumns(Mapping[str, list[Any]]):
    """A frame's columns as :mod:`omnibench.report.pooling` reads runs (each column read when
    asked)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __getitem__(self, path: str) -> list[Any]:
        return list(self.frame[path].tolist())

    def __contains__(self, path: object) -> bool:
        return path in self.frame.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.frame.columns)

    def __len__(self) -> int:
        return len(self.frame.columns)


def keys_of(frame: pd.DataFrame, paths: Sequence[str]) -> list[Key]:
    """The canonical key tuple of every frame row for ``paths`` (a missing column reads as None)."""
    return pooling.keys_of(FrameColumns(frame), len(frame), paths)


def pooled_difference(
    specs: pd.DataFrame, key_paths: Sequence[str]
) -> tuple[Key, str, list[Any]] | None:
    """:func:`pooling.pooled_difference` of a frame's runs."""
    return pooling.pooled_difference(FrameColumns(specs), len(specs), key_paths)


def reference_key(reference: Mapping[str, Any], row_paths: Sequence[str]) -> Key:
    """The row key a suite's ``table.reference`` names (a row path it leaves out: unset)."""
    return tuple(canonical(reference.get(path), path) for path in row_paths)


def ordered(keys: Iterable[Key]) -> list[Key]:
    """Unique keys sorted level by level in order of first appearance (grid order, not
    alphabetical)."""
    unique = list(dict.fromkeys(keys))
    ranks: list[dict[Any, int]] = [{} for _ in range(len(unique[0]) if unique else 0)]
    for key in unique:
        for level, value in enumerate(key):
            ranks[level].setdefault(value, len(ranks[level]))
    return sorted(unique, key=lambda k: tuple(ranks[i][v] for i, v in enumerate(k)))


def aggregate(
    frame: pd.DataFrame,
    row_paths: Sequence[str],
    col_paths: Sequence[str],
    value_columns: Mapping[str, str],
) -> dict[Key, dict[CellKey, Stat]]:
    """Mean ± std of each metric per (row key, column key); ``value_columns`` maps metric -> frame
    column."""
    out: dict[Key, dict[CellKey, Stat]] = {}
    if frame.empty:
        return out
    keyed = pd.DataFrame(
        {"row": keys_of(frame, row_paths), "col": keys_of(frame, col_paths)}, index=frame.index
    )
    for metric, column in value_columns.items():
        if column not in frame:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        grouped = values.groupby([keyed["row"], keyed["col"]], sort=False)
        stats = pd.DataFrame(
            {"mean": grouped.mean(), "std": grouped.std(ddof=1), "n": grouped.count()}
        )
        for (row, col), stat in stats.iterrows():
            if stat["n"] > 0:
                std = float(stat["std"]) if stat["n"] > 1 else None
                out.setdefault(row, {})[(col, metric)] = Stat(
                    float(stat["mean"]), std, int(stat["n"])
                )
    return out


def column_keys(found: Sequence[Key]) -> list[Key]:
    """Columns: every key, except one with an unset level (None) that fully set keys can stand
    for."""
    full = [k for k in found if None not in k]
    covered = [k for k in found if None in k and any(covers(k, f) for f in full)]
    return ordered([k for k in found if k not in covered])


def covers(partial: Key, full: Key) -> bool:
    """True when ``partial`` equals ``full`` at every level it sets (None: any value)."""
    return all(v is None or v == f for v, f in zip(partial, full))


def fill_wildcards(cells: Mapping[CellKey, Stat], columns: Sequence[Key]) -> dict[CellKey, Stat]:
    """A run with no value for a column level fills every column it matches (Vanilla CLIP has no K:
    all K)."""
    out = dict(cells)
    for (key, metric), stat in cells.items():
        if None in key:
            for column in columns:
                if covers(key, column):
                    out.setdefault((column, metric), stat)
    return out


def measured_rows(
    expected: pd.DataFrame,
    done: pd.DataFrame,
    row_paths: Sequence[str],
    cells: Mapping[Key, dict[CellKey, Stat]],
    col_paths: Sequence[str] = (),
    columns: Sequence[Key] | None = None,
) -> list[MeasuredRow]:
    """One row per row key of the expected and finished runs, in suite order; pending rows have no
    cells.

    With ``columns``, each row also records which columns its runs fill (the others stay blank).
    """
    keys = ordered([*keys_of(expected, row_paths), *keys_of(done, row_paths)])
    planned: dict[Key, set[Key]] = {}
    for row, col in zip(keys_of(expected, row_paths), keys_of(expected, col_paths)):
        planned.setdefault(row, set()).update(c for c in columns or () if covers(col, c))
    only_model = list(row_paths) == ["model.name"]
    return [
        MeasuredRow(
            key,
            row_name(row_paths, key),
            dict(cells.get(key, {})),
            model=key[0] if only_model else None,
            planned=frozenset(planned.get(key, ())) if columns is not None else None,
        )
        for key in keys
    ]


def matches(published: PublishedRow, row: MeasuredRow) -> bool:
    """Same method (by model name or label) and, where both say, the same backbone and frames."""
    if row.model is not None and published.model is not None:
        same = row.model == published.model
    else:
        same = normalize_label(row.label) in {
            normalize_label(n) for n in (published.method, *published.aliases)
        }
    for field in ("backbone", "frames"):
        ours, theirs = row.info.get(field), getattr(published, field)
        if same and ours is not None and theirs is not None and ours != theirs:
            return False
    return same


def pair_rows(
    published: Sequence[PublishedRow], measured: Sequence[MeasuredRow]
) -> list[tuple[PublishedRow | None, MeasuredRow | None]]:
    """Published rows in order, each followed by the measured row it matches; unmatched measured
    rows last."""
    partner: dict[int, MeasuredRow] = {}
    for row in measured:
        index = next(
            (i for i, pub in enumerate(published) if i not in partner and matches(pub, row)), None
        )
        if index is not None:
            partner[index] = row
    placed = {id(r) for r in partner.values()}
    pairs: list[tuple[PublishedRow | None, MeasuredRow | None]] = [
        (pub, partner.get(i)) for i, pub in enumerate(published)
    ]
    return pairs + [(None, row) for row in measured if id(row) not in placed]


def deltas(
    measured: Mapping[CellKey, Stat], published: Mapping[CellKey, Stat]
) -> dict[CellKey, Stat]:
    """Measured mean minus published mean, cell by cell where both have a value."""
    out = {}
    for key, ours in measured.items():
        theirs = published.get(key)
        if theirs is not None and ours.mean is not None and theirs.mean is not None:
            out[key] = Stat(ours.mean - theirs.mean, None, ours.n)
    return out
