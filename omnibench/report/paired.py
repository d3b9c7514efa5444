"""Each row's top-1 difference to the table's reference row, with paired intervals from
``predictions.csv``.

Videos are paired by (dataset, split, index in the split list); a video that any run of a column
skipped as broken is left out of every run's accuracy in that column, so both sides of every
difference count the same videos. A column whose runs give one index two labels evaluated
different lists: it gets no interval, and says so. Statistics: :mod:`omnibench.report.stats`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnibench.execution.run_files import PREDICTIONS_FILE
from omnibench.report import cells as C
from omnibench.report import stats
from omnibench.report.labels import WITHIN_NOISE
from omnibench.report.published import Stat
from omnibench.report.records import SuiteRuns
from omnibench.report.tables import DELTA, MEASURED, Row, TableSpecLike

TOP1 = "top1"  # the metric intervals are computed for (from each video's correctness)
READ_COLUMNS = ["dataset", "split", "index", "label", "correct", "broken"]
Stratum = tuple[str, str]  # (dataset, split) of one evaluation


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One evaluation of one run: the evaluated videos' indices (sorted), labels and correctness."""

    index: np.ndarray
    label: np.ndarray
    correct: np.ndarray

    def at(self, indices: np.ndarray) -> Outcome:
        """The videos ``indices`` (all of them evaluated here)."""
        where = np.searchsorted(self.index, indices)
        return Outcome(indices, self.label[where], self.correct[where])


Outcomes = dict[Stratum, Outcome]


@dataclasses.dataclass
class Column:
    """What one column's runs resampled: accuracies (resamples,), observed accuracy, aligned
    outcomes."""

    resampled: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    observed: dict[str, float] = dataclasses.field(default_factory=dict)
    aligned: dict[str, dict[Stratum, np.ndarray]] = dataclasses.field(default_factory=dict)
    problem: str | None = None


def read_outcomes(run_dir: Path) -> Outcomes | None:
    """A run's evaluated videos (broken ones left out) per evaluation; None when it wrote no
    predictions."""
    path = run_dir / PREDICTIONS_FILE
    if not path.is_file():
        return None
    frame = pd.read_csv(
        path,
        usecols=READ_COLUMNS,
        dtype={"dataset": str, "split": str, "broken": str},
        na_filter=False,
    )
    keep = (frame["broken"] == "").to_numpy()
    strata = (frame["dataset"].to_numpy()[keep], frame["split"].to_numpy()[keep])
    columns = [frame[c].to_numpy()[keep] for c in ("index", "label", "correct")]
    out = {}
    for stratum in dict.fromkeys(zip(*strata)):
        mine = (strata[0] == stratum[0]) & (strata[1] == stratum[1])
        index, label, correct = (c[mine] for c in columns)
        order = np.argsort(index, kind="stable")
        out[(str(stratum[0]), str(stratum[1]))] = Outcome(
            index[order], label[order], correct[order].astype(bool)
        )
    return out


def resample_column(
    outcomes: Mapping[str, Outcomes], name: str, settings: stats.BootstrapSettings
) -> Column:
    """Resample every run of one column on the videos all of them evaluated (the same draws for
    all)."""
    column = Column()
    totals: dict[str, list[np.ndarray]] = {}
    for stratum in dict.fromkeys(s for runs in outcomes.values() for s in runs):
        runs = [r for r, found in outcomes.items() if stratum in found]
        common = functools.reduce(np.intersect1d, [outcomes[r][stratum].index for r in runs])
        aligned = [outcomes[r][stratum].at(common) for r in runs]
        if any((a.label != aligned[0].label).any() for a in aligned):
            return Column(
                problem=(
                    f"{'/'.join(stratum)}: runs give one video "
                    "different labels (different video lists)"
                )
            )
        correct = np.stack([a.correct for a in aligned])
        resampled = stats.resampled_means(
            correct, settings.resamples, stats.rng_for(settings, name, *stratum)
        )
        for i, run in enumerate(runs):
            totals.setdefault(run, []).append(resampled[i])
            column.observed[run] = column.observed.get(run, 0.0) + float(correct[i].mean())
            column.aligned.setdefault(run, {})[stratum] = correct[i]
    for run, parts in totals.items():  # a run's accuracy: the mean over its evaluations
        column.resampled[run] = np.mean(parts, axis=0)
        column.observed[run] /= len(parts)
    return column


def compare(
    column: Column,
    row: Sequence[str],
    reference: Sequence[str],
    identity: Mapping[str, Hashable],
    draws: tuple[np.ndarray, np.random.Generator],
    settings: stats.BootstrapSettings,
) -> Stat | None:
    """Row minus reference (percentage points) with its paired interval and McNemar's p-value."""
    row, reference = (
        [r for r in row if r in column.resampled],
        [r for r in reference if r in column.resampled],
    )
    if not row or not reference:
        return None
    reference_draws, rng = draws
    differences = (
        stats.resample_runs(np.stack([column.resampled[r] for r in row]), rng) - reference_draws
    )
    low, high = stats.percentile_interval(differences * 100, settings.level)
    delta = 100 * (
        np.mean([column.observed[r] for r in row])
        - np.mean([column.observed[r] for r in reference])
    )
    pairs = [
        _shared(column.aligned[a], column.aligned[b])
        for a, b in run_pairs(row, reference, identity)
    ]
    return Stat(
        float(delta) + 0.0,
        None,
        len(row),
        low,
        high,
        stats.paired_pvalue([p for p in pairs if p[0].size]),
    )


def _shared(
    a: Mapping[Stratum, np.ndarray], b: Mapping[Stratum, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    strata = [s for s in a if s in b]
    if not strata:
        return np.zeros(0, bool), np.zeros(0, bool)
    return np.concatenate([a[s] for s in strata]), np.concatenate([b[s] for s in strata])


def run_pairs(
    row: Sequence[str], reference: Sequence[str], identity: Mapping[str, Hashable]
) -> list[tuple[str, str]]:
    """Runs of the row paired with the reference's: same seeds first, then the rest in order."""
    free = list(reference)
    pairs, unmatched = [], []
    for run in row:
        match = next((r for r in free if identity.get(r) == identity.get(run)), None)
        if match is None:
            unmatched.append(run)
            continue
        free.remove(match)
        pairs.append((run, match))
    return pairs + list(zip(unmatched, free))


def reference_deltas(
    done: pd.DataFrame,
    run_dirs: Mapping[str, Path],
    row_paths: Sequence[str],
    col_paths: Sequence[str],
    columns: Sequence[C.Key],
    reference: C.Key,
    settings: stats.BootstrapSettings,
) -> tuple[dict[C.Key, dict[C.Key, Stat]], list[str]]:
    """Row key -> column key -> Δ top-1 to the reference row with its interval; and notes on what
    lacks one."""
    identity = {
        run: (seed, data_seed)
        for run, seed, data_seed in zip(
            done.get("run_id", []), done.get("seed", []), done.get("data_seed", [])
        )
    }
    members = {
        key: rows
        for key, rows in _members(done, row_paths, col_paths, columns).items()
        if reference in rows
    }
    cache = read_all(
        {run for rows in members.values() for runs in rows.values() for run in runs}, run_dirs
    )
    out: dict[C.Key, dict[C.Key, Stat]] = {}
    problems: dict[str, list[str]] = {}  # why a column has no interval -> its columns
    for key, rows in members.items():
        runs = sorted({run for runs in rows.values() for run in runs})
        found = {run: outcomes for run in runs if (outcomes := cache[run])}
        column = (
            resample_column(found, repr(key), settings)
            if found
            else Column(problem="no predictions.csv")
        )
        if column.problem:
            problems.setdefault(column.problem, []).append(", ".join(map(str, key)))
        for row, stat in column_deltas(
            column, rows, reference, identity, (repr(key), settings)
        ).items():
            out.setdefault(row, {})[key] = stat
    return out, [
        f"no interval in {'; '.join(where)}: {problem}." for problem, where in problems.items()
    ]


def read_all(runs: Iterable[str], run_dirs: Mapping[str, Path]) -> dict[str, Outcomes | None]:
    """Every run's outcomes (None: no predictions), the files read by a few threads (the parser
    releases the GIL)."""
    runs = sorted(runs)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        found = pool.map(
            lambda run: read_outcomes(run_dirs[run]) if run in run_dirs else None, runs
        )
        return dict(zip(runs, found))


def column_deltas(
    column: Column,
    rows: Mapping[C.Key, Sequence[str]],
    reference: C.Key,
    identity: Mapping[str, Hashable],
    draw: tuple[str, stats.BootstrapSettings],
) -> dict[C.Key, Stat]:
    """Every other row's Δ to the reference in one column (``draw``: the column's name and the
    settings)."""
    name, settings = draw
    reference_runs = [r for r in rows[reference] if r in column.resampled]
    if not reference_runs:
        return {}
    draws = stats.resample_runs(
        np.stack([column.resampled[r] for r in reference_runs]),
        stats.rng_for(settings, name, "reference"),
    )
    out = {}
    for row, runs in rows.items():
        rng = stats.rng_for(settings, name, repr(row))
        stat = (
            None
            if row == reference
            else compare(column, runs, reference_runs, identity, (draws, rng), settings)
        )
        if stat is not None:
            out[row] = stat
    return out


def _members(
    done: pd.DataFrame, row_paths: Sequence[str], col_paths: Sequence[str], columns: Sequence[C.Key]
) -> dict[C.Key, dict[C.Key, list[str]]]:
    """Column key -> row key -> run ids (a run with an unset column level fills every column it
    covers)."""
    members: dict[C.Key, dict[C.Key, list[str]]] = {}
    if done.empty or "run_id" not in done:
        return members
    for run, row, col in zip(
        done["run_id"], C.keys_of(done, row_paths), C.keys_of(done, col_paths)
    ):
        for key in columns:
            if C.covers(col, key):
                members.setdefault(key, {}).setdefault(row, []).append(str(run))
    return members


def with_reference_deltas(
    rows: list[Row],
    measured: Sequence[C.MeasuredRow],
    spec: TableSpecLike,
    runs: SuiteRuns,
    done_columns: tuple[pd.DataFrame, list[Any]],
    bootstrap: stats.BootstrapSettings,
) -> tuple[list[Row], list[str]]:
    """A "Δ vs <reference>" row after each other measured row (and its Δ to the paper), and the
    notes."""
    key = C.reference_key(spec.reference or {}, spec.rows)
    reference = next((m for m in measured if m.key == key), None)
    if reference is None:
        return rows, []
    done, columns = done_columns
    paired, notes = reference_deltas(
        done, runs.run_dirs, spec.rows, spec.columns, columns, key, bootstrap
    )
    deltas = {
        m.label: {
            **C.deltas(m.cells, reference.cells),
            **{(c, TOP1): s for c, s in paired.get(m.key, {}).items()},
        }
        for m in measured
        if m is not reference
    }
    source = f"Δ vs {reference.label}"
    extra = {label: Row(label, source, DELTA, cells) for label, cells in deltas.items() if cells}
    return _insert_after_measured(rows, extra), [reference_note(reference.label, bootstrap), *notes]


def _insert_after_measured(rows: Sequence[Row], extra: Mapping[str, Row]) -> list[Row]:
    """``rows`` with ``extra[method]`` after that method's measured row and the Δ rows that follow
    it."""
    out: list[Row] = []
    pending: Row | None = None
    for row in rows:
        if pending is not None and not (row.kind == DELTA and row.method == pending.method):
            out.append(pending)
            pending = None
        out.append(row)
        if row.kind == MEASURED:
            pending = extra.get(row.method)
    return out + ([pending] if pending is not None else [])


def reference_note(label: str, bootstrap: stats.BootstrapSettings) -> str:
    """How to read the "Δ vs <reference>" rows."""
    return (
        f"Δ vs {label}: top-1 minus the reference row's ({label}) on the same test videos, "
        f"[{bootstrap.level:.0%} paired bootstrap interval] "
        f"({bootstrap.resamples} resamples of the videos and of "
        f"each cell's runs, seed {bootstrap.seed}); "
        f"{WITHIN_NOISE} = the interval contains 0: within noise. "
        f"McNemar's exact p-values are in the CSV."
    )
