"""Colour augmentation and normalisation as one affine map per frame, applied on the model's device.

Brightness (a scale), contrast (a scale plus the frame's mean gray level), saturation, hue and
grayscale (3x3 matrices) and the CLIP / ImageNet normalisation are all affine in a pixel's
RGB, so a frame's whole colour pipeline is one map (drawn per frame, as X-CLIP's pipeline applies
torchvision's ``ColorJitter`` to each frame with fresh factors and order; the jitter and
grayscale coins are per clip). A loader worker only draws the maps (a few 3x3 products a frame);
:func:`apply_color` runs them on a batch of uint8 clips where the model runs. The
worker then ships uint8 frames (a quarter of float32's bytes through shared memory and to the
GPU) and its time goes to decoding; the same split as timm's prefetching loader, which
normalises on the GPU.

A colour map is a ``(3, 9)`` tensor ``[M | A | c | low | high]``: pixel ``x`` (RGB in
[0, 255]) of a frame whose mean colour is ``mu`` becomes ``clamp(M x + A mu + c, low, high)``
per channel. ``A mu`` carries contrast exactly: the mean of an affine image is the affine map
of the mean colour. The clamp to the image range comes once, at the end (torchvision clamps
after each jitter op; the two differ only where an intermediate colour left [0, 1]), and hue is
a rotation about the gray axis (:func:`hue_matrix`), not HSV's. ``data.augment: stepwise``
(:mod:`omnibench.data.transforms`) runs torchvision's own ops instead; docs/FIDELITY.md measures
the difference.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# Maps are composed in float64 numpy, all frames of a clip at once: a few dozen array operations
# whatever the frame count (numpy's per-call cost is a fraction of torch's).
LUMA = np.array([0.2989, 0.587, 0.114])  # torchvision's rgb_to_grayscale weights (ITU-R 601)
JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.2, "hue": 0.1}
JITTER_DRAWS = 2 * len(
    JITTER
)  # uniforms per jitter draw: the four factors, then the order of the ops
PIXEL_MAX = 255.0
COLUMNS = 9  # M (3) | A (3) | c | low | high

Affine = tuple[np.ndarray, np.ndarray, np.ndarray]  # (M, A, c): x -> M x + A mu + c


def hue_matrix(hue: float | np.ndarray) -> np.ndarray:
    """3x3 RGB matrix shifting hue by ``hue`` turns: a rotation about the gray axis R = G = B
    (an array of shifts gives a stack of matrices).

    HSV hue is the angle around that axis, so the rotation approximates torchvision's
    ``adjust_hue`` (RGB -> HSV -> shift -> RGB, ~90 % of the augmentation time when it ran on
    float frames): on natural colours the resulting HSV hue is within ~0.005 turn of the
    requested shift of up to 0.1 turn; it is exact at multiples of 1/3 turn (red -> green ->
    blue), the identity at 0, and keeps grays and each pixel's intensity (R + G + B) / 3, where
    HSV keeps max and min instead. (A rotation of YIQ's chroma plane, which keeps luma, misses
    by ~0.025 turn at 0.1.)
    """
    angle = 2 * np.pi * np.asarray(hue, dtype=np.float64)
    cos, sin = np.cos(angle), np.sin(angle)
    diagonal, off = cos + (1 - cos) / 3, (1 - cos) / 3
    turn = sin / math.sqrt(3)
    rows = [
        [diagonal, off - turn, off + turn],
        [off + turn, diagonal, off - turn],
        [off - turn, off + turn, diagonal],
    ]
    return np.moveaxis(np.array(rows), (0, 1), (-2, -1))


def saturation_matrix(factor: float | np.ndarray) -> np.ndarray:
    """3x3 RGB matrix blending with the grayscale image (torchvision's ``adjust_saturation``; an
    array of factors gives a stack)."""
    factor = np.asarray(factor, dtype=np.float64)[..., None, None]
    return factor * np.eye(3) + (1 - factor) * grayscale_matrix()


def grayscale_matrix() -> np.ndarray:
    """3x3 RGB matrix writing the luma into all three channels."""
    return np.tile(LUMA, (3, 1))


def identity_affine(frames: int | None = None) -> Affine:
    """The colour map that changes nothing (``frames``: a stack of that many)."""
    lead = () if frames is None else (frames,)
    return np.broadcast_to(np.eye(3), (*lead, 3, 3)), np.zeros((*lead, 3, 3)), np.zeros((*lead, 3))


def then_matrix(affine: Affine, matrix: np.ndarray) -> Affine:
    """``affine`` followed by the linear colour map ``matrix`` (saturation, hue, grayscale); either
    may be a stack (one per frame)."""
    linear, from_mean, offset = affine
    return matrix @ linear, matrix @ from_mean, np.einsum("...ij,...j->...i", matrix, offset)


def then_scale(affine: Affine, factor: float | np.ndarray) -> Affine:
    """``affine`` followed by scaling every channel (torchvision's ``adjust_brightness``)."""
    linear, from_mean, offset = affine
    factor = np.asarray(factor, dtype=np.float64)
    return (
        factor[..., None, None] * linear,
        factor[..., None, None] * from_mean,
        (factor[..., None] * offset),
    )


def then_contrast(affine: Affine, factor: float | np.ndarray) -> Affine:
    """``affine`` followed by torchvision's ``adjust_contrast``: blend each frame with its mean gray
    level.

    After ``affine`` the frame's mean colour is ``(M + A) mu + c``, so its mean gray level is
    ``LUMA . ((M + A) mu + c)``, an affine function of ``mu`` added to all three channels.
    """
    linear, from_mean, offset = affine
    factor = np.asarray(factor, dtype=np.float64)
    blend = 1 - factor
    gray = np.repeat((LUMA @ (linear + from_mean))[..., None, :], 3, axis=-2)
    from_mean = factor[..., None, None] * from_mean + blend[..., None, None] * gray
    offset = factor[..., None] * offset + blend[..., None] * (offset @ LUMA)[..., None]
    return factor[..., None, None] * linear, from_mean, offset


def draw_color_jitter(uniforms: list[float] | np.ndarray | None = None) -> Affine:
    """torchvision's ``ColorJitter(.4, .4, .2, .1)`` (ops in random order) as one affine colour map;
    ``uniforms`` of shape ``(F, JITTER_DRAWS)`` give ``F`` independent maps, stacked (per frame).

    ``uniforms``: :data:`JITTER_DRAWS` numbers in [0, 1) per map, the four factors then the order
    of the ops (default: one map, drawn from torch's generator).
    """
    if uniforms is None:
        uniforms = torch.rand(JITTER_DRAWS, dtype=torch.float64).numpy()
    draws = np.asarray(uniforms, dtype=np.float64)
    u = draws.reshape(-1, JITTER_DRAWS)
    brightness, contrast, saturation, hue = ((2 * u[:, :4] - 1) * list(JITTER.values())).T
    matrices = saturation_matrix(1 + saturation), hue_matrix(hue)
    affine = identity_affine(len(u))
    for op in np.argsort(u[:, len(JITTER) :], axis=1).T:  # a uniformly random order per map
        affine = _pick(
            op,
            (
                then_scale(affine, 1 + brightness),
                then_contrast(affine, 1 + contrast),
                then_matrix(affine, matrices[0]),
                then_matrix(affine, matrices[1]),
            ),
        )
    if draws.ndim == 1:
        return affine[0][0], affine[1][0], affine[2][0]
    return affine


def _pick(op: np.ndarray, choices: tuple[Affine, ...]) -> Affine:
    """Per map ``i``, the ``i``-th map of ``choices[op[i]]``."""
    rows = np.arange(len(op))
    linear, from_mean, offset = (np.stack([c[k] for c in choices])[op, rows] for k in range(3))
    return linear, from_mean, offset


def color_map(affine: Affine, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """The ``(..., 3, 9)`` map of ``affine`` (or of each of a stack of affines) followed by
    normalisation with ``mean``/``std`` (of [0, 1] pixels)."""
    mean_255, std_255 = np.asarray(mean) * PIXEL_MAX, np.asarray(std) * PIXEL_MAX
    linear, from_mean, offset = affine
    lead = np.shape(offset)[:-1]
    low, high = -mean_255 / std_255, (PIXEL_MAX - mean_255) / std_255
    columns = [
        linear / std_255[:, None],
        from_mean / std_255[:, None],
        ((offset - mean_255) / std_255)[..., None],
        np.broadcast_to(low[:, None], (*lead, 3, 1)),
        np.broadcast_to(high[:, None], (*lead, 3, 1)),
    ]
    return torch.from_numpy(np.concatenate(columns, axis=-1).astype(np.float32))


def apply_color(
    video: torch.Tensor, maps: torch.Tensor, clips_per_pass: int | None = None
) -> torch.Tensor:
    """Float clips ``(..., T, 3, H, W)`` from uint8 ``video`` and its colour ``maps``: one per clip
    ``(..., 3, 9)`` or one per frame ``(..., T, 3, 9)``.

    Runs where ``video`` is (the model's device): a cast, a per-frame mean, a batched 3x3 matmul
    and the clamp, over ``clips_per_pass`` clips at a time. By default a GPU takes the whole
    batch in one pass and a CPU goes clip by clip, each clip staying in cache (1.9 against
    3.2 ms per clip for a batch of 12 at 224 px on 2 cores).
    """
    *lead, frames, channels, height, width = video.shape
    clips = video.reshape(-1, frames, channels, height, width)
    per_clip = maps.dim() == video.dim() - 2
    maps = maps.to(device=video.device, dtype=torch.float32).reshape(
        len(clips), 1 if per_clip else frames, channels, COLUMNS
    )
    out = torch.empty(clips.shape, dtype=torch.float32, device=video.device)
    step = clips_per_pass or (1 if video.device.type == "cpu" else max(len(clips), 1))
    for start in range(0, len(clips), step):
        part = slice(start, start + step)
        _color_into(out[part].flatten(-2), clips[part], maps[part])
    return out.view(*lead, frames, channels, height, width)


def _color_into(out: torch.Tensor, clips: torch.Tensor, maps: torch.Tensor) -> None:
    """Write clips ``(n, T, 3, H, W)`` through maps ``(n, 1 or T, 3, 9)`` into ``out``
    ``(n, T, 3, H*W)``."""
    pixels = clips.to(torch.float32, memory_format=torch.contiguous_format).flatten(-2)
    linear, from_mean, offset, low, high = maps.split([3, 3, 1, 1, 1], dim=-1)
    shift = from_mean @ pixels.mean(dim=-1, keepdim=True) + offset  # (n, T, 3, 1)
    torch.matmul(linear.expand(*pixels.shape[:2], 3, 3), pixels, out=out)
    out.add_(shift)
    torch.maximum(out, low, out=out)
    torch.minimum(out, high, out=out)
