"""The training crop's geometry against mmaction's MultiScaleCrop (X-CLIP, ViFi-CLIP), computed by
hand for a 320 x 240 HMDB51 / UCF101 frame at short side 256 and input 224."""

from __future__ import annotations

import pytest

from omnibench.data.crops import Box, crop_sizes, in_original, multi_scale_box, resized_shape


def test_the_frame_is_resized_as_mmcv_rounds() -> None:
    assert resized_shape(240, 320, 256) == (256, 341)  # 320 * 256 / 240 = 341.33
    assert resized_shape(256, 454, 256) == (256, 454)
    assert resized_shape(480, 270, 256) == (455, 256)  # 480 * 256 / 270 = 455.1


def test_crop_sizes_pair_neighbouring_scales_and_snap_to_the_input() -> None:
    """int(256 x (1, .875, .75, .66)) = 256, 224, 192, 168; width and height at most one scale
    apart: 10 (width, height) pairs, in mmaction's order."""
    assert crop_sizes(256, 224) == [
        (256, 256),
        (224, 256),
        (256, 224),
        (224, 224),
        (192, 224),
        (224, 192),
        (192, 192),
        (168, 192),
        (192, 168),
        (168, 168),
    ]
    # a side within 2 px of the input size becomes it: 192 -> 190 at input 190, not 168 -> 171
    assert (190, 190) in crop_sizes(256, 190) and (168, 168) in crop_sizes(256, 171)


@pytest.mark.parametrize(
    "position, left, top",
    [(0, 0, 0), (1, 116, 0), (2, 0, 64), (3, 116, 64), (4, 58, 32)],
)
def test_the_five_positions_are_corners_and_centre(position: int, left: int, top: int) -> None:
    """A 224 wide, 192 high crop of the 341 x 256 frame: x steps (341 - 224) // 4 = 29, y steps
    (256 - 192) // 4 = 16; corners at 0 and 4 steps, the centre at 2."""
    size_pair = crop_sizes(256, 224).index((224, 192))
    uniforms = [(size_pair + 0.5) / 10, (position + 0.5) / 5]
    box = multi_scale_box(240, 320, 256, 224, uniforms)
    assert box == Box(top, left, 192, 224)


def test_a_box_of_the_resized_frame_maps_onto_the_decoded_frame() -> None:
    """Resized x 116-340, y 0-224 at 320 / 341 and 240 / 256 per pixel: decoded x 109-319
    (108.86 and 319.06 rounded), y 0-210."""
    assert in_original(Box(0, 116, 224, 224), 240, 320, 256) == Box(0, 109, 210, 210)
