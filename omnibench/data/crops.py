"""The training crop of X-CLIP and ViFi-CLIP (mmaction's ``MultiScaleCrop``, ``random_crop=False``),
as geometry: which box of a frame a clip is cut from.

Their pipeline resizes a frame to short side ``S`` (``Resize(-1, S)``, sizes rounded as mmcv's
``rescale_size``), draws a crop width and height from ``int(S * scale)`` for the scales
(1, .875, .75, .66) with at most one scale step between them, snaps either side within 2 px of
the input size to it, and places the box at one of 5 fixed positions: the 4 corners and the
centre, on a grid of ``(side - crop) // 4`` px steps. The box is then resized to the input size.
:func:`multi_scale_box` draws that box in the resized frame's pixels; :func:`in_original`
maps it back onto the decoded frame, so one resampling of the decoded pixels gives the same
region (to half a decoded pixel) without resizing the whole frame first.
"""

from __future__ import annotations

import dataclasses

MULTI_SCALES = (1.0, 0.875, 0.75, 0.66)
MAX_SCALE_GAP = 1  # scale steps between a crop's width and height
SNAP_PX = 3  # a crop side closer than this to the input size becomes the input size
POSITIONS = ((0, 0), (4, 0), (0, 4), (4, 4), (2, 2))  # (x, y) in quarter steps: corners, centre


@dataclasses.dataclass(frozen=True)
class Box:
    """A crop box in pixels: ``top``, ``left``, ``height``, ``width``."""

    top: int
    left: int
    height: int
    width: int


def resized_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    """``(height, width)`` of a frame resized to ``short_side`` on its short side (mmcv rounds
    ``side * scale + 0.5`` down)."""
    scale = short_side / min(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def crop_sizes(short_side: int, size: int) -> list[tuple[int, int]]:
    """Every ``(width, height)`` the crop can take, in mmaction's order, snapped to ``size``."""
    sides = [int(short_side * scale) for scale in MULTI_SCALES]
    pairs = [
        (sides[j], sides[i])
        for i in range(len(sides))
        for j in range(len(sides))
        if abs(i - j) <= MAX_SCALE_GAP
    ]
    return [(_snapped(w, size), _snapped(h, size)) for w, h in pairs]


def _snapped(side: int, size: int) -> int:
    return size if abs(side - size) < SNAP_PX else side


def multi_scale_box(
    height: int, width: int, short_side: int, size: int, uniforms: list[float]
) -> Box:
    """The box in the frame resized to ``short_side`` (``resized_shape``), from 2 uniforms in
    [0, 1): one picks the crop size, one the position."""
    resized_h, resized_w = resized_shape(height, width, short_side)
    sizes = crop_sizes(min(resized_h, resized_w), size)
    crop_w, crop_h = sizes[int(uniforms[0] * len(sizes))]
    crop_w, crop_h = min(crop_w, resized_w), min(crop_h, resized_h)
    x, y = POSITIONS[int(uniforms[1] * len(POSITIONS))]
    step_x, step_y = (resized_w - crop_w) // 4, (resized_h - crop_h) // 4
    return Box(y * step_y, x * step_x, crop_h, crop_w)


def in_original(box: Box, height: int, width: int, short_side: int) -> Box:
    """``box`` of the resized frame as a box of the ``height x width`` frame (edges rounded)."""
    resized_h, resized_w = resized_shape(height, width, short_side)
    scale_y, scale_x = height / resized_h, width / resized_w
    top, left = round(box.top * scale_y), round(box.left * scale_x)
    bottom = min(height, round((box.top + box.height) * scale_y))
    right = min(width, round((box.left + box.width) * scale_x))
    return Box(top, left, max(1, bottom - top), max(1, right - left))
