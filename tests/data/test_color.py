"""Colour maps: each jitter op and their compositions against torchvision, normalisation,
batching."""

from __future__ import annotations

import omnibench.compat  # noqa: F401, I001  (before torchvision, whose extension may not load here)

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as F
from torchvision.transforms.v2.functional._color import _rgb_to_hsv

from omnibench.data.color import (
    Affine,
    apply_color,
    color_map,
    draw_color_jitter,
    grayscale_matrix,
    hue_matrix,
    identity_affine,
    saturation_matrix,
    then_contrast,
    then_matrix,
    then_scale,
)
from omnibench.data.transforms import NORMALIZATIONS

NO_NORMALISATION = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def _smooth_colours(seed: int = 0) -> torch.Tensor:
    """Blurred random colours in [0, 1] on the uint8 grid (natural-image-like: smooth, mostly
    saturated)."""
    image = F.gaussian_blur(
        torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(seed)), [9, 9]
    )
    return ((image - image.amin()) / (image.amax() - image.amin()) * 255).round() / 255


def _through(image: torch.Tensor, affine: Affine) -> torch.Tensor:
    """``image`` (on the uint8 grid, in [0, 1]) through ``affine`` without normalisation."""
    pixels = (image * 255).round().to(torch.uint8)
    return apply_color(pixels, color_map(affine, *NO_NORMALISATION))


def test_hue_matrix_is_identity_at_zero_and_exact_at_a_third_turn() -> None:
    assert np.allclose(hue_matrix(0.0), np.eye(3), atol=1e-6)
    red, green = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    assert np.allclose(hue_matrix(1 / 3) @ red, green, atol=1e-6)  # HSV: red + 1/3 turn = green
    assert np.allclose(hue_matrix(0.07) @ hue_matrix(-0.07), np.eye(3), atol=1e-6)
    grey = np.array([0.3, 0.3, 0.3])
    colours = _smooth_colours().permute(1, 0, 2, 3).reshape(3, -1).double().numpy()
    assert np.allclose(hue_matrix(0.1) @ grey, grey, atol=1e-6)
    assert np.allclose(
        (hue_matrix(0.1) @ colours).mean(0), colours.mean(0), atol=1e-6
    )  # intensity kept


@pytest.mark.parametrize("hue", [-0.1, 0.05, 0.1])
def test_hue_rotation_follows_torchvision_hsv_shift(hue: float) -> None:
    image = _smooth_colours()
    reference = F.adjust_hue(image, hue)
    ours = _through(image, then_matrix(identity_affine(), hue_matrix(hue)))
    hsv_ref, hsv_ours = _rgb_to_hsv(reference), _rgb_to_hsv(ours)
    coloured = hsv_ref[:, 1] > 0.2
    error = ((hsv_ours[:, 0] - hsv_ref[:, 0] + 0.5) % 1 - 0.5).abs()[coloured]
    assert coloured.float().mean() > 0.5
    assert error.mean() < 0.1 * abs(hue) and error.max() < 0.03


@pytest.mark.parametrize("factor", [0.6, 1.4])
def test_each_colour_op_matches_torchvision(factor: float) -> None:
    image = _smooth_colours(1)
    identity = identity_affine()
    pairs = [
        (then_scale(identity, factor), F.adjust_brightness(image, factor)),
        (
            then_contrast(identity, factor),
            F.adjust_contrast(image, factor),
        ),  # per-frame mean gray level
        (then_matrix(identity, saturation_matrix(factor)), F.adjust_saturation(image, factor)),
        (
            then_matrix(identity, grayscale_matrix()),
            F.rgb_to_grayscale(image, num_output_channels=3),
        ),
    ]
    for affine, reference in pairs:
        assert torch.allclose(_through(image, affine), reference, atol=1e-5)


def _matrix_on_frames(image: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """A 3x3 colour matrix applied to float frames (T, 3, H, W), clamped as torchvision's ops
    clamp."""
    return torch.einsum("ij,tjhw->tihw", torch.from_numpy(matrix).float(), image).clamp(0, 1)


def test_composed_ops_match_torchvision_in_sequence() -> None:
    """Contrast after other ops reads the mean of the image those ops made (the ``A mu`` term)."""
    image = 0.25 + 0.5 * _smooth_colours(2)  # mid-range: no intermediate value leaves [0, 1]
    image = (image * 255).round() / 255
    affine = then_contrast(
        then_matrix(then_scale(identity_affine(), 1.2), saturation_matrix(0.7)), 0.8
    )
    affine = then_contrast(then_matrix(affine, hue_matrix(0.05)), 1.3)
    reference = F.adjust_contrast(F.adjust_saturation(F.adjust_brightness(image, 1.2), 0.7), 0.8)
    reference = F.adjust_contrast(_matrix_on_frames(reference, hue_matrix(0.05)), 1.3)
    assert torch.allclose(_through(image, affine), reference, atol=1e-5)


def test_normalisation_is_folded_into_the_map() -> None:
    mean, std = NORMALIZATIONS["clip"]
    pixels = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    reference = F.normalize(pixels.float() / 255, list(mean), list(std))
    assert torch.allclose(
        apply_color(pixels, color_map(identity_affine(), mean, std)), reference, atol=1e-5
    )


def test_batched_maps_apply_per_view() -> None:
    """A (B, V) batch of views and maps gives what each view gives alone, channels-last input
    too."""
    torch.manual_seed(0)
    mean, std = NORMALIZATIONS["imagenet"]
    video = torch.randint(0, 256, (2, 3, 4, 8, 8, 3), dtype=torch.uint8).movedim(-1, -3)
    maps = torch.stack(
        [
            torch.stack([color_map(draw_color_jitter(), mean, std) for _ in range(3)])
            for _ in range(2)
        ]
    )
    batched = apply_color(video, maps)
    assert batched.shape == video.shape and batched.is_contiguous()
    assert torch.allclose(
        apply_color(video, maps, clips_per_pass=6), batched, atol=1e-6
    )  # a GPU's single pass
    for b in range(2):
        for v in range(3):
            assert torch.allclose(
                batched[b, v], apply_color(video[b, v].contiguous(), maps[b, v]), atol=1e-6
            )


def test_jitter_takes_its_order_from_the_draws() -> None:
    """The same factors in another order give another map (saturation and hue do not commute)."""
    factors = [0.5, 0.5, 0.9, 0.9]  # brightness 1, contrast 1, saturation 1.16, hue 0.08
    saturation_first = draw_color_jitter(factors + [0.1, 0.2, 0.3, 0.4])[0]
    hue_first = draw_color_jitter(factors + [0.1, 0.2, 0.4, 0.3])[0]
    manual = then_matrix(then_matrix(identity_affine(), saturation_matrix(1.16)), hue_matrix(0.08))[
        0
    ]
    assert np.allclose(saturation_first, manual, atol=1e-9)
    assert np.abs(saturation_first - hue_first).max() > 1e-2


def test_jitter_draws_differ_and_follow_the_generator() -> None:
    torch.manual_seed(3)
    first = [color_map(draw_color_jitter(), *NO_NORMALISATION) for _ in range(4)]
    torch.manual_seed(3)
    again = [color_map(draw_color_jitter(), *NO_NORMALISATION) for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.allclose(first[0], first[1])


def test_a_stack_of_draws_gives_each_frame_its_own_map() -> None:
    """Per-frame jitter (X-CLIP draws torchvision's factors and order for every frame): row k of a
    stacked draw is the map of row k's uniforms alone, and rows differ."""
    uniforms = np.random.default_rng(0).random((5, 8))
    stack = draw_color_jitter(uniforms)
    assert [part.shape for part in stack] == [(5, 3, 3), (5, 3, 3), (5, 3)]
    for k in range(5):
        single = draw_color_jitter(uniforms[k])
        assert all(np.allclose(part[k], one) for part, one in zip(stack, single))
    assert not np.allclose(stack[0][0], stack[0][1])
