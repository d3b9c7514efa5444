"""Mixup / CutMix with label smoothing for video batches, on top of timm's ``Mixup``.

timm mixes (B, C, H, W) images; a video batch (B, T, 3, H, W) is viewed as
(B, T*3, H, W) so CutMix cuts the same box out of every frame (as X-CLIP's blending
does). timm needs an even batch: an odd per-device batch only gets label smoothing.
Targets are soft, for timm's ``SoftTargetCrossEntropy``.
"""

from __future__ import annotations

import torch
from timm.data import Mixup
from timm.data.mixup import mixup_target
from timm.loss import SoftTargetCrossEntropy

from omnibench.config.spec import OptimSpec

__all__ = ["VideoMixup", "SoftTargetCrossEntropy"]


class VideoMixup:
    """Callable ``(video, labels) -> (mixed video, soft targets)``; randomness from numpy's global
    RNG."""

    def __init__(self, optim: OptimSpec, num_classes: int) -> None:
        self.num_classes = num_classes
        self.smoothing = optim.label_smoothing
        self.mixup: Mixup | None = None
        if optim.mixup > 0 or optim.cutmix > 0:
            self.mixup = Mixup(
                mixup_alpha=optim.mixup,
                cutmix_alpha=optim.cutmix,
                switch_prob=optim.mixup_switch_prob,
                mode="batch",
                label_smoothing=self.smoothing,
                num_classes=num_classes,
            )

    def __call__(
        self, video: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mixup is None or video.shape[0] % 2:
            return video, mixup_target(labels, self.num_classes, 1.0, self.smoothing)
        batch, frames = video.shape[:2]
        flat = video.reshape(batch, frames * video.shape[2], *video.shape[3:])
        flat, target = self.mixup(flat, labels)
        return flat.view_as(video), target
