"""Mixup / CutMix on video batches (timm) with label smoothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omnibench.config.spec import OptimSpec
from omnibench.engine.mixup import VideoMixup


def _video(batch: int) -> torch.Tensor:
    # every video constant = its index, so mixing is visible per pixel
    return (
        torch.arange(batch, dtype=torch.float32)
        .view(batch, 1, 1, 1, 1)
        .expand(batch, 4, 3, 8, 8)
        .clone()
    )


def test_cutmix_cuts_the_same_box_in_every_frame() -> None:
    np.random.seed(0)
    mix = VideoMixup(OptimSpec(mixup=0.0, cutmix=1.0, label_smoothing=0.0), num_classes=4)
    video, target = mix(_video(4), torch.tensor([0, 1, 2, 3]))
    assert video.shape == (4, 4, 3, 8, 8)
    for frame in range(1, 4):
        assert torch.equal(video[:, frame], video[:, 0])
    foreign = (video[0] != 0).float().mean().item()  # share of pixels pasted from video 3
    assert target[0, 3].item() == pytest.approx(foreign, abs=1e-6)
    assert torch.allclose(target.sum(dim=1), torch.ones(4))


def test_mixup_mixes_pairs_and_targets_sum_to_one() -> None:
    np.random.seed(1)
    mix = VideoMixup(OptimSpec(mixup=0.8, cutmix=0.0, label_smoothing=0.1), num_classes=4)
    video, target = mix(_video(4), torch.tensor([0, 1, 2, 3]))
    lam = 1 - video[0, 0, 0, 0, 0].item() / 3  # video 0 mixed with the flipped batch (video 3)
    assert torch.allclose(target.sum(dim=1), torch.ones(4))
    expected = lam * 0.925 + (1 - lam) * 0.025
    assert target[0, 0].item() == pytest.approx(expected, abs=1e-5)


def test_odd_batch_and_disabled_mixup_only_smooth_labels() -> None:
    for optim in (
        OptimSpec(label_smoothing=0.1),
        OptimSpec(mixup=0.0, cutmix=0.0, label_smoothing=0.1),
    ):
        mix = VideoMixup(optim, num_classes=5)
        batch = 3 if optim.mixup else 4
        original = _video(batch)
        video, target = mix(original.clone(), torch.arange(batch))
        assert torch.equal(video, original)
        assert target[0, 0].item() == pytest.approx(0.9 + 0.1 / 5)
        assert target[0, 1].item() == pytest.approx(0.1 / 5)
