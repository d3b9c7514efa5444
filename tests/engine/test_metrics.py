"""Accuracy metrics and their aggregation."""

from __future__ import annotations

import math

import pytest
import torch

from omnibench.config.metrics import ACCURACIES, METRICS, metric_label, scores_text
from omnibench.engine.metrics import accuracy_metrics, harmonic_mean, mean_std, summarize


def test_top1_top5_and_mean_class_on_known_scores() -> None:
    scores = torch.tensor(
        [
            [0.9, 0.05, 0.05, 0.0, 0.0, 0.0],  # label 0: top-1 hit
            [0.1, 0.2, 0.3, 0.4, 0.0, 0.0],  # label 0: rank 4 -> top-5 hit
            [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],  # label 0: rank 6 -> miss
            [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],  # label 1: hit
        ]
    )
    labels = torch.tensor([0, 0, 0, 1])
    metrics = accuracy_metrics(scores, labels)
    assert metrics["top1"] == pytest.approx(50.0)
    assert metrics["top5"] == pytest.approx(75.0)
    assert metrics["mean_class"] == pytest.approx(
        (100 / 3 + 100) / 2
    )  # classes absent from labels are ignored


def test_top5_with_fewer_than_five_classes_is_top_c() -> None:
    metrics = accuracy_metrics(torch.tensor([[0.2, 0.8], [0.6, 0.4]]), torch.tensor([0, 0]))
    assert metrics == {"top1": 50.0, "top5": 100.0, "mean_class": 50.0}


def test_aggregates() -> None:
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_std([4.0]) == (4.0, 0.0)
    out = summarize([{"top1": 10.0, "top5": 20.0}, {"top1": 20.0, "top5": 40.0}])
    assert out["top1_mean"] == 15.0 and out["top5_mean"] == 30.0
    assert out["top1_std"] == pytest.approx(7.0710678)
    assert harmonic_mean(80.0, 40.0) == pytest.approx(53.333333)
    assert harmonic_mean(0.0, 0.0) == 0.0


def test_no_videos_give_nan_and_one_video_is_scored() -> None:
    empty = accuracy_metrics(torch.empty(0, 3), torch.empty(0, dtype=torch.long))
    assert set(empty) == {"top1", "top5", "mean_class"} and all(
        math.isnan(v) for v in empty.values()
    )
    assert accuracy_metrics(torch.tensor([[0.1, 0.7, 0.2]]), torch.tensor([1])) == {
        "top1": 100.0,
        "top5": 100.0,
        "mean_class": 100.0,
    }


def test_harmonic_mean_of_equal_accuracies_is_that_accuracy() -> None:
    assert harmonic_mean(50.0, 50.0) == pytest.approx(50.0)
    assert harmonic_mean(30.0, 0.0) == 0.0


def test_zero_shot_summary_per_target_and_the_first_target_unprefixed() -> None:
    """Three HMDB51 splits and two K600 subsets, every metric with its own mean and sample std:
    top-1 10 / 20 / 60 -> 30 ± √700, top-5 50 / 70 / 90 -> 70 ± 20, mean-class 5 / 15 / 25 ->
    15 ± 10; K600 top-1 30 / 50 -> 40 ± √200, top-5 80 / 84 -> 82 ± √8, mean-class 1 / 3 ->
    2 ± √2."""
    from types import SimpleNamespace

    from omnibench.protocols.zero_shot import target_metrics

    def runs(*triples: tuple[float, float, float]) -> list[SimpleNamespace]:
        keys = ("top1", "top5", "mean_class")
        return [SimpleNamespace(metrics=dict(zip(keys, t, strict=True))) for t in triples]

    hmdb = {
        "top1_mean": 30.0,
        "top1_std": math.sqrt(700),
        "top5_mean": 70.0,
        "top5_std": 20.0,
        "mean_class_mean": 15.0,
        "mean_class_std": 10.0,
    }
    k600 = {
        "top1_mean": 40.0,
        "top1_std": math.sqrt(200),
        "top5_mean": 82.0,
        "top5_std": math.sqrt(8),
        "mean_class_mean": 2.0,
        "mean_class_std": math.sqrt(2),
    }
    metrics = target_metrics(
        {
            "hmdb51": runs((10, 50, 5), (20, 70, 15), (60, 90, 25)),
            "k600": runs((30, 80, 1), (50, 84, 3)),
        }  # type: ignore[dict-item]
    )
    assert metrics == pytest.approx(
        {
            **{f"hmdb51/{k}": v for k, v in hmdb.items()},
            **{f"k600/{k}": v for k, v in k600.items()},
            **hmdb,
            "top1": 30.0,
            "top5": 70.0,
            "mean_class": 15.0,
        }
    )


def test_the_metric_catalogue_names_what_an_evaluation_computes() -> None:
    """One catalogue: the accuracies an evaluation computes are the catalogue's, top-k included,
    and every label and line of text comes from it."""
    metrics = accuracy_metrics(torch.eye(6), torch.arange(6))
    assert tuple(metrics) == ACCURACIES
    assert [METRICS.get(m).k for m in ACCURACIES] == [1, 5, 1]
    assert [metric_label(m) for m in ("top1", "mean_class", "hm", "gflops")] == [
        "Top-1",
        "Mean class",
        "HM",
        "GFLOPs",
    ]
    assert metric_label("loss") == "loss"  # not a catalogued metric: shown as it is
    assert scores_text({**metrics, "videos": 6}) == "top-1 100.00  top-5 100.00  mean-class 100.00"
    assert scores_text({"top1": 12.345, "hm": 1.0}, ("top1", "top5")) == "top-1 12.35"
