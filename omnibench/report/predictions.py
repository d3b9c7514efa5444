"""Each run's per-video outcomes (``predictions.csv``), read once and kept in the suite's folder.

The paired intervals (:mod:`omnibench.report.paired`) need, per run and evaluation, the evaluated
videos' indices, labels and correctness: six of the file's columns. A few thousand files take
seconds to parse, so what they hold is also kept in ``<results>/<suite>/.outcomes.npz``, beside
the store's index (:mod:`omnibench.store.index`) and under the same rules: an entry
counts only while its ``predictions.csv`` is the very file it was read from (inode, size,
modification time), only for the omnibench code that read it; files changed in the last seconds
are not kept; a missing or unreadable cache is rebuilt, and one that cannot be written is not
kept. The runs of a split share one copy of its indices and labels; only each run's correctness
is its own.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnibench.atomic import atomic_output
from omnibench.store import index as store_index
from omnibench.store.run_files import OUTCOMES_FILE, PREDICTIONS_FILE

READ_COLUMNS = ["dataset", "split", "index", "label", "correct", "broken"]
CSV_MAX_BYTES = 1 << 20  # smaller files parse faster with the csv module than with pandas
Stratum = tuple[str, str]  # (dataset, split) of one evaluation


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One evaluation of one run: the evaluated videos' indices (sorted, each once), labels and
    correctness."""

    index: np.ndarray
    label: np.ndarray
    correct: np.ndarray

    def at(self, indices: np.ndarray) -> Outcome:
        """The videos ``indices`` (all of them evaluated here)."""
        if indices is self.index:
            return self
        where = np.searchsorted(self.index, indices)
        return Outcome(indices, self.label[where], self.correct[where])


Outcomes = dict[Stratum, Outcome]
Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def read_outcomes(run_dir: Path) -> Outcomes | None:
    """A run's evaluated videos (broken ones left out) per evaluation; None when it wrote no
    predictions."""
    path = run_dir / PREDICTIONS_FILE
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    return _outcomes(_columns(data))


def _columns(data: bytes) -> Columns:
    """The file's dataset, split, index, label, correct and broken columns."""
    if len(data) <= CSV_MAX_BYTES:
        try:
            return _csv_columns(data.decode("utf-8"))
        except (
            KeyError,
            IndexError,
            ValueError,
        ):  # anything else: pandas reads it (or says why not)
            pass
    frame = pd.read_csv(
        io.BytesIO(data),
        usecols=READ_COLUMNS,
        dtype={"dataset": str, "split": str, "broken": str},
        na_filter=False,
    )
    return tuple(frame[c].to_numpy() for c in READ_COLUMNS)


def _csv_columns(text: str) -> Columns:
    """:func:`_columns` with the csv module, for the files runs write (``correct`` is ``True`` or
    ``False``); a ValueError for anything else."""
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows)
    at = [header.index(name) for name in READ_COLUMNS]
    picked = list(zip(*([row[i] for i in at] for row in rows)))
    if not picked:
        raise ValueError("no rows")
    dataset, split, index, label, correct, broken = picked
    if not set(correct) <= {"True", "False"}:
        raise ValueError("correct is not True / False")
    return (
        np.array(dataset, dtype=object),
        np.array(split, dtype=object),
        np.array([int(v) for v in index], dtype=np.int64),
        np.array([int(v) for v in label], dtype=np.int64),
        np.array([v == "True" for v in correct]),
        np.array(broken, dtype=object),
    )


def _first_of_each(ordered: np.ndarray) -> np.ndarray:
    """Where each value of the sorted ``ordered`` first appears (a boolean mask)."""
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return first


def _outcomes(columns: Columns) -> Outcomes:
    dataset, split, index, label, correct, broken = columns
    keep = broken == ""
    strata = (dataset[keep], split[keep])
    kept = [index[keep], label[keep], correct[keep]]
    out = {}
    for stratum in dict.fromkeys(zip(*strata)):
        mine = (strata[0] == stratum[0]) & (strata[1] == stratum[1])
        position, truth, right = (c[mine] for c in kept)
        order = np.argsort(position, kind="stable")
        order = order[_first_of_each(position[order])]  # a video listed twice counts once
        out[(str(stratum[0]), str(stratum[1]))] = Outcome(
            position[order], truth[order], right[order].astype(bool)
        )
    return out


class OutcomeCache:
    """``.outcomes.npz`` of one suite folder: :meth:`read` per run, :meth:`save` at the end."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / OUTCOMES_FILE
        self.runs: dict[str, dict[str, Any]] = {}  # run id -> its file's key and outcomes
        self.shared: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # one copy of each split
        self.changed = False
        self._load()

    def _load(self) -> None:
        """The kept outcomes; none when the file is missing, damaged or another code's."""
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                meta = json.loads(str(npz["meta"]))
                if meta.get("code") != store_index.code_fingerprint():
                    return
                self.runs = self._parsed(meta, {n: npz[n] for n in ("index", "label", "correct")})
        except (OSError, EOFError, zipfile.BadZipFile, ValueError, LookupError, TypeError):
            self.runs, self.shared = {}, {}

    def _parsed(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        refs = [self._share(arrays["index"][a:b], arrays["label"][a:b]) for a, b in meta["refs"]]
        runs = {}
        for run_id, (key, strata) in meta["runs"].items():
            outcomes = {
                (str(dataset), str(split)): Outcome(
                    refs[ref][0], refs[ref][1], arrays["correct"][a:b]
                )
                for dataset, split, ref, a, b in strata
            }
            runs[str(run_id)] = {"key": key, "outcomes": outcomes}
        return runs

    def _share(self, index: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The one copy of these indices and labels (the runs of a split share them)."""
        digest = hashlib.sha256(index.tobytes() + b"|" + label.tobytes()).digest()
        return self.shared.setdefault(digest, (index, label))

    def read(self, run_dir: Path) -> Outcomes | None:
        """The run's outcomes: kept ones while its ``predictions.csv`` is unchanged, else read."""
        path = run_dir / PREDICTIONS_FILE
        try:
            stat = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        kept = self.runs.get(run_dir.name)
        key = [stat.st_ino, stat.st_size, stat.st_mtime_ns]
        if kept is not None and kept["key"] == key:
            return dict(kept["outcomes"])
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            outcomes = _outcomes(_columns(handle.read()))
        shared = {}
        for stratum, outcome in outcomes.items():
            index, label = self._share(outcome.index, outcome.label)
            shared[stratum] = Outcome(index, label, outcome.correct)
        if stat.st_mtime < time.time() - store_index.RECENT_S:
            key = [stat.st_ino, stat.st_size, stat.st_mtime_ns]
            self.runs[run_dir.name] = {"key": key, "outcomes": shared}
            self.changed = True
        return shared

    def save(self) -> None:
        """Write the cache if it changed; a store that cannot take it goes without."""
        if not self.changed:
            return
        refs: dict[int, int] = {}  # id of a shared index array -> its place in ``ref_arrays``
        ref_arrays: list[tuple[np.ndarray, np.ndarray]] = []
        correct: list[np.ndarray] = []
        offset, runs = 0, {}
        for run_id, kept in self.runs.items():
            strata = []
            for (dataset, split), outcome in kept["outcomes"].items():
                if id(outcome.index) not in refs:
                    refs[id(outcome.index)] = len(ref_arrays)
                    ref_arrays.append((outcome.index, outcome.label))
                size = len(outcome.correct)
                strata.append([dataset, split, refs[id(outcome.index)], offset, offset + size])
                correct.append(outcome.correct)
                offset += size
            runs[run_id] = [kept["key"], strata]
        bounds = np.cumsum([0, *(len(i) for i, _ in ref_arrays)]).tolist()
        meta = {"code": store_index.code_fingerprint(), "refs": list(zip(bounds, bounds[1:]))}
        try:
            with atomic_output(self.path, binary=True) as handle:
                np.savez(
                    handle,
                    meta=np.array(json.dumps({**meta, "runs": runs})),
                    index=_joined([i for i, _ in ref_arrays], np.int64),
                    label=_joined([label for _, label in ref_arrays], np.int64),
                    correct=_joined(correct, bool),
                )
        except OSError:
            return
        self.changed = False


def _joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def read_all(runs: Iterable[str], run_dirs: Mapping[str, Path]) -> dict[str, Outcomes | None]:
    """Every run's outcomes (None: no predictions), through each suite folder's cache."""
    caches: dict[Path, OutcomeCache] = {}
    found: dict[str, Outcomes | None] = {}
    for run in sorted(runs):
        run_dir = run_dirs.get(run)
        if run_dir is None:
            found[run] = None
            continue
        cache = caches.get(run_dir.parent) or caches.setdefault(
            run_dir.parent, OutcomeCache(run_dir.parent)
        )
        found[run] = cache.read(run_dir)
    for cache in caches.values():
        cache.save()
    return found
