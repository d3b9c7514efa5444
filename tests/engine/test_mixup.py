"""Mixup / CutMix on video batches with label smoothing, as X-CLIP's ``CutmixMixupBlending``:
partners from a random permutation, one box in every frame, any batch size."""

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


def _seed(seed: int) -> torch.Tensor:
    """Seed torch and numpy; the permutation the blending will draw first."""
    np.random.seed(seed)
    torch.manual_seed(seed)
    permutation = torch.randperm(6)
    torch.manual_seed(seed)
    return permutation


def test_mixup_pairs_each_video_with_a_random_permutations_partner() -> None:
    """Six videos: each is mixed with the video the permutation puts in its place (timm pairs
    i with B-1-i instead), with one λ; targets mix the same way and sum to 1."""
    permutation = _seed(5)
    assert permutation.tolist() != [5, 4, 3, 2, 1, 0]  # this seed's pairing is not timm's flip
    mix = VideoMixup(OptimSpec(mixup=0.8, cutmix=0.0, label_smoothing=0.1), num_classes=6)
    video, target = mix(_video(6), torch.arange(6))
    values = video[:, 0, 0, 0, 0]
    moved = (permutation != torch.arange(6)).nonzero().flatten()
    i = int(moved[0])  # a video whose partner is another one
    lam = float(1 - (values[i] - i) / (permutation[i] - i))
    assert torch.allclose(values, lam * torch.arange(6.0) + (1 - lam) * permutation.float())
    assert torch.equal(video, values.view(6, 1, 1, 1, 1).expand(6, 4, 3, 8, 8))
    on, off = 0.9 + 0.1 / 6, 0.1 / 6
    assert target[i, i].item() == pytest.approx(lam * on + (1 - lam) * off, abs=1e-6)
    assert target[i, int(permutation[i])].item() == pytest.approx(
        lam * off + (1 - lam) * on, abs=1e-6
    )
    assert torch.allclose(target.sum(dim=1), torch.ones(6))


def test_cutmix_cuts_the_same_box_in_every_frame_and_targets_follow_its_area() -> None:
    permutation = _seed(0)
    mix = VideoMixup(OptimSpec(mixup=0.0, cutmix=1.0, label_smoothing=0.0), num_classes=6)
    video, target = mix(_video(6), torch.arange(6))
    assert video.shape == (6, 4, 3, 8, 8)
    for frame in range(1, 4):
        assert torch.equal(video[:, frame], video[:, 0])
    for i, j in enumerate(permutation.tolist()):
        pasted = (video[i, 0, 0] == j).float().mean().item() if i != j else 0.0
        kept = 1 - pasted
        assert target[i, i].item() == pytest.approx(kept if i != j else 1.0, abs=1e-6)
        assert torch.isin(video[i], torch.tensor([float(i), float(j)])).all()
    assert torch.allclose(target.sum(dim=1), torch.ones(6))


def test_odd_and_single_video_batches_are_blended_too() -> None:
    """The official blending needs no even batch (timm's does): a batch of 3 is mixed; a batch of
    one is its own partner, so only its label is smoothed."""
    _seed(2)
    mix = VideoMixup(OptimSpec(mixup=0.8, cutmix=0.0, label_smoothing=0.1), num_classes=5)
    video, _ = mix(_video(3), torch.arange(3))
    assert not torch.equal(video, _video(3))
    single, target = mix(_video(1) + 4, torch.tensor([4]))
    assert torch.equal(single, _video(1) + 4)
    assert target[0, 4].item() == pytest.approx(0.9 + 0.1 / 5)


def test_disabled_mixup_only_smooths_labels() -> None:
    mix = VideoMixup(OptimSpec(mixup=0.0, cutmix=0.0, label_smoothing=0.1), num_classes=5)
    original = _video(4)
    video, target = mix(original.clone(), torch.arange(4))
    assert torch.equal(video, original)
    assert target[0, 0].item() == pytest.approx(0.9 + 0.1 / 5)
    assert target[0, 1].item() == pytest.approx(0.1 / 5)
