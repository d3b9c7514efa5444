"""Clip transforms: uint8 ``(T, 3, H, W)`` in, uint8 views and their colour maps out.

Every frame of a clip gets the same random parameters. Training follows X-CLIP / ViFi-CLIP:
short side 256, multi-scale crop with scales (1, .875, .75, .66) resized to the input size,
horizontal flip 0.5, colour jitter p=0.8 (brightness .4, contrast .4, saturation .2, hue .1,
in random order, as torchvision's ``ColorJitter``), grayscale p=0.2, CLIP / ImageNet
normalisation. Testing resizes and takes ``S`` square crops along the long side.

The spatial ops run here, in the loader worker, on uint8; the colour ops and normalisation are
drawn here as one colour map per view and run on the model's device (:mod:`omnibench.data.color`).
Resize-then-crop of ``scale x short side`` selects the same region as cropping ``scale x`` the
original short side, so the training crop is drawn on the decoded frame and resampled once,
straight to the input size. Views keep decord's channels-last memory (torch's uint8
antialiased resize is fastest on it); :func:`omnibench.data.video.collate_clips` keeps it too.
"""

from __future__ import annotations

import dataclasses

import omnibench.compat  # noqa: F401  (before torchvision)

import torch
from torch import nn
from torchvision.transforms.v2 import functional as F

from omnibench.data.color import (
    JITTER_DRAWS,
    color_map,
    draw_color_jitter,
    grayscale_matrix,
    identity_affine,
    then_matrix,
)
from omnibench.data.sampling import spatial_crop_offsets
from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean

NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
MULTI_SCALES = (1.0, 0.875, 0.75, 0.66)
JITTER_P, GRAYSCALE_P, FLIP_P = 0.8, 0.2, 0.5
CLIP_DRAWS = (
    3 + 3 + JITTER_DRAWS
)  # crop box; flip, jitter and grayscale coins; jitter factors and order


class MultiScaleCrop(nn.Module):
    """Crop width and height drawn from ``scales`` x short side (aspect gap <= 1 step), resize to
    ``size``."""

    def __init__(
        self, size: int, scales: tuple[float, ...] = MULTI_SCALES, max_scale_gap: int = 1
    ) -> None:
        super().__init__()
        self.size = size
        self.scales = scales
        self.pairs = [
            (i, j)
            for i in range(len(scales))
            for j in range(len(scales))
            if abs(i - j) <= max_scale_gap
        ]

    def box(self, height: int, width: int, uniforms: list[float]) -> tuple[int, int, int, int]:
        """``(top, left, crop_height, crop_width)`` inside a ``height x width`` frame from 3
        uniforms in [0, 1)."""
        base = min(height, width)
        i, j = self.pairs[int(uniforms[0] * len(self.pairs))]
        crop_w, crop_h = max(1, int(base * self.scales[i])), max(1, int(base * self.scales[j]))
        left = int(uniforms[1] * (width - crop_w + 1))
        top = int(uniforms[2] * (height - crop_h + 1))
        return top, left, crop_h, crop_w

    def forward(self, video: torch.Tensor, uniforms: list[float] | None = None) -> torch.Tensor:
        """A random crop of ``video`` resized to ``size`` (``uniforms``: 3 draws, default from
        torch's generator)."""
        draws = torch.rand(3, dtype=torch.float64).tolist() if uniforms is None else uniforms
        height, width = video.shape[-2:]
        top, left, crop_h, crop_w = self.box(height, width, draws)
        return F.resized_crop(
            video, top, left, crop_h, crop_w, [self.size, self.size], antialias=True
        )


def normalization_stats(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std of a named normalisation ("clip" or "imagenet")."""
    if name not in NORMALIZATIONS:
        known = ", ".join(NORMALIZATIONS)
        raise OmniBenchError(
            "unknown normalization "
            f"'{name}'{did_you_mean(name, list(NORMALIZATIONS))}; known: {known}"
        )
    return NORMALIZATIONS[name]


def to_hwc(clips: torch.Tensor) -> torch.Tensor:
    """The channels-last view ``(..., H, W, 3)`` of clips ``(..., 3, H, W)`` (no copy)."""
    return clips.movedim(-3, -1)


def from_hwc(clips: torch.Tensor) -> torch.Tensor:
    """The ``(..., 3, H, W)`` view of channels-last clips ``(..., H, W, 3)`` (no copy)."""
    return clips.movedim(-1, -3)


def channels_last(view: torch.Tensor) -> torch.Tensor:
    """``view`` with channels-last memory (a no-op for decord frames and the uint8 resize's
    output)."""
    return from_hwc(to_hwc(view).contiguous())


@dataclasses.dataclass(frozen=True)
class VideoTransform:
    """Callable ``(T, 3, H, W) uint8 -> ((crops, T, 3, S, S) uint8, (crops, 3, 9) colour maps)``.

    ``crops`` must be 1 in training. :func:`omnibench.data.color.apply_color` turns the pair
    into the normalised float clips the models take.
    """

    train: bool
    input_size: int = 224
    short_side: int = 256
    normalization: str = "clip"
    hflip: bool = True  # False for datasets whose labels depend on left/right (SSv2, synthetic)
    # derived by __post_init__
    _stats: tuple[tuple[float, ...], tuple[float, ...]] = dataclasses.field(
        init=False, repr=False, compare=False
    )
    _crop: MultiScaleCrop = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.input_size > self.short_side:
            raise OmniBenchError(
                f"input size {self.input_size} is larger than the short side {self.short_side}"
            )
        mean, std = normalization_stats(self.normalization)
        object.__setattr__(self, "_stats", (mean, std))
        object.__setattr__(self, "_crop", MultiScaleCrop(self.input_size))

    def __call__(self, video: torch.Tensor, crops: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        if self.train:
            if crops != 1:
                raise ValueError("training clips have exactly one spatial crop")
            clip, colors = self.augment(video)
            return clip.unsqueeze(0), colors.unsqueeze(0)
        views = torch.stack([channels_last(view) for view in self.test_views(video, crops)])
        return views, color_map(identity_affine(), *self._stats).expand(crops, -1, -1)

    def augment(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One training clip ``(T, 3, S, S)`` (crop + resize, flip) and its colour map (jitter,
        grayscale).

        Every random number of the clip comes from one draw of torch's generator.
        """
        draws = torch.rand(CLIP_DRAWS, dtype=torch.float64).tolist()
        crop, (flip, jitter, gray), colors = draws[:3], draws[3:6], draws[6:]
        clip = self._crop(video, crop)
        if self.hflip and flip < FLIP_P:
            clip = F.horizontal_flip(clip)
        affine = draw_color_jitter(colors) if jitter < JITTER_P else identity_affine()
        if gray < GRAYSCALE_P:
            affine = then_matrix(affine, grayscale_matrix())
        return channels_last(clip), color_map(affine, *self._stats)

    def test_views(self, video: torch.Tensor, crops: int) -> list[torch.Tensor]:
        """Test crops: 1 -> short side ``short_side`` and a centre crop; S>1 -> short side
        ``input_size``, S crops along the long side."""
        video = F.resize(
            video, [self.short_side if crops == 1 else self.input_size], antialias=True
        )
        height, width = video.shape[-2:]
        size = self.input_size
        if width >= height:
            top = (height - size) // 2
            return [
                F.crop(video, top, left, size, size)
                for left in spatial_crop_offsets(width, size, crops)
            ]
        left = (width - size) // 2
        return [
            F.crop(video, top, left, size, size)
            for top in spatial_crop_offsets(height, size, crops)
        ]


def build_transform(
    train: bool,
    input_size: int = 224,
    short_side: int = 256,
    normalization: str = "clip",
    hflip: bool = True,
) -> VideoTransform:
    """The clip transform for training (augmenting) or testing (resize + spatial crops)."""
    return VideoTransform(train, input_size, short_side, normalization, hflip)
