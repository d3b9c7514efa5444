"""Mixup / CutMix with label smoothing for video batches, as X-CLIP's and ViFi-CLIP's
``CutmixMixupBlending`` (``datasets/blending.py``) draws them.

Per micro-batch: CutMix with probability ``mixup_switch_prob`` (numpy's coin), else mixup; each
video is paired with the video a random permutation of the batch puts in its place (a video
the permutation leaves in place is paired with itself), λ ~ Beta(α, α). CutMix pastes the
partner's box (width and height ``int(side * sqrt(1 - λ))`` around a uniform centre, clipped to
the frame) into every frame and sets λ to the area kept. Targets are one-hot with label
smoothing (off value ``s / C``), mixed with the same λ; the loss is timm's
``SoftTargetCrossEntropy``. Any batch size works, 1 included. A spec with only one of mixup /
cutmix positive always uses that one.
"""

from __future__ import annotations

import numpy as np
import torch
from timm.loss import SoftTargetCrossEntropy
from torch.distributions import Beta

from omnibench.config.spec import OptimSpec

__all__ = ["SoftTargetCrossEntropy", "VideoMixup", "smoothed_targets"]


def smoothed_targets(labels: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """One-hot targets with label smoothing: ``1 - s + s / C`` on the label, ``s / C`` elsewhere."""
    off = smoothing / num_classes
    targets = torch.full((len(labels), num_classes), off, device=labels.device)
    return targets.scatter_(1, labels.long().view(-1, 1), 1.0 - smoothing + off)


class VideoMixup:
    """Callable ``(video (B, T, 3, H, W), labels) -> (mixed video, soft targets)``; randomness from
    torch's and numpy's global generators (the trainer seeds both per micro-batch)."""

    def __init__(self, optim: OptimSpec, num_classes: int) -> None:
        self.num_classes, self.smoothing = num_classes, optim.label_smoothing
        self.mixup, self.cutmix = optim.mixup, optim.cutmix
        self.switch_prob = optim.mixup_switch_prob

    def __call__(
        self, video: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        target = smoothed_targets(labels, self.num_classes, self.smoothing)
        if self.mixup <= 0 and self.cutmix <= 0:
            return video, target
        use_cutmix = self.cutmix > 0 and (self.mixup <= 0 or np.random.rand() < self.switch_prob)
        partner = torch.randperm(len(video)).to(video.device)
        if use_cutmix:
            video, lam = _cutmix(video, partner, _beta(self.cutmix))
        else:
            lam = _beta(self.mixup)
            video = lam * video + (1 - lam) * video[partner]
        return video, lam * target + (1 - lam) * target[partner]


def _beta(alpha: float) -> float:
    return float(Beta(torch.tensor(alpha), torch.tensor(alpha)).sample())


def _cutmix(video: torch.Tensor, partner: torch.Tensor, lam: float) -> tuple[torch.Tensor, float]:
    """Paste each partner's box into every frame; λ becomes the share of the frame kept."""
    height, width = video.shape[-2:]
    cut = (1.0 - lam) ** 0.5
    cut_w, cut_h = int(width * cut), int(height * cut)
    cx, cy = int(torch.randint(width, (1,))), int(torch.randint(height, (1,)))
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
    video = video.clone()
    video[..., top:bottom, left:right] = video[partner][..., top:bottom, left:right]
    return video, 1.0 - (right - left) * (bottom - top) / (width * height)
