"""Spatial and colour transforms of a clip: uint8 ``(T, 3, H, W)`` in, normalised float out.

Every frame of a clip gets the same random parameters. Training follows X-CLIP / ViFi-CLIP:
short side 256, multi-scale crop with scales (1, .875, .75, .66) resized to the input size,
horizontal flip 0.5, colour jitter p=0.8 (brightness .4, contrast .4, saturation .2, hue .1,
in random order, as torchvision's ``ColorJitter``), grayscale p=0.2, CLIP / ImageNet
normalisation. Testing resizes and takes ``S`` square crops along the long side.

Training is arranged for speed (one loader worker must keep up with decoding):

- resize-then-crop of ``scale x short side`` selects the same region as cropping ``scale x``
  the original short side, so the crop is drawn on the decoded frame and resampled once, on
  uint8, straight to the input size;
- the colour ops run once over the whole clip in float (kept in [0, 255]), each a 3x3 colour
  matrix (brightness and contrast: a scale and a per-frame offset) applied as one batched
  matmul or in place and clamped, as torchvision clamps after each op; one kept scratch
  buffer serves every clip of a worker;
- hue is a rotation about the gray axis (:func:`hue_matrix`), a linear approximation of
  torchvision's RGB -> HSV -> shift -> RGB, which was ~90 % of the augmentation time; it
  shifts the HSV hue by the drawn amount to within ~0.005 turn (a rotation of YIQ's chroma
  plane, which keeps luma, misses by ~0.025 turn at the jitter's 0.1).
"""
from __future__ import annotations

import dataclasses
import math
import threading

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
JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.2, "hue": 0.1}
JITTER_P, GRAYSCALE_P, FLIP_P = 0.8, 0.2, 0.5
PIXEL_MAX = 255.0  # training clips stay in uint8's range as float: no division pass
LUMA = torch.tensor([0.2989, 0.587, 0.114])  # torchvision's rgb_to_grayscale weights (ITU-R 601)
_SCRATCH = threading.local()


class MultiScaleCrop(nn.Module):
    """Crop width and height drawn from ``scales`` x short side (aspect gap <= 1 step), resize to ``size``."""

    def __init__(self, size: int, scales: tuple[float, ...] = MULTI_SCALES, max_scale_gap: int = 1) -> None:
        super().__init__()
        self.size = size
        self.scales = scales
        self.pairs = [
            (i, j) for i in range(len(scales)) for j in range(len(scales)) if abs(i - j) <= max_scale_gap
        ]

    def box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """A random ``(top, left, crop_height, crop_width)`` inside a ``height x width`` frame."""
        base = min(height, width)
        i, j = self.pairs[int(torch.randint(len(self.pairs), ()))]
        crop_w, crop_h = max(1, int(base * self.scales[i])), max(1, int(base * self.scales[j]))
        left = int(torch.randint(width - crop_w + 1, ()))
        top = int(torch.randint(height - crop_h + 1, ()))
        return top, left, crop_h, crop_w

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        top, left, crop_h, crop_w = self.box(*video.shape[-2:])
        return F.resized_crop(video, top, left, crop_h, crop_w, [self.size, self.size], antialias=True)


def hue_matrix(hue: float) -> torch.Tensor:
    """3x3 RGB matrix shifting hue by ``hue`` turns: a rotation about the gray axis R = G = B.

    HSV hue is the angle around that axis, so the rotation approximates torchvision's
    ``adjust_hue`` (RGB -> HSV -> shift -> RGB): on natural colours the resulting HSV hue is
    within ~0.005 turn of the requested shift of up to 0.1 turn; it is exact at multiples of
    1/3 turn (red -> green -> blue), the identity at 0, and keeps grays and each pixel's
    intensity (R + G + B) / 3, where HSV keeps max and min instead.
    """
    angle = 2 * math.pi * hue
    cos, sin = math.cos(angle), math.sin(angle)
    diagonal, off = cos + (1 - cos) / 3, (1 - cos) / 3
    turn = sin / math.sqrt(3)
    return torch.tensor([
        [diagonal, off - turn, off + turn],
        [off + turn, diagonal, off - turn],
        [off - turn, off + turn, diagonal],
    ])


def saturation_matrix(factor: float) -> torch.Tensor:
    """3x3 RGB matrix blending with the grayscale image (torchvision's ``adjust_saturation``)."""
    return factor * torch.eye(3) + (1 - factor) * LUMA.expand(3, 3)


def grayscale_matrix() -> torch.Tensor:
    """3x3 RGB matrix writing the luma into all three channels."""
    return LUMA.expand(3, 3).clone()


def scratch_like(clip: torch.Tensor) -> torch.Tensor:
    """A per-thread clip-sized scratch buffer, kept between calls.

    A fresh 5 MB buffer per clip is returned to the OS and page-faulted back on every call
    (~1 ms, as much as all the colour ops); one kept buffer avoids that.
    """
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.shape != clip.shape or buffer.dtype != clip.dtype:
        buffer = _SCRATCH.buffer = torch.empty_like(clip)
    return buffer


def apply_color_matrix(clip: torch.Tensor, matrix: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``clamp(matrix @ rgb, 0, 255)`` at every pixel of a float clip ``(T, 3, H, W)``: one batched matmul.

    ``out`` (a spare clip-sized buffer, not ``clip``) receives the result.
    """
    frames = clip.shape[0]
    out = torch.empty_like(clip) if out is None else out
    torch.bmm(matrix.expand(frames, 3, 3), clip.view(frames, 3, -1), out=out.view(frames, 3, -1))
    return out.clamp_(0, PIXEL_MAX)


def adjust_contrast_(clip: torch.Tensor, factor: float) -> torch.Tensor:
    """In place: blend each frame with its mean grayscale level (torchvision's ``adjust_contrast``)."""
    mean = clip.mean(dim=(2, 3)) @ LUMA  # mean of the grayscale frame = luma of the mean colour
    return clip.mul_(factor).add_(((1 - factor) * mean).view(-1, 1, 1, 1)).clamp_(0, PIXEL_MAX)


def color_jitter(clip: torch.Tensor, spare: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's ``ColorJitter(.4, .4, .2, .1)`` on a float clip in [0, 255], one draw for all frames.

    ``spare`` is a buffer shaped like ``clip``; returns ``(result, spare)`` (the two may swap).
    """
    factors = {name: float(torch.empty(()).uniform_(-value, value)) for name, value in JITTER.items()}
    for op in torch.randperm(4).tolist():
        if op == 0:
            clip.mul_(1 + factors["brightness"]).clamp_(0, PIXEL_MAX)
        elif op == 1:
            adjust_contrast_(clip, 1 + factors["contrast"])
        else:
            matrix = saturation_matrix(1 + factors["saturation"]) if op == 2 else hue_matrix(factors["hue"])
            clip, spare = apply_color_matrix(clip, matrix, out=spare), clip
    return clip, spare


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
        object.__setattr__(self, "_crop", MultiScaleCrop(self.input_size))
        scaled = [torch.tensor(stat).mul_(PIXEL_MAX).view(3, 1, 1) for stat in (mean, std)]
        object.__setattr__(self, "_mean_std", tuple(scaled))  # for clips in [0, 255]

    def __call__(self, video: torch.Tensor, crops: int = 1) -> torch.Tensor:
        if self.train:
            if crops != 1:
                raise ValueError("training clips have exactly one spatial crop")
            return self.augment(video).unsqueeze(0)
        return torch.stack([self._normalize(view.contiguous()) for view in self.test_views(video, crops)])

    def augment(self, video: torch.Tensor) -> torch.Tensor:
        """One training clip ``(T, 3, S, S)``: crop + resize (uint8), flip, colour jitter, grayscale, normalise."""
        clip = self._crop(video)
        if self.hflip and float(torch.rand(())) < FLIP_P:
            clip = F.horizontal_flip(clip)
        clip = clip.to(torch.float32, memory_format=torch.contiguous_format)  # [0, 255], no division
        spare = scratch_like(clip)
        if float(torch.rand(())) < JITTER_P:
            clip, spare = color_jitter(clip, spare)
        if float(torch.rand(())) < GRAYSCALE_P:
            clip, spare = apply_color_matrix(clip, grayscale_matrix(), out=spare), clip
        mean, std = self._mean_std
        out = spare if clip is _SCRATCH.buffer else clip  # hand out a fresh tensor, keep the scratch buffer
        return torch.sub(clip, mean, out=out).div_(std)

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
