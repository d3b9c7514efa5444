"""The paired Δ intervals of a suite's columns, kept so that a report over thousands of runs does
not redraw millions of bootstrap resamples every time.

``<results>/<suite>/.deltas.json`` maps a column's key to what :func:`omnibench.report.paired`
made of it: each row's Δ to the reference (mean, n, interval, McNemar's p) and why the column has
no interval, if so. The key is a digest of everything those numbers depend on: the omnibench code
(:func:`~omnibench.store.index.code_fingerprint`), the bootstrap settings, the column's name, the
reference row, every row's runs in order with their seeds, and the key (inode, size, modification
time) of each run's ``predictions.csv``. Anything else changed is another key, so a kept entry is
never served for other inputs; a column with a file changed in the last ``RECENT_S`` seconds is
computed and not kept. A missing, corrupt or foreign file is rebuilt; one that cannot be written is
not kept. The run folders stay the source of truth.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omnibench.atomic import atomic_write_text
from omnibench.report.published import Stat
from omnibench.report.stats import BootstrapSettings
from omnibench.store import index as store_index
from omnibench.store.run_files import DELTAS_FILE, PREDICTIONS_FILE

KEPT_COLUMNS = 4096  # entries kept in one file (the oldest go first)
Deltas = tuple[dict[str, Stat], str | None]  # repr(row key) -> its Δ; why no interval, if so


def predictions_keys(run_dirs: Mapping[str, Path], runs: Sequence[str]) -> dict[str, Any]:
    """Each run's ``predictions.csv`` key (None: no file; "recent": changed in the last
    ``RECENT_S`` seconds, not to be kept)."""
    recent = (time.time() - store_index.RECENT_S) * 1e9
    keys: dict[str, Any] = {}
    for run in runs:
        run_dir = run_dirs.get(run)
        key = None if run_dir is None else store_index.stat_key(str(run_dir / PREDICTIONS_FILE))
        keys[run] = "recent" if key is not None and key[2] >= recent else key
    return keys


def column_digest(
    draw: tuple[str, BootstrapSettings],
    reference: Hashable,
    rows: Mapping[Any, Sequence[str]],
    identity: Mapping[str, Hashable],
    files: Mapping[str, Any],
) -> str | None:
    """The key of one column's Δs (see the module docstring); None when one of its files is
    recent."""
    runs = [run for members in rows.values() for run in members]
    if any(files.get(run) == "recent" for run in runs):
        return None
    name, settings = draw
    made_of = [
        store_index.code_fingerprint(),
        [settings.resamples, settings.seed, repr(settings.level)],
        name,
        repr(reference),
        [
            [repr(row), [[run, repr(identity.get(run)), files.get(run)] for run in members]]
            for row, members in rows.items()
        ],
    ]
    return hashlib.sha256(json.dumps(made_of).encode()).hexdigest()


def runs_of(rows: Mapping[Any, Sequence[str]]) -> set[str]:
    """The runs of a column's rows."""
    return {run for runs in rows.values() for run in runs}


def column_digests(
    members: Mapping[Any, Mapping[Any, Sequence[str]]],
    reference: Hashable,
    identity: Mapping[str, Hashable],
    run_dirs: Mapping[str, Path],
    settings: BootstrapSettings,
) -> dict[Any, str | None]:
    """Each column's key (:func:`column_digest`; ``members``: column key -> row key -> runs)."""
    files = predictions_keys(
        run_dirs, sorted({run for rows in members.values() for run in runs_of(rows)})
    )
    return {
        key: column_digest((repr(key), settings), reference, rows, identity, files)
        for key, rows in members.items()
    }


def _number(value: Any) -> bool:
    """What a kept Stat field may be: a number or None."""
    return value is None or (type(value) in (int, float))


class DeltaCache:
    """``.deltas.json`` of one suite folder (None: nothing kept): :meth:`get`, :meth:`put`,
    :meth:`save` at the end."""

    def __init__(self, folder: Path | None) -> None:
        self.path = None if folder is None else folder / DELTAS_FILE
        self.columns: dict[str, Any] = self._load()
        self.changed = False

    def _load(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing, unreadable or corrupt: rebuilt
            return {}
        columns = data.get("columns") if isinstance(data, dict) else None
        return columns if isinstance(columns, dict) else {}

    def get(self, digest: str | None, rows: Iterable[str]) -> Deltas | None:
        """The kept Δs of the column with this key, if any (``rows``: the reprs of its row keys, the
        only rows an entry may hold)."""
        entry = self.columns.get(digest) if digest is not None else None
        try:
            kept = entry["stats"].items()  # type: ignore[index]
            stats = {row: Stat(*fields) for row, fields in kept if all(map(_number, fields))}
            problem = entry["problem"]  # type: ignore[index]
        except (TypeError, KeyError, AttributeError):
            return None
        whole = len(stats) == len(kept) and set(stats) <= set(rows)
        whole = whole and (problem is None or isinstance(problem, str))
        return (stats, problem) if whole else None

    def put(self, digest: str | None, deltas: Deltas) -> None:
        """Keep a column's Δs under its key (not when it has none)."""
        if digest is None or self.path is None:
            return
        stats, problem = deltas
        self.columns.pop(digest, None)
        self.columns[digest] = {
            "stats": {
                row: [s.mean, s.std, s.n, s.low, s.high, s.p_value] for row, s in stats.items()
            },
            "problem": problem,
        }
        for old in list(self.columns)[: max(0, len(self.columns) - KEPT_COLUMNS)]:
            del self.columns[old]
        self.changed = True

    def save(self) -> None:
        """Write the file if it changed; a store that cannot take it goes without."""
        if not self.changed or self.path is None:
            return
        try:
            atomic_write_text(self.path, json.dumps({"columns": self.columns}))
        except OSError:
            return
        self.changed = False
