"""Training-curve figures (``omnibench report --curves DIR``): per table, one PNG per metric.

``<suite>-<table>-loss.png``: training loss against epochs, a panel per table column, a line per
row in the row's colour of the table's top-1 figure. Thin: the loss of every optimiser step (mean
over the row's seeds); thick with dots: each epoch's mean loss, shaded ± its std over seeds. The
dotted line is a uniform guess's loss, ln C. A run that diverged gets a red × where its loss
stopped being finite; a line whose runs ended at chance (:mod:`omnibench.store.chance`) gets an
open circle at its end. ``<suite>-<table>-lr.png``: the learning rate of every optimiser step.
A top axis counts optimiser steps where a panel's runs share their steps per epoch. No protocol
evaluates during training (model selection never sees the test split), so no top-1 curve: the
final top-1 is the table's.

Sized for a paper: 7 inches wide (a two-column figure), 8-point text, 150 dpi, written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from omnibench.report.curves import CurveLine, CurvePanel, TableCurves
from omnibench.report.plots import method_colors, save_png
from omnibench.store.chance import AT_CHANCE, DIVERGED

WIDTH, PANEL_HEIGHT, COLUMNS, DPI, FONT = 7.0, 2.2, 3, 150, 8
METRICS = {"loss": "training loss", "lr": "learning rate"}


def write_curves(curves: Sequence[TableCurves], directory: Path) -> list[Path]:
    """``<table>-loss.png`` and ``<table>-lr.png`` for every table with a curve; the paths
    written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in curves:
        if table.panels:
            for metric in METRICS:
                path = directory / f"{table.table.name}-{metric}.png"
                written.append(save_png(curve_figure(table, metric), path, dpi=DPI))
    return written


def curve_figure(curves: TableCurves, metric: str) -> Figure:
    """``metric`` (loss | lr) of every row against epochs, a panel per column of the table."""
    count = len(curves.panels)
    columns = min(COLUMNS, count)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(WIDTH, 0.9 + PANEL_HEIGHT * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    title = f"{METRICS[metric].capitalize()} — {curves.table.title}"
    figure.suptitle(title, fontsize=FONT + 1)
    colors = method_colors(curves.labels + [line.label for p in curves.panels for line in p.lines])
    for ax, panel in zip(axes, curves.panels):
        for line in panel.lines:
            draw = _loss_line if metric == "loss" else _lr_line
            draw(ax, line, colors[line.label])
        _panel_style(ax, panel, metric)
    for ax in axes[count:]:
        ax.set_visible(False)
    _legend(figure, curves, colors, metric)
    return figure


def _loss_line(ax: Axes, line: CurveLine, color: str) -> None:
    x, mean, _ = line.step_band("loss")
    ax.plot(x, mean, color=color, linewidth=0.6, alpha=0.35, marker="." if len(x) < 3 else "")
    epochs, epoch_mean, epoch_std = line.epoch_band()
    ax.plot(epochs, epoch_mean, color=color, linewidth=1.4, marker="o", markersize=2.2)
    spread = np.nan_to_num(epoch_std)
    ax.fill_between(
        epochs, epoch_mean - spread, epoch_mean + spread, color=color, alpha=0.2, linewidth=0
    )
    for where, _step, last in line.diverged():
        ax.plot(where, last, marker="x", color="red", markersize=7, mew=2, zorder=4)
    if line.at_chance:
        finite = np.isfinite(epoch_mean)
        if finite.any():
            last = np.flatnonzero(finite)[-1]
            ax.plot(
                epochs[last], epoch_mean[last], marker="o", markersize=8, mfc="none", color=color
            )


def _lr_line(ax: Axes, line: CurveLine, color: str) -> None:
    x, mean, _ = line.step_band("lr")
    ax.plot(x, mean, color=color, linewidth=1.2)


def _panel_style(ax: Axes, panel: CurvePanel, metric: str) -> None:
    ax.set_title(panel.title, fontsize=FONT)
    ax.set_xlabel("epoch", fontsize=FONT)
    ax.set_ylabel(METRICS[metric], fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(alpha=0.3)
    ax.set_xlim(left=0)
    if metric == "lr":
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        ax.yaxis.get_offset_text().set_fontsize(FONT - 1)
        ax.set_ylim(bottom=0)
    guess = panel.chance_loss() if metric == "loss" else None
    if guess is not None:
        ax.axhline(guess, color="0.3", linestyle=":", linewidth=1.2, zorder=1)
        classes = panel.shared("classes")
        ax.annotate(
            f"chance: ln {classes} = {guess:.2f}",
            (1.0, guess),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=FONT - 1,
            color="0.3",
        )
        ax.set_ylim(bottom=0)
    per_epoch = panel.shared("steps_per_epoch")
    if per_epoch:
        top = ax.secondary_xaxis("top", functions=_steps_axis(per_epoch))
        top.set_xlabel("optimiser step", fontsize=FONT - 1)
        top.xaxis.set_major_locator(MaxNLocator(integer=True))
        top.tick_params(labelsize=FONT - 2)


def _steps_axis(per_epoch: int) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Epochs to optimiser steps and back."""

    def to_steps(epochs: Any) -> Any:
        return np.asarray(epochs) * per_epoch

    def to_epochs(steps: Any) -> Any:
        return np.asarray(steps) / per_epoch

    return to_steps, to_epochs


def _legend(figure: Figure, curves: TableCurves, colors: dict[str, str], metric: str) -> None:
    """One legend below the panels: the rows, then the marks the figure uses."""
    labels = list(dict.fromkeys(line.label for p in curves.panels for line in p.lines))
    handles = [Line2D([], [], color=colors[label], linewidth=1.6) for label in labels]
    lines = [line for p in curves.panels for line in p.lines]
    if metric == "loss" and any(line.diverged() for line in lines):
        handles.append(Line2D([], [], marker="x", color="red", linestyle="", mew=2))
        labels.append(f"{DIVERGED} (loss not finite)")
    if metric == "loss" and any(line.at_chance for line in lines):
        handles.append(Line2D([], [], marker="o", mfc="none", color="0.2", linestyle=""))
        labels.append(f"top-1 {AT_CHANCE}")
    if curves.unreadable:
        labels.append(f"not drawn: {len(curves.unreadable)} unreadable curve file(s)")
        handles.append(Line2D([], [], linestyle=""))
    figure.legend(
        handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=FONT
    )
