"""The metric catalogue: every metric a record or a table holds, its name, labels and top-k.

One entry per metric, read by the engine (what an evaluation computes), the protocols (what a
run records and prints), the reports (column labels, chance lines) and the CLI (a run's line).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from omnibench.registry import Registry


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric: its key in records and published tables, how a table heads its column, how a
    line of text names it, and its ``k`` when it is a top-k accuracy (chance is k / classes)."""

    name: str
    label: str  # as the papers' tables print it ("Top-1")
    short: str  # as a line of text prints it ("top-1")
    k: int | None = None


METRICS: Registry[Metric] = Registry("metric")
for _metric in (
    Metric("top1", "Top-1", "top-1", k=1),
    Metric("top5", "Top-5", "top-5", k=5),
    Metric("mean_class", "Mean class", "mean-class", k=1),
    Metric("base_top1", "Base", "base top-1"),
    Metric("novel_top1", "Novel", "novel top-1"),
    Metric("hm", "HM", "harmonic mean"),
    Metric("gflops", "GFLOPs", "GFLOPs"),
):
    METRICS.register(_metric.name)(_metric)

ACCURACIES = ("top1", "top5", "mean_class")  # what one evaluation measures (%), in this order


def metric_label(name: str) -> str:
    """A metric's column label (``top1`` -> "Top-1"); an unknown name as it is."""
    return METRICS.get(name).label if name in METRICS else name


def scores_text(metrics: Mapping[str, Any], names: tuple[str, ...] = ACCURACIES) -> str:
    """``top-1 71.20  top-5 90.00  mean-class 70.10``: the ``names`` ``metrics`` holds, two
    decimals, as a line of text prints them."""
    return "  ".join(
        f"{METRICS.get(name).short} {metrics[name]:.2f}" for name in names if name in metrics
    )
