"""What a measured cell's number carries with it: broken videos its runs skipped (marked †), a
published row it is not compared with because the setting differs (marked ¹, ², ...), and videos
re-encoded by ``omnibench data prepare`` where other cells of the table read the originals
(marked ‡: the two inputs differ, so their difference is not the methods' alone).

All are attached to measured rows from the runs behind each cell, shown as marks after the
number in every format, and explained in the table's notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from omnibench.report import cells as C
from omnibench.report.comparable import RUN_FIELDS, RUN_PREFIXES, differences
from omnibench.report.labels import canonical_dataset, is_dataset_path, value_label
from omnibench.report.published import PublishedRow
from omnibench.report.rows import Column, Row
from omnibench.store.acceptance import Skipped

SKIP_MARK = "†"
PREPARED_MARK = "‡"
VIDEO_ROOTS = "video_roots."  # the record's section naming each dataset's root (flattened)
# What a cell keeps of its runs' columns: what cell_skipped, cell_videos and comparable read.
CELL_FIELDS = frozenset(("run_id", "skipped", "eval.skipped", "eval.videos", *RUN_FIELDS))
CELL_PREFIXES = (*RUN_PREFIXES, VIDEO_ROOTS)
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _plain(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    pairs = zip(columns, values, strict=True)
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in pairs}


def attach_runs(
    rows: Sequence[C.MeasuredRow],
    frame: pd.DataFrame,
    row_paths: Sequence[str],
    col_paths: Sequence[str],
    columns: Sequence[C.Key],
) -> None:
    """Give each measured row the flat runs behind each of its cells (a run with no value for a
    column level stands in every column it covers, as in :func:`cells.fill_wildcards`) and their
    skipped videos. ``frame`` holds one line per run, or per evaluation (``eval.*`` columns)."""
    if frame.empty:
        return
    kept = [c for c in frame.columns if c in CELL_FIELDS or c.startswith(CELL_PREFIXES)]
    # to_dict("records"), made a column at a time
    values = zip(*(frame[c].tolist() for c in kept)) if kept else [()] * len(frame)
    exact: dict[C.Key, dict[C.Key, list[dict[str, Any]]]] = {}
    for run, row_key, col_key in zip(
        values, C.keys_of(frame, row_paths), C.keys_of(frame, col_paths), strict=True
    ):
        exact.setdefault(row_key, {}).setdefault(col_key, []).append(_plain(kept, run))
    for row in rows:
        groups = exact.get(row.key, {})
        for column in dict.fromkeys(columns):
            runs = groups.get(column) or [
                r for key, found in groups.items() if C.covers(key, column) for r in found
            ]
            if runs:
                row.runs[column] = runs
                row.skipped[column] = cell_skipped(runs).text()
                row.videos[column] = cell_videos(runs)


def cell_skipped(runs: Sequence[Mapping[str, Any]]) -> Skipped:
    """Skipped videos of one cell: evaluations of the cell's dataset (per-evaluation lines) or of
    its runs."""
    train = train_listed = evaluated = listed = 0
    seen = set()
    for run in runs:
        counts = run.get("skipped")
        counts = counts if isinstance(counts, Skipped) else Skipped()
        if "eval.skipped" in run:  # one line per evaluation: count only this evaluation's videos
            evaluated += int(run.get("eval.skipped") or 0)
            listed += int(run.get("eval.skipped") or 0) + int(run.get("eval.videos") or 0)
        else:
            evaluated, listed = evaluated + counts.eval, listed + counts.eval_listed
        if run.get("run_id") not in seen:  # training counts once per run
            seen.add(run.get("run_id"))
            train, train_listed = train + counts.train, train_listed + (counts.train_listed or 0)
    return Skipped(train, train_listed or None, evaluated, listed)


def run_videos(run: Mapping[str, Any]) -> str:
    """How a run's videos were prepared (``""``: the original videos, or a record of an omnibench
    without ``video_roots``)."""
    found = {}
    for key, value in run.items():
        if key.startswith(VIDEO_ROOTS) and key.endswith(".prepared.short_side") and value:
            prefix = key[: -len("short_side")]
            found[key[len(VIDEO_ROOTS) : -len(".prepared.short_side")]] = (
                f"short side {_number(value)}, keyframe every "
                f"{_number(run.get(prefix + 'keyframe_interval'))} frames"
            )
    return "; ".join(f"{dataset} {text}" for dataset, text in sorted(found.items()))


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else "?"


def cell_videos(runs: Sequence[Mapping[str, Any]]) -> str:
    """The videos a cell's runs read: ``""`` (originals), the preparation, or a mix of both."""
    kinds = sorted(set(map(run_videos, runs)))
    if len(kinds) == 1:
        return kinds[0]
    prepared = "; ".join(kind for kind in kinds if kind)
    return f"{prepared}, pooled with runs on {'other ' if '' not in kinds else ''}originals"


def mixed_videos(rows: Sequence[Row]) -> bool:
    """Whether the measured cells of a table read differently prepared videos."""
    return len({text for row in rows for text in row.videos.values()}) > 1 or any(
        "pooled with" in text for row in rows for text in row.videos.values()
    )


def _cell_dataset(
    column: C.Key, col_paths: Sequence[str], runs: Sequence[Mapping[str, Any]]
) -> str | None:
    for path, value in zip(col_paths, column):
        if is_dataset_path(path):
            return canonical_dataset(value)
    datasets = {canonical_dataset(run.get("dataset")) for run in runs}
    return datasets.pop() if len(datasets) == 1 else None


def not_compared(
    published: PublishedRow, ours: C.MeasuredRow, col_paths: Sequence[str]
) -> dict[C.Key, str]:
    """Column key -> why ``ours`` is not compared with ``published`` there (only cells whose setting
    differs)."""
    out = {}
    for column, runs in ours.runs.items():
        found = differences(published, _cell_dataset(column, col_paths, runs), runs)
        if found:
            out[column] = (
                f"not compared with {published.source} {published.method}: {'; '.join(found)}"
            )
    return out


def caveat_marks(rows: Sequence[Row]) -> dict[str, str]:
    """Superscript number of each distinct "not compared" text, in order of appearance."""
    texts = dict.fromkeys(text for row in rows for text in row.caveats.values())
    return {text: str(number).translate(_SUPERSCRIPT) for number, text in enumerate(texts, start=1)}


def marks(row: Row, column: Column, rows: Sequence[Row]) -> str:
    """The marks after a measured value: its "not compared" number, † when videos were skipped,
    ‡ when it read prepared videos where other cells of the table (``rows``) did not."""
    if column.kind != "value":
        return ""
    caveat = row.caveats.get(column.key)
    prepared = row.videos.get(column.key) and mixed_videos(rows)
    return (
        (caveat_marks(rows)[caveat] if caveat else "")
        + (SKIP_MARK if row.skipped.get(column.key) else "")
        + (PREPARED_MARK if prepared else "")
    )


def caveat_notes(rows: Sequence[Row], col_paths: Sequence[str]) -> list[str]:
    """Notes explaining the marks: each "not compared" text, and every cell with skipped videos."""
    notes = [f"{mark} No Δ, {text}." for text, mark in caveat_marks(rows).items()]
    skipped = [
        " ".join(
            [row.method, *(str(value_label(p, v)) for p, v in zip(col_paths, key) if v is not None)]
        )
        + f": {text}"
        for row in rows
        for key, text in row.skipped.items()
        if text
    ]
    notes += _video_notes(rows, col_paths)
    if skipped:
        notes.append(
            (
                f"{SKIP_MARK} Broken videos were skipped (counts "
                "in record.json, each video in predictions.csv): "
            )
            + "; ".join(dict.fromkeys(skipped))
            + "."
        )
    return notes


def _video_notes(rows: Sequence[Row], col_paths: Sequence[str]) -> list[str]:
    """The ‡ note where cells read differently prepared videos; a line saying which prepared
    videos every cell read otherwise."""
    cells = {(row.method, key): text for row in rows for key, text in row.videos.items() if text}
    kinds = dict.fromkeys(cells.values())
    if not kinds:
        return []
    if not mixed_videos(rows):
        only = next(iter(kinds))
        return [f"Every measured cell read videos prepared by omnibench data prepare ({only})."]
    listed = "; ".join(
        " ".join(
            [method, *(str(value_label(p, v)) for p, v in zip(col_paths, key) if v is not None)]
        )
        + f": {text}"
        for (method, key), text in cells.items()
    )
    return [
        f"{PREPARED_MARK} Read videos re-encoded by omnibench data prepare, while other cells read "
        f"the original videos: a difference between them is partly the input's ({listed})."
    ]
