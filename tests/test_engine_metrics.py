"""Accuracy metrics and their aggregation."""

from __future__ import annotations

import math

import pytest
import torch

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
