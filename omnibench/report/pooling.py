"""What one table cell may pool, without pandas: runs as columns, their canonical keys, and the
check that a cell averages only repeats of one setting.

Cells aggregate every run whose row and column values are equal; what varies between them may
only be seeds, K-shot samplings and splits (:func:`pooled_difference`). ``omnibench validate``
runs that check on a suite's specs (:func:`check_cells`) without loading pandas; the report
runs it on the same specs before building a table (:mod:`omnibench.report.cells` reads frames
through the same functions).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from omnibench.errors import OmniBenchError
from omnibench.report.labels import canonical_value

Key = tuple[Any, ...]
Columns = Mapping[str, Sequence[Any]]  # spec path -> one value per run (a frame's columns)
EVAL_PREFIX = "eval."  # an evaluation's columns (``eval.dataset``, ``eval.top1``)
TARGETS = "protocol_options.targets"  # the datasets a zero-shot run evaluates on
_SCALARS = (str, int, float, bool, type(None))


class TableKeys(Protocol):
    """What the check needs from a suite's ``table:`` entry."""

    @property
    def layout(self) -> str: ...
    @property
    def rows(self) -> Sequence[str]: ...
    @property
    def columns(self) -> Sequence[str]: ...


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


def keys_of(runs: Columns, count: int, paths: Sequence[str]) -> list[Key]:
    """The canonical key tuple of each of ``count`` runs for ``paths`` (a missing column reads as
    None)."""
    if not paths:
        return [()] * count
    made: dict[tuple[Any, ...], Key] = {}  # each distinct row of values (and their types) once
    keys = []
    for values in zip(*[column(runs, count, p) for p in paths]):
        try:
            seen = (values, *map(type, values))
            key = made[seen] if seen in made else made.setdefault(seen, _key(values, paths))
        except TypeError:  # an unhashable value
            key = _key(values, paths)
        keys.append(key)
    return keys


def _key(values: Sequence[Any], paths: Sequence[str]) -> Key:
    return tuple(canonical(v, p) for v, p in zip(values, paths))


def column(runs: Columns, count: int, path: str) -> list[Any]:
    """The runs' values of ``path``, with the values a switch or a model implies."""
    values = list(runs[path]) if path in runs else [None] * count
    if "model.name" in runs and any(path in implied for implied in MODEL_IMPLIED.values()):
        models = runs["model.name"]
        values = [
            MODEL_IMPLIED.get(m, {}).get(path, v) if canonical(v, path) is None else v
            for m, v in zip(models, values)
        ]
    if path in IMPLIED and IMPLIED[path][0] in runs:
        switch, when, implied = IMPLIED[path]
        values = [implied if flag is when else v for flag, v in zip(runs[switch], values)]
    return values


# What runs of one cell may differ in: repeats of one setting (seeds, K-shot samplings, splits).
POOLED = ("seed", "data_seed", "protocol_options.shots_file")


def poolable(path: str) -> bool:
    """True for spec paths a cell may average over: seeds, samplings and split names."""
    return path in POOLED or (
        path.startswith("protocol_options.") and "split" in path.rpartition(".")[2]
    )


def pooled_difference(
    runs: Columns, count: int, key_paths: Sequence[str]
) -> tuple[Key, str, list[Any]] | None:
    """The first cell (key), spec path and values in which runs of one cell differ beyond
    :func:`poolable`."""
    groups: dict[Key, list[int]] = {}
    for position, key in enumerate(keys_of(runs, count, key_paths)):
        groups.setdefault(key, []).append(position)
    free = [
        c
        for c in runs
        if not poolable(c) and not any(c == k or c.startswith(k + ".") for k in key_paths)
    ]
    for key, members in groups.items():
        for path in free if len(members) > 1 else ():
            found = runs[path]
            distinct = _distinct([found[i] for i in members])
            values = list(dict.fromkeys(canonical(v, path) for v in distinct))
            if len(values) > 1:
                return key, path, values
    return None


def _distinct(values: list[Any]) -> list[Any]:
    """``values`` without repeats of a value of the same type, in order."""
    try:
        return [v for _, v in dict.fromkeys((type(v), v) for v in values)]
    except TypeError:  # an unhashable value
        return values


def check_cells(table: TableKeys, specs: Sequence[Mapping[str, Any]], suite: str) -> None:
    """Refuse (one line, naming the key) a table whose cells would average runs (``specs``:
    ``RunSpec.to_dict()`` of each) that differ in more than seeds, samplings and splits."""
    keys = [p for p in (*table.rows, *table.columns) if not p.startswith(EVAL_PREFIX)]
    keys += [TARGETS] if table.layout == "zero_shot" else []
    found = pooled_difference(spec_columns(specs), len(specs), keys)
    if found is not None:
        key, path, values = found
        cell = ", ".join(f"{p}={v}" for p, v in zip(keys, key))
        raise OmniBenchError(
            f"suite {suite}: the table would average runs that differ in {path} "
            f"({', '.join(map(repr, values))}) into one cell "
            f"({cell}); only seeds, samplings and splits "
            f"are pooled: add {path} to the table's rows or columns, or make the runs agree"
        )


def spec_columns(specs: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Specs as columns of their dotted paths (:func:`dotted`; a path a spec lacks: None)."""
    shared: Flattened = {}
    flat = [dotted(spec, shared=shared) for spec in specs]
    paths = dict.fromkeys(path for row in flat for path in row)
    return {path: [row.get(path) for row in flat] for path in paths}


Flattened = dict[tuple[int, str], dict[str, Any]]  # (id of a mapping, its prefix) -> its columns


def dotted(
    data: Mapping[str, Any],
    prefix: str = "",
    leave_out: Collection[str] = (),
    shared: Flattened | None = None,
) -> dict[str, Any]:
    """Nested mappings as dotted keys (an empty mapping gives no column), leaves hashable.
    ``shared``: the mappings already flattened (with the same ``leave_out``), for data whose
    sections are the very same objects (a suite's specs, records kept with shared sections):
    each is flattened once."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if type(value) in _SCALARS:  # most leaves: checked first (a record has ~100)
            flat[f"{prefix}{key}"] = value
        elif type(value) is dict or isinstance(value, Mapping):  # (the ABC check is slow)
            below = f"{prefix}{key}."
            if shared is None:
                flat.update(dotted(value, below, leave_out))
                continue
            made = shared.get((id(value), below))
            if made is None:
                made = shared[(id(value), below)] = dotted(value, below, leave_out, shared)
            flat.update(made)
        elif f"{prefix}{key}" not in leave_out:
            flat[f"{prefix}{key}"] = _hashable(value)
    return flat


def _hashable(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
