"""Clip transforms: uint8 ``(T, 3, H, W)`` in, uint8 views and their colour maps out.

Training follows X-CLIP / ViFi-CLIP's pipeline (``datasets/build.py``): short side 256,
multi-scale crop at one of 5 fixed positions resized to the input size
(:mod:`omnibench.data.crops`), horizontal flip 0.5, colour jitter p=0.8 (brightness .4,
contrast .4, saturation .2, hue .1, in random order, as torchvision's ``ColorJitter``; factors
and order drawn per frame, the coin per clip), grayscale p=0.2, CLIP / ImageNet normalisation.
Testing resizes and takes ``S`` square crops along the long side (mmaction's CenterCrop /
ThreeCrop). Crop, flip and coins are the same for every frame of a clip.

``augment="fused"`` (the default) is omnibench's fast path: the loader worker resamples the crop
box straight from the decoded frame once (antialiased), and only draws each frame's colour map;
jitter, grayscale and normalisation run as one affine map on the model's device
(:mod:`omnibench.data.color`), after the host-to-device copy of uint8. ``augment="stepwise"``
runs the official order op by op in the worker: resize the frame to the short side, crop,
resize to the input size (both bilinear, not antialiased, as mmcv's), then torchvision's
``ColorJitter`` on each frame (clamping after each op, hue through HSV) and ``Grayscale``.
docs/FIDELITY.md measures the difference. Views keep decord's channels-last memory (torch's
uint8 antialiased resize is fastest on it); :func:`omnibench.data.video.collate_clips` keeps it.
"""

from __future__ import annotations

import dataclasses

import omnibench.compat  # noqa: F401  (before torchvision)

import numpy as np
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from omnibench.config.spec import AUGMENTS
from omnibench.data.color import (
    JITTER,
    JITTER_DRAWS,
    color_map,
    draw_color_jitter,
    grayscale_matrix,
    identity_affine,
    then_matrix,
)
from omnibench.data.crops import Box, in_original, multi_scale_box, resized_shape
from omnibench.data.sampling import spatial_crop_offsets
from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean

NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
JITTER_P, GRAYSCALE_P, FLIP_P = 0.8, 0.2, 0.5
CLIP_DRAWS = 2 + 3  # crop size and position; flip, jitter and grayscale coins


class MultiScaleCrop:
    """X-CLIP's training crop (:mod:`omnibench.data.crops`) of a clip, resized to ``size``."""

    def __init__(self, size: int, short_side: int, stepwise: bool = False) -> None:
        self.size, self.short_side, self.stepwise = size, short_side, stepwise

    def __call__(self, video: torch.Tensor, uniforms: list[float] | None = None) -> torch.Tensor:
        """The crop of ``video`` at ``size`` px (``uniforms``: 2 draws, default torch's)."""
        draws = torch.rand(2, dtype=torch.float64).tolist() if uniforms is None else uniforms
        height, width = video.shape[-2:]
        box = multi_scale_box(height, width, self.short_side, self.size, draws)
        if self.stepwise:
            resized = F.resize(
                video, list(resized_shape(height, width, self.short_side)), antialias=False
            )
            cut = F.crop(resized, box.top, box.left, box.height, box.width)
            return F.resize(cut, [self.size, self.size], antialias=False)
        box = in_original(box, height, width, self.short_side)
        return _resized_crop(video, box, self.size)


def _resized_crop(video: torch.Tensor, box: Box, size: int) -> torch.Tensor:
    return F.resized_crop(
        video, box.top, box.left, box.height, box.width, [size, size], antialias=True
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
    """Callable ``(T, 3, H, W) uint8 -> ((crops, T, 3, S, S) uint8, colour maps)``: one map per
    frame in training ``(1, T, 3, 9)``, one per view in testing ``(crops, 3, 9)``.

    ``crops`` must be 1 in training. :func:`omnibench.data.color.apply_color` turns the pair
    into the normalised float clips the models take.
    """

    train: bool
    input_size: int = 224
    short_side: int = 256
    normalization: str = "clip"
    hflip: bool = True  # False for datasets whose labels depend on left/right (synthetic)
    augment: str = "fused"  # or "stepwise": the official pipeline op by op (module docstring)
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
        if self.augment not in AUGMENTS:
            raise OmniBenchError(
                f"unknown augment '{self.augment}'{did_you_mean(self.augment, list(AUGMENTS))}"
            )
        mean, std = normalization_stats(self.normalization)
        object.__setattr__(self, "_stats", (mean, std))
        crop = MultiScaleCrop(self.input_size, self.short_side, self.stepwise)
        object.__setattr__(self, "_crop", crop)

    @property
    def stepwise(self) -> bool:
        """Whether the official pipeline runs op by op (else omnibench's fused path)."""
        return self.augment == "stepwise"

    def __call__(self, video: torch.Tensor, crops: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        if self.train:
            if crops != 1:
                raise ValueError("training clips have exactly one spatial crop")
            clip, colors = self.augment_clip(video)
            return clip.unsqueeze(0), colors.unsqueeze(0)
        views = torch.stack([channels_last(view) for view in self.test_views(video, crops)])
        return views, color_map(identity_affine(), *self._stats).expand(crops, -1, -1)

    def augment_clip(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One training clip ``(T, 3, S, S)`` (crop + resize, flip) and its frames' colour maps
        ``(T, 3, 9)`` (jitter, grayscale, normalisation).

        Every random number of the fused path comes from one draw of torch's generator.
        """
        frames = len(video)
        draws = torch.rand(CLIP_DRAWS + frames * JITTER_DRAWS, dtype=torch.float64).tolist()
        crop, (flip, jitter, gray) = draws[:2], draws[2:CLIP_DRAWS]
        clip = self._crop(video, crop)
        if self.hflip and flip < FLIP_P:
            clip = F.horizontal_flip(clip)
        if self.stepwise:
            return self._colour_stepwise(clip, jitter < JITTER_P, gray < GRAYSCALE_P)
        per_frame = np.reshape(draws[CLIP_DRAWS:], (frames, JITTER_DRAWS))
        affine = draw_color_jitter(per_frame) if jitter < JITTER_P else identity_affine(frames)
        if gray < GRAYSCALE_P:
            affine = then_matrix(affine, grayscale_matrix())
        return channels_last(clip), color_map(affine, *self._stats)

    def _colour_stepwise(
        self, clip: torch.Tensor, jitter: bool, gray: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """torchvision's ``ColorJitter`` on each frame (its own draws), then ``Grayscale``, on
        uint8; the colour maps only normalise."""
        if jitter:
            jitter_op = v2.ColorJitter(**JITTER)
            clip = torch.stack([jitter_op(frame) for frame in clip.contiguous()])
        if gray:
            clip = F.rgb_to_grayscale(clip, num_output_channels=3)
        maps = color_map(identity_affine(), *self._stats).expand(len(clip), -1, -1)
        return channels_last(clip), maps

    def test_views(self, video: torch.Tensor, crops: int) -> list[torch.Tensor]:
        """Test crops: 1 -> short side ``short_side`` and a centre crop; S>1 -> short side
        ``input_size``, S crops along the long side."""
        video = F.resize(
            video,
            [self.short_side if crops == 1 else self.input_size],
            antialias=not self.stepwise,
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
    augment: str = "fused",
) -> VideoTransform:
    """The clip transform for training (augmenting) or testing (resize + spatial crops)."""
    return VideoTransform(train, input_size, short_side, normalization, hflip, augment)
