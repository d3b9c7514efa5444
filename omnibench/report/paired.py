"""Each row's top-1 difference to the table's reference row, with paired intervals from
``predictions.csv``.

Videos are paired by (dataset, split, index in the split list); a video that any run of a column
skipped as broken is left out of every run's accuracy in that column, so both sides of every
difference count the same videos. A column whose runs give one index two labels evaluated
different lists: it gets no interval, and says so. Statistics: :mod:`omnibench.report.stats`.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnibench.report import cells as C
from omnibench.report import delta_cache, predictions, stats
from omnibench.report.delta_cache import DeltaCache
from omnibench.report.labels import WITHIN_NOISE
from omnibench.report.predictions import Outcomes, Stratum
from omnibench.report.published import Stat
from omnibench.report.records import SuiteRuns
from omnibench.report.tables import DELTA, MEASURED, Row, TableSpecLike

TOP1 = "top1"  # the metric intervals are computed for (from each video's correctness)


@dataclasses.dataclass
class Column:
    """One column's runs on the videos all of them evaluated: observed accuracy, aligned outcomes
    per evaluation, and how to resample them (:meth:`accuracies`)."""

    observed: dict[str, float] = dataclasses.field(default_factory=dict)
    aligned: dict[str, dict[Stratum, np.ndarray]] = dataclasses.field(default_factory=dict)
    problem: str | None = None
    strata: list[tuple[Stratum, set[str]]] = dataclasses.field(default_factory=list)
    draws: tuple[str, stats.BootstrapSettings] | None = None  # the column's name and settings

    def accuracies(self, runs: Sequence[str]) -> np.ndarray:
        """(resamples, runs): each run's accuracy (0-1) on every resample of the videos, the mean
        over its evaluations. Each evaluation's draws are made again from its seed, so a column of
        thousands of runs is resampled a row at a time."""
        assert self.draws is not None
        name, settings = self.draws
        parts: dict[str, list[np.ndarray]] = {run: [] for run in runs}
        for stratum, members in self.strata:
            wanted = [run for run in runs if run in members]
            if not wanted:
                continue
            correct = np.stack([self.aligned[run][stratum] for run in wanted])
            rng = stats.rng_for(settings, name, *stratum)
            means = stats.resampled_means(correct, settings.resamples, rng, np.float32, True)
            if len(self.strata) == 1 and len(wanted) == len(parts):
                return means  # one evaluation, every run: nothing to average or reorder
            for i, run in enumerate(wanted):
                parts[run].append(means[:, i])
        return np.stack([_mean(found) for found in parts.values()], axis=1)


def _mean(parts: list[np.ndarray]) -> np.ndarray:
    """The mean of a run's evaluations' accuracies, in float64 (one evaluation: itself, exactly)."""
    return parts[0] if len(parts) == 1 else np.mean(np.asarray(parts, dtype=np.float64), axis=0)


def resample_column(
    outcomes: Mapping[str, Outcomes], name: str, settings: stats.BootstrapSettings
) -> Column:
    """Align every run of one column on the videos all of them evaluated (resampled with the same
    draws for all: :meth:`Column.accuracies`)."""
    column = Column(draws=(name, settings))
    for stratum in dict.fromkeys(s for runs in outcomes.values() for s in runs):
        runs = [r for r, found in outcomes.items() if stratum in found]
        indices = [outcomes[r][stratum].index for r in runs]
        # each list once (sorted, Outcome's invariant): one list shared by all (the usual case,
        # read once) is taken as it is, with nothing to intersect
        common = functools.reduce(np.intersect1d, {id(i): i for i in indices}.values())
        aligned = [outcomes[r][stratum].at(common) for r in runs]
        if any(
            a.label is not aligned[0].label and (a.label != aligned[0].label).any() for a in aligned
        ):
            return Column(
                problem=(
                    f"{'/'.join(stratum)}: runs give one video "
                    "different labels (different video lists)"
                )
            )
        column.strata.append((stratum, set(runs)))
        for run, outcome in zip(runs, aligned):
            size = outcome.correct.size  # its mean (nan without videos), without numpy's overhead
            right = np.count_nonzero(outcome.correct) / size if size else float("nan")
            column.observed[run] = column.observed.get(run, 0.0) + right
            column.aligned.setdefault(run, {})[stratum] = outcome.correct
    for run, strata in column.aligned.items():  # a run's accuracy: the mean over its evaluations
        column.observed[run] /= len(strata)
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
        [r for r in row if r in column.observed],
        [r for r in reference if r in column.observed],
    )
    if not row or not reference:
        return None
    reference_draws, rng = draws
    differences = stats.resample_runs(column.accuracies(row), rng, True) - reference_draws
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
    free: dict[Hashable, collections.deque[str]] = {}
    for run in reference:
        free.setdefault(identity.get(run), collections.deque()).append(run)
    pairs, unmatched = [], []
    for run in row:
        same = free.get(identity.get(run))
        if not same:
            unmatched.append(run)
            continue
        pairs.append((run, same.popleft()))
    taken = {match for _, match in pairs}
    return pairs + list(zip(unmatched, [r for r in reference if r not in taken]))


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
    folders = {path.parent for path in run_dirs.values()}
    kept = DeltaCache(folders.pop() if len(folders) == 1 else None)
    digests = delta_cache.column_digests(members, reference, identity, run_dirs, settings)
    found = {key: kept.get(digests[key], map(repr, rows)) for key, rows in members.items()}
    cache = predictions.read_all(
        {
            run
            for key, rows in members.items()
            if found[key] is None
            for run in delta_cache.runs_of(rows)
        },
        run_dirs,
    )
    out: dict[C.Key, dict[C.Key, Stat]] = {}
    problems: dict[str, list[str]] = {}  # why a column has no interval -> its columns
    for key, rows in members.items():
        deltas, problem = found[key] or _deltas(key, rows, reference, identity, cache, settings)
        if found[key] is None:
            kept.put(digests[key], (deltas, problem))
        if problem:
            problems.setdefault(problem, []).append(", ".join(map(str, key)))
        by_repr = {repr(row): row for row in rows}
        for row, stat in deltas.items():
            out.setdefault(by_repr[row], {})[key] = stat
    kept.save()
    return out, [
        f"no interval in {'; '.join(where)}: {problem}." for problem, where in problems.items()
    ]


def _deltas(
    key: C.Key,
    rows: Mapping[C.Key, Sequence[str]],
    reference: C.Key,
    identity: Mapping[str, Hashable],
    outcomes: Mapping[str, Outcomes | None],
    settings: stats.BootstrapSettings,
) -> delta_cache.Deltas:
    """One column's Δs by repr of the row key, and why it has no interval, if so."""
    present = {run: found for run in sorted(delta_cache.runs_of(rows)) if (found := outcomes[run])}
    column = (
        resample_column(present, repr(key), settings)
        if present
        else Column(problem="no predictions.csv")
    )
    deltas = column_deltas(column, rows, reference, identity, (repr(key), settings))
    return {repr(row): stat for row, stat in deltas.items()}, column.problem


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
    reference_runs = [r for r in rows[reference] if r in column.observed]
    if not reference_runs:
        return {}
    draws = stats.resample_runs(
        column.accuracies(reference_runs), stats.rng_for(settings, name, "reference"), True
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
