"""Accuracy metrics (percentages, 0-100) and their aggregation over splits and draws."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

import torch


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean (N,) mask: the label is among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    return (scores.topk(k).indices == labels[:, None]).any(dim=1)  # topk: over the classes


def accuracy_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Top-1, top-5 and mean-class (mean over classes present of per-class top-1) accuracy in %;
    NaN for no videos (the mean of nothing)."""
    scores, labels = scores.float(), labels.long()
    top1 = topk_correct(scores, labels, 1).float()
    per_class = torch.zeros(scores.shape[1]).index_add_(0, labels, top1)
    counts = torch.bincount(labels, minlength=scores.shape[1]).float()
    present = counts > 0
    return {
        "top1": 100.0 * top1.mean().item(),
        "top5": 100.0 * topk_correct(scores, labels, 5).float().mean().item(),
        "mean_class": 100.0 * (per_class[present] / counts[present]).mean().item(),
    }


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = list(values)
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(
    evaluations: Sequence[Mapping[str, float]], keys: Sequence[str] = ("top1", "top5")
) -> dict[str, float]:
    """``{key}_mean`` / ``{key}_std`` over several evaluations (splits, class subsets)."""
    out: dict[str, float] = {}
    for key in keys:
        out[f"{key}_mean"], out[f"{key}_std"] = mean_std([e[key] for e in evaluations])
    return out


def harmonic_mean(a: float, b: float) -> float:
    """Harmonic mean of two accuracies (ViFi-CLIP's base-to-novel HM); 0 when both are 0."""
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)
