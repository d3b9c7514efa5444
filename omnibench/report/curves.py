"""Training curves of a report table: its runs' ``train_steps.json``, a line per table row in a
panel per table column (datasets, K...), the seeds (and samplings) of a line pooled into mean ±
std.

A table's runs are the suite's specs that fall in its rows and columns, in whatever state has a
curve: finished, failed (a diverged run keeps its curve) or still training (up to its last
checkpoint). A finished run without the file (made by an older omnibench) shows the per-epoch
loss and LR of its record's ``train.history``. Only the curve files and the records of the
table's runs (to judge "at chance") are read. Runs of a line are aligned by optimiser step; a
line's x positions are those of its longest run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from omnibench.report import cells as C
from omnibench.report.labels import row_label, value_label
from omnibench.report.records import specs_frame
from omnibench.report.tables import ReportTable
from omnibench.store.chance import chance_loss, run_at_chance
from omnibench.store.run_files import TRAIN_STEPS_FILE
from omnibench.store.train_steps import TrainSteps, UnreadableStepsError, read_train_steps

if TYPE_CHECKING:
    from omnibench.store.run_store import RunStore

Band = tuple[np.ndarray, np.ndarray, np.ndarray]  # x, mean, std (NaN where fewer than 2 runs)


@dataclasses.dataclass(frozen=True)
class RunCurve:
    """One run's curve and whether the run ended at chance; ``per_epoch``: only the epochs' mean
    loss and last LR, from the record of a run without ``train_steps.json`` (older omnibench)."""

    run_id: str
    steps: TrainSteps
    at_chance: bool = False
    per_epoch: bool = False


@dataclasses.dataclass
class CurveLine:
    """One table row in one panel: the curves of its runs (seeds, samplings)."""

    label: str
    runs: list[RunCurve] = dataclasses.field(default_factory=list)

    def step_band(self, field: str) -> Band:
        """Per optimiser step: x (epochs), mean and std over runs of ``field`` (loss or lr); the
        runs with per-epoch values only when no run has more."""
        runs = [run for run in self.runs if not run.per_epoch] or self.runs
        longest = max(runs, key=lambda run: len(run.steps)).steps
        values = np.full((len(runs), len(longest)), np.nan)
        for i, run in enumerate(runs):
            values[i, : len(run.steps)] = getattr(run.steps, field)
        return np.asarray(longest.positions()), *_mean_std(values)

    def epoch_band(self) -> Band:
        """Per epoch: the epoch, mean and std over runs of the epoch's mean loss."""
        means = [run.steps.epoch_means() for run in self.runs]
        epochs = sorted({epoch for mean in means for epoch in mean})
        values = np.array([[mean.get(e, np.nan) for e in epochs] for mean in means], dtype=float)
        return np.asarray(epochs, dtype=float), *_mean_std(values)

    def diverged(self) -> list[tuple[float, int, float]]:
        """(x, step, last finite loss) where each diverged run's loss stopped being finite."""
        out = []
        for run in self.runs:
            step = run.steps.diverged_at
            if step is not None:
                before = [v for v in run.steps.loss[: step - 1] if math.isfinite(v)]
                out.append((run.steps.positions()[step - 1], step, before[-1] if before else 0.0))
        return out

    @property
    def at_chance(self) -> int:
        """How many of the line's runs ended at chance."""
        return sum(run.at_chance for run in self.runs)


def _mean_std(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std (ddof=1) of each column over the finite values; NaN where none (the
    std: where fewer than two)."""
    finite = np.where(np.isfinite(values), values, np.nan)
    counts = np.sum(np.isfinite(finite), axis=0)
    total = np.nansum(finite, axis=0)
    mean = np.divide(total, counts, out=np.full(counts.shape, np.nan), where=counts > 0)
    squares = np.nansum((finite - mean) ** 2, axis=0)
    std = np.divide(squares, counts - 1, out=np.full(counts.shape, np.nan), where=counts > 1)
    return mean, np.sqrt(std)


@dataclasses.dataclass
class CurvePanel:
    """One table column (a dataset, a K...): a line per row that has a curve there."""

    key: tuple[Any, ...]
    title: str
    lines: list[CurveLine]

    def runs(self) -> list[RunCurve]:
        return [run for line in self.lines for run in line.runs]

    def shared(self, field: str) -> int | None:
        """``classes`` or ``steps_per_epoch`` when every run of the panel has the same, else
        None (steps per epoch: also when a curve holds epochs only)."""
        if field == "steps_per_epoch" and any(run.per_epoch for run in self.runs()):
            return None
        values = {getattr(run.steps, field) for run in self.runs()}
        return values.pop() if len(values) == 1 else None

    def chance_loss(self) -> float | None:
        """A uniform guess's loss (ln C) when the panel's runs share their class count."""
        classes = self.shared("classes")
        return chance_loss(classes) if classes is not None else None


@dataclasses.dataclass
class TableCurves:
    """The curves of one report table, and the runs whose curve could not be read."""

    table: ReportTable
    panels: list[CurvePanel]
    unreadable: list[str] = dataclasses.field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """The table's row labels, in table order (measured rows: a line's label)."""
        return [row.method for row in self.table.rows]


def table_curves(suite: Any, table: ReportTable, store: RunStore) -> TableCurves:
    """The curves of ``table``'s runs (``suite``: the ``Suite`` that feeds it)."""
    row_paths = list(suite.table.rows)
    keys = list(dict.fromkeys(c.key for c in table.columns if c.kind == "value"))
    col_paths = list(table.level_names[: len(keys[0])]) if keys else []
    specs = specs_frame([spec.plain() for spec in suite.specs])
    row_keys, col_keys = C.keys_of(specs, row_paths), C.keys_of(specs, col_paths)
    found = TableCurves(table, [])
    lines: dict[tuple[Any, ...], dict[tuple[Any, ...], CurveLine]] = {k: {} for k in keys}
    for spec, row_key, col_key in zip(suite.specs, row_keys, col_keys):
        curve = _run_curve(store, suite.name, spec.run_id(), found.unreadable)
        for panel in [col_key] if col_key in lines else [k for k in keys if C.covers(col_key, k)]:
            label = row_label(row_paths, row_key)
            lines[panel].setdefault(row_key, CurveLine(label)).runs.extend([curve] if curve else [])
    order = {label: i for i, label in enumerate(found.labels)}
    for key in keys:
        drawn = sorted(
            (line for line in lines[key].values() if line.runs),
            key=lambda line: order.get(line.label, len(order)),
        )
        if drawn:
            found.panels.append(CurvePanel(key, _title(col_paths, key), drawn))
    return found


def _run_curve(store: RunStore, suite: str, run_id: str, unreadable: list[str]) -> RunCurve | None:
    """A run's curve (None without one; an unreadable file is noted in ``unreadable``)."""
    try:
        steps = read_train_steps(store.run_dir(suite, run_id) / TRAIN_STEPS_FILE)
    except UnreadableStepsError as err:
        unreadable.append(str(err))
        return None
    record = store.read_record(suite, run_id)
    if steps is None:
        return _epoch_curve(run_id, record)
    return RunCurve(run_id, steps, run_at_chance(record)) if len(steps) else None


def _epoch_curve(run_id: str, record: Mapping[str, Any] | None) -> RunCurve | None:
    """The per-epoch curve in the record of a run without ``train_steps.json``, if it trained."""
    history = ((record or {}).get("train") or {}).get("history") or []
    if not history:
        return None
    classes = len((record or {}).get("classes") or ())
    epochs = tuple(int(h["epoch"]) for h in history)
    loss = tuple(float(h["loss"]) for h in history)
    steps = TrainSteps(classes, 1, epochs, loss, tuple(float(h["lr"]) for h in history))
    return RunCurve(run_id, steps, run_at_chance(record), per_epoch=True)


def _title(paths: Sequence[str], key: tuple[Any, ...]) -> str:
    return " ".join(
        value_label(path, value) for path, value in zip(paths, key) if value is not None
    )
