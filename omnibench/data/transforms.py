"""Spatial transforms of a clip (torchvision.transforms.v2 on uint8 tensors ``(T, 3, H, W)``).

Every frame of a clip gets the same random parameters (v2 treats the leading dimension as
a batch). Training follows X-CLIP / ViFi-CLIP: short side 256, multi-scale crop with scales
(1, .875, .75, .66) resized to the input size, horizontal flip 0.5, colour jitter p=0.8,
grayscale p=0.2. Testing resizes and takes ``S`` square crops along the long side.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from omnibench.data.sampling import spatial_crop_offsets
from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean

NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
MULTI_SCALES = (1.0, 0.875, 0.75, 0.66)


class MultiScaleCrop(nn.Module):
    """Crop width and height drawn from ``scales`` x short side (aspect gap <= 1 step), resize to ``size``."""

    def __init__(self, size: int, scales: tuple[float, ...] = MULTI_SCALES, max_scale_gap: int = 1) -> None:
        super().__init__()
        self.size = size
        self.scales = scales
        self.pairs = [
            (i, j) for i in range(len(scales)) for j in range(len(scales)) if abs(i - j) <= max_scale_gap
        ]

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        height, width = video.shape[-2:]
        base = min(height, width)
        i, j = self.pairs[int(torch.randint(len(self.pairs), ()))]
        crop_w, crop_h = max(1, int(base * self.scales[i])), max(1, int(base * self.scales[j]))
        left = int(torch.randint(width - crop_w + 1, ()))
        top = int(torch.randint(height - crop_h + 1, ()))
        return F.resized_crop(video, top, left, crop_h, crop_w, [self.size, self.size], antialias=True)


def normalization_stats(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std of a named normalisation ("clip" or "imagenet")."""
    if name not in NORMALIZATIONS:
        known = ", ".join(NORMALIZATIONS)
        raise OmniBenchError(f"unknown normalization '{name}'{did_you_mean(name, list(NORMALIZATIONS))}; known: {known}")
    return NORMALIZATIONS[name]


@dataclasses.dataclass(frozen=True)
class VideoTransform:
    """Callable ``(T, 3, H, W) uint8 -> (crops, T, 3, S, S) float``; ``crops`` must be 1 in training."""

    train: bool
    input_size: int = 224
    short_side: int = 256
    normalization: str = "clip"
    hflip: bool = True  # False for datasets whose labels depend on left/right (SSv2, synthetic)

    def __post_init__(self) -> None:
        if self.input_size > self.short_side:
            raise OmniBenchError(f"input size {self.input_size} is larger than the short side {self.short_side}")
        mean, std = normalization_stats(self.normalization)
        object.__setattr__(self, "_normalize", v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]))
        object.__setattr__(self, "_augment", self._build_augment() if self.train else None)

    def _build_augment(self) -> v2.Compose:
        return v2.Compose([
            v2.Resize(self.short_side, antialias=True),
            MultiScaleCrop(self.input_size),
            v2.RandomHorizontalFlip(0.5 if self.hflip else 0.0),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
            v2.RandomGrayscale(p=0.2),
        ])

    def __call__(self, video: torch.Tensor, crops: int = 1) -> torch.Tensor:
        if self.train:
            if crops != 1:
                raise ValueError("training clips have exactly one spatial crop")
            return self._normalize(self._augment(video)).unsqueeze(0)
        return torch.stack([self._normalize(view) for view in self.test_views(video, crops)])

    def test_views(self, video: torch.Tensor, crops: int) -> list[torch.Tensor]:
        """Test crops: 1 -> short side ``short_side`` and a centre crop; S>1 -> short side ``input_size``, S crops along the long side."""
        video = F.resize(video, [self.short_side if crops == 1 else self.input_size], antialias=True)
        height, width = video.shape[-2:]
        size = self.input_size
        if width >= height:
            top = (height - size) // 2
            return [F.crop(video, top, left, size, size) for left in spatial_crop_offsets(width, size, crops)]
        left = (width - size) // 2
        return [F.crop(video, top, left, size, size) for top in spatial_crop_offsets(height, size, crops)]


def build_transform(
    train: bool, input_size: int = 224, short_side: int = 256, normalization: str = "clip", hflip: bool = True
) -> VideoTransform:
    """The clip transform for training (augmenting) or testing (resize + spatial crops)."""
    return VideoTransform(train, input_size, short_side, normalization, hflip)
