"""Figures (PNG, matplotlib's Agg canvas): few-shot top-1 vs K, top-1 vs GFLOPs, ablation bars.

- grid tables with a shots column (Table 5): top-1 against K, one panel per dataset, a line per
  method and source (omnibench solid with error bars, published dashed);
- supervised tables with GFLOPs (Tables 2/3): top-1 against GFLOPs per view (the OmniCLIP
  paper's Figure 2(d));
- other grid tables (ablations, Tables 7-11): grouped bars, published hatched, omnibench with
  error bars (the std over a cell's seeds / splits).

Measured points and bars whose runs skipped broken videos carry a † (the table's notes give the
counts). Every figure is ``FIGSIZE`` inches at ``DPI``, so every PNG is ``PIXELS`` in size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from omnibench.atomic import atomic_output
from omnibench.config.metrics import METRICS, metric_label
from omnibench.report.caveats import SKIP_MARK
from omnibench.report.labels import value_label
from omnibench.report.published import Stat
from omnibench.report.tables import DELTA, MEASURED, PUBLISHED, Column, ReportTable

FIGSIZE, DPI = (10.0, 4.5), 100
PIXELS = (1000, 450)  # width, height
_PALETTE = [f"C{i}" for i in range(10)]


def plot_kind(table: ReportTable) -> str | None:
    """Which figure a table gets: "few_shot", "flops", "ablation", or None (also when it has no
    values)."""
    if not any(c.kind == "value" for c in table.columns) or table.tidy().empty:
        return None
    if table.layout == "grid":
        shots = [i for i, name in enumerate(table.level_names) if "shots" in name]
        ks = {c.key[shots[0]] for c in table.columns} if shots else set()
        return "few_shot" if len(ks) > 1 and None not in ks else "ablation"
    if table.layout == "supervised" and any(c.kind == "cost" for c in table.columns):
        return "flops"
    return None


def write_plots(tables: Sequence[ReportTable], directory: Path) -> list[Path]:
    """One PNG per table that has a figure (``<suite>-<table>.png``); returns the paths written."""
    plotters = {"few_shot": few_shot_figure, "flops": flops_figure, "ablation": ablation_figure}
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        kind = plot_kind(table)
        if kind is not None:
            written.append(save_png(plotters[kind](table), directory / f"{table.name}.png"))
    return written


def save_png(figure: Figure, path: Path, dpi: int = DPI) -> Path:
    """Save atomically: a reader never sees half a PNG."""
    with atomic_output(path, binary=True) as handle:
        figure.savefig(handle, format="png", dpi=dpi)
    return path


def _points(table: ReportTable) -> pd.DataFrame:
    """Measured and published cells in long format (no Δ rows)."""
    data = table.tidy()
    return data[data["kind"] != DELTA] if not data.empty else data


def method_colors(methods: Sequence[str]) -> dict[str, str]:
    """A colour per distinct name, in order of first appearance: a table's rows get the same
    colours in its top-1 figure and in its training curves."""
    return {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(dict.fromkeys(methods))}


def _new_figure(table: ReportTable, panels: int = 1) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    axes = figure.subplots(1, max(panels, 1), squeeze=False)[0]
    figure.suptitle(table.title, fontsize=10)
    return figure, axes


def _first_metric(table: ReportTable) -> str:
    return next(c.metric for c in table.columns if c.kind == "value")


def few_shot_figure(table: ReportTable) -> Figure:
    """Top-1 against K, one panel per value of the other column levels (datasets)."""
    shots = next(name for name in table.level_names if "shots" in name)
    facets = [name for name in table.level_names if name != shots]
    metric = _first_metric(table)
    data = _points(table)
    data = data[data["metric"] == metric]
    data = data.assign(panel=list(data[facets].itertuples(index=False, name=None)))
    panels = list(
        dict.fromkeys(
            tuple(v for n, v in zip(table.level_names, c.key) if n != shots) for c in table.columns
        )
    )
    figure, axes = _new_figure(table, len(panels))
    colors = method_colors([r.method for r in table.rows])
    ks = sorted({c.key[table.level_names.index(shots)] for c in table.columns})
    for ax, panel in zip(axes, panels):
        for (method, source, kind), line in data[[p == panel for p in data["panel"]]].groupby(
            ["method", "source", "kind"], sort=False
        ):
            ours = kind == MEASURED
            line = line.sort_values(shots)
            ax.errorbar(
                line[shots],
                line["mean"],
                yerr=line["std"].fillna(0).to_numpy() if ours else None,
                color=colors[method],
                linestyle="-" if ours else "--",
                marker="o" if ours else ".",
                alpha=1.0 if ours else 0.6,
                capsize=3 if ours else 0,
                label=f"{method} ({source})",
            )
            if ours:
                skip_marks(
                    ax, line[shots], line["mean"], line["skipped"] if "skipped" in line else []
                )
        title = " ".join(value_label(f, v) for f, v in zip(facets, panel))
        _axes_style(ax, title or metric_label(metric), "K (videos per class)", metric)
        chance_line(ax, table, metric)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
    _legend(figure, axes)
    return figure


def _axes_style(ax: Axes, title: str, xlabel: str, metric: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric_label(metric)} (%)")
    ax.grid(alpha=0.3)


def flops_figure(table: ReportTable) -> Figure:
    """Top-1 against GFLOPs per view (OmniCLIP Figure 2(d)): published points grey, omnibench
    stars."""
    metric = _first_metric(table)
    figure, axes = _new_figure(table)
    ax = axes[0]
    points = _flops_points(table, metric)
    colors = method_colors(points["method"].tolist()) if not points.empty else {}
    for _, point in points.iterrows():
        ours = point["kind"] == MEASURED
        ax.scatter(
            point["gflops"],
            point[metric],
            s=110 if ours else 30,
            marker="*" if ours else "o",
            color=colors[point["method"]] if ours else "0.55",
            zorder=3 if ours else 2,
            label="omnibench" if ours else "published",
        )
        ax.annotate(
            point["label"],
            (point["gflops"], point[metric]),
            textcoords="offset points",
            xytext=(5, 3),
            fontsize=7,
            color=colors[point["method"]] if ours else "0.25",
            weight="bold" if ours else None,
        )
    _axes_style(ax, "", "GFLOPs per view", metric)
    ax.set_xscale("log")
    _legend(figure, [ax])
    return figure


def _flops_points(table: ReportTable, metric: str) -> pd.DataFrame:
    """One point per row with both GFLOPs and ``metric``; repeated published points drawn once."""
    data = _points(table)
    if data.empty or not {"gflops", metric} <= set(data["metric"]):
        return pd.DataFrame(columns=["method", "kind", "gflops", metric, "label"])
    extra = [c for c in ("backbone", "frames_views") if c in data]
    wide = data.pivot_table(
        index=["row", "method", "kind", *extra], columns="metric", values="mean"
    ).reset_index()
    wide = wide.dropna(subset=["gflops", metric]).drop_duplicates(
        subset=["method", "kind", "gflops", metric]
    )
    published = wide["kind"] != MEASURED
    repeated = published & (
        wide[published].groupby("method")["row"].transform("size").reindex(wide.index) > 1
    )
    details = (
        wide[extra].astype(str).agg(" ".join, axis=1) if extra else pd.Series("", index=wide.index)
    )
    wide["label"] = [
        f"{m} {d}" if rep else m if pub else f"{m} (omnibench)"
        for m, d, rep, pub in zip(wide["method"], details, repeated, published)
    ]
    return wide


def ablation_figure(table: ReportTable) -> Figure:
    """Grouped bars: one group per row label, one bar per column key and source (published
    hatched)."""
    metric = _first_metric(table)
    figure, axes = _new_figure(table)
    ax = axes[0]
    labels = list(dict.fromkeys(r.method for r in table.rows if r.kind != DELTA))
    kinds = [kind for kind in (PUBLISHED, MEASURED) if any(r.kind == kind for r in table.rows)]
    series = [
        (c, kind)
        for c in table.columns
        if c.kind == "value" and c.metric == metric
        for kind in kinds
    ]
    width = 0.8 / max(len(series), 1)
    colors = method_colors([_name(c) for c, _ in series])
    for i, (column, kind) in enumerate(series):
        bars = [_bar_stat(table, label, column, kind) for label in labels]
        name, published = _name(column), kind == PUBLISHED
        positions = np.arange(len(labels)) + (i - (len(series) - 1) / 2) * width
        heights = [cast(float, b.mean) for b in bars]  # _bar_stat: never None
        ax.bar(
            positions,
            heights,
            width,
            yerr=_errors(bars) if not published else None,
            capsize=3,
            color=colors[name],
            hatch="//" if published else None,
            alpha=0.55 if published else 1.0,
            label=f"{name} ({'published' if published else 'omnibench'})",
        )
        if not published:
            skip_marks(ax, positions, heights, [_skipped(table, label, column) for label in labels])
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    if PUBLISHED in kinds:  # the papers' ablation differences are small: start near the lowest bar
        lowest = min((p.get_height() for p in ax.patches if p.get_height() > 0), default=0.0)
        ax.set_ylim(bottom=max(0.0, 10 * np.floor((lowest - 5) / 10)))
    ax.set_ylabel(f"{metric_label(metric)} (%)")
    ax.grid(axis="y", alpha=0.3)
    chance_line(ax, table, metric)
    _legend(figure, [ax])
    return figure


def chance_level(table: ReportTable, metric: str) -> float | None:
    """Top-k accuracy of guessing (100 k / C %) when every run of the table has the same C
    classes."""
    k = METRICS.get(metric).k if metric in METRICS else None
    return None if k is None or not table.classes else min(100.0, 100.0 * k / table.classes)


def chance_line(ax: Axes, table: ReportTable, metric: str) -> None:
    """A dotted horizontal line at the chance level (nothing when the runs' class counts differ)."""
    level = chance_level(table, metric)
    if level is not None:
        ax.axhline(
            level,
            color="0.3",
            linestyle=":",
            linewidth=1.2,
            label=f"chance ({level:.3g} %)",
            zorder=1,
        )


def skip_marks(ax: Axes, xs: Iterable[float], ys: Iterable[float], skipped: Iterable[str]) -> None:
    """A † above each point whose cell skipped broken videos (the table's notes give the counts)."""
    for x, y, text in zip(xs, ys, skipped):
        if isinstance(text, str) and text:
            ax.annotate(
                SKIP_MARK,
                (x, y),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=10,
                color="0.1",
            )


def _skipped(table: ReportTable, label: str, column: Column) -> str:
    rows = (row for row in table.rows if row.method == label and row.kind == MEASURED)
    return next((row.skipped.get(column.key, "") for row in rows), "")


def _name(column: Column) -> str:
    return " ".join(h for h in column.header if h)


def _errors(bars: Sequence[Stat]) -> list[float] | None:
    """The std of each bar as its error bar (0 for single runs); None when no bar has one."""
    return [b.std or 0.0 for b in bars] if any(b.std is not None for b in bars) else None


def _bar_stat(table: ReportTable, label: str, column: Column, kind: str) -> Stat:
    """The first cell of a ``kind`` row named ``label`` (0 when there is none: no bar)."""
    stats = (
        table.cell(row, column) for row in table.rows if row.method == label and row.kind == kind
    )
    return next((s for s in stats if s is not None and s.mean is not None), Stat(0.0))


def _legend(figure: Figure, axes: Iterable[Axes]) -> None:
    handles, names = [], []
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            if name not in names:
                handles.append(handle)
                names.append(name)
    if handles:
        figure.legend(handles, names, loc="outside right upper", fontsize=7)
