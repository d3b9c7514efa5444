"""From flat run frames to table cells: grouping keys, mean ± std, ordering, matching published
rows, deltas.

Cells aggregate every run (and, for zero-shot, every split) whose row and column values are
equal; the mean ± std is taken over what varies between them, which may only be seeds, K-shot
samplings and splits (:func:`pooled_difference`): a table that would average anything else
(frames, a learning rate) is refused. The std is the sample std (``ddof=1``), as the run
records' own ``top1_std`` (``engine.metrics.mean_std``); a single value has no std.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from omnibench.errors import OmniBenchError
from omnibench.report.labels import canonical_value, normalize_label, row_label
from omnibench.report.published import CellKey, PublishedRow, Stat

Key = tuple[Any, ...]


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


def canonical(value: Any, path: str) -> Any:
    """:func:`labels.canonical_value` with missing values (NaN) as None (remembered per value:
    thousands of runs share a few)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        key = (path, type(value), value)
        return (
            _CANONICAL[key]
            if key in _CANONICAL
            else _CANONICAL.setdefault(key, canonical_value(path, value))
        )
    except TypeError:  # unhashable
        return canonical_value(path, value)


_CANONICAL: dict[tuple[str, type, Any], Any] = {}


# Values implied by a switch: an OmniCLIP without PTA has a PTA in no block, whatever
# ``pta_blocks`` says (Table 10's "none" row). path -> (switch path, switch value, implied value)
IMPLIED = {"model.options.pta_blocks": ("model.options.use_pta", False, ())}
# Values implied by a model that lacks the option: frozen vanilla CLIP is OmniCLIP's ablation
# rows with neither PTA nor SPG (the PTA ✗ SPG ✗ row of Table 7 and the "none" row of Table 10
# are vanilla CLIP, OmniCLIP §4.4). model name -> {path: value where the run sets none}
MODEL_IMPLIED = {
    "vanilla_clip": {
        "model.options.use_pta": False,
        "model.options.use_spg": False,
        "model.options.pta_blocks": (),
    },
}


def row_name(paths: Sequence[str], key: Key) -> str:
    """:func:`labels.row_label` of a row, without the values a model's row only has implied
    (:data:`MODEL_IMPLIED`): frozen CLIP reads "Vanilla CLIP", not "Vanilla CLIP PTA ✗"."""
    values = dict(zip(paths, key))
    implied = MODEL_IMPLIED.get(str(values.get("model.name")), {})
    kept = [(path, value) for path, value in values.items() if path not in implied]
    return row_label([path for path, _ in kept], [value for _, value in kept])


def keys_of(frame: pd.DataFrame, paths: Sequence[str]) -> list[Key]:
    """The canonical key tuple of every frame row for ``paths`` (a missing column reads as None)."""
    columns = [_canonical_column(_column(frame, p), p) for p in paths]
    return list(zip(*columns)) if paths else [()] * len(frame)


def _canonical_column(values: list[Any], path: str) -> list[Any]:
    """:func:`canonical` of each value, worked out once per distinct value (and type) of the
    column."""
    seen: dict[tuple[type, Any], Any] = {}
    out = []
    for value in values:
        try:
            key = (type(value), value)
            out.append(seen[key] if key in seen else seen.setdefault(key, canonical(value, path)))
        except TypeError:  # unhashable
            out.append(canonical(value, path))
    return out


def _column(frame: pd.DataFrame, path: str) -> list[Any]:
    values = frame[path].tolist() if path in frame else [None] * len(frame)
    if "model.name" in frame:
        models = frame["model.name"].tolist()
        values = [
            MODEL_IMPLIED.get(m, {}).get(path, v) if canonical(v, path) is None else v
            for m, v in zip(models, values)
        ]
    if path in IMPLIED and IMPLIED[path][0] in frame:
        switch, when, implied = IMPLIED[path]
        values = [implied if flag is when else v for flag, v in zip(frame[switch].tolist(), values)]
    return values


# What runs of one cell may differ in: repeats of one setting (seeds, K-shot samplings, splits).
POOLED = ("seed", "data_seed", "protocol_options.shots_file")


def poolable(path: str) -> bool:
    """True for spec paths a cell may average over: seeds, samplings and split names."""
    return path in POOLED or (
        path.startswith("protocol_options.") and "split" in path.rpartition(".")[2]
    )


def pooled_difference(
    specs: pd.DataFrame, key_paths: Sequence[str]
) -> tuple[Key, str, list[Any]] | None:
    """The first cell (key), spec path and values in which runs of one cell differ beyond
    :func:`poolable`."""
    groups: dict[Key, list[int]] = {}
    for position, key in enumerate(keys_of(specs, key_paths)):
        groups.setdefault(key, []).append(position)
    free = [
        c
        for c in specs.columns
        if not poolable(c) and not any(c == k or c.startswith(k + ".") for k in key_paths)
    ]
    columns = {path: specs[path].tolist() for path in free}
    for key, members in groups.items():
        for path in free if len(members) > 1 else ():
            found = columns[path]
            values = list(dict.fromkeys(canonical(found[i], path) for i in members))
            if len(values) > 1:
                return key, path, values
    return None


def check_pooling(specs: pd.DataFrame, key_paths: Sequence[str], suite: str) -> None:
    """Refuse (one line, naming the key) a table whose cells would average runs of different
    settings."""
    found = pooled_difference(specs, key_paths)
    if found is not None:
        key, path, values = found
        cell = ", ".join(f"{p}={v}" for p, v in zip(key_paths, key))
        raise OmniBenchError(
            f"suite {suite}: the table would average runs that differ in {path} "
            f"({', '.join(map(repr, values))}) into one cell "
            f"({cell}); only seeds, samplings and splits "
            f"are pooled: add {path} to the table's rows or columns, or make the runs agree"
        )


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
