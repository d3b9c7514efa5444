"""Clip transforms: shapes, dtypes, crops and normalisation."""
from __future__ import annotations

import pytest
import torch

from omnibench.data import build_transform
from omnibench.data.transforms import NORMALIZATIONS, MultiScaleCrop
from omnibench.errors import OmniBenchError


def _video(frames: int = 4, height: int = 60, width: int = 80) -> torch.Tensor:
    return torch.randint(0, 256, (frames, 3, height, width), dtype=torch.uint8)


def test_train_transform_shape_and_dtype() -> None:
    out = build_transform(True, input_size=32, short_side=40)(_video())
    assert out.shape == (1, 4, 3, 32, 32)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("crops", [1, 3])
def test_test_transform_views(crops: int) -> None:
    out = build_transform(False, input_size=32, short_side=40)(_video(), crops=crops)
    assert out.shape == (crops, 4, 3, 32, 32)
    assert out.dtype == torch.float32


def test_three_crops_cover_left_centre_right() -> None:
    # brightness grows with the column: the left crop is darkest, the right crop brightest
    ramp = torch.linspace(0, 255, 96).round().to(torch.uint8)
    video = ramp.expand(2, 3, 48, 96).contiguous()
    transform = build_transform(False, input_size=48, short_side=48)
    left, centre, right = transform(video, crops=3).mean(dim=(1, 2, 3, 4))
    assert left < centre < right
    single = transform(video, crops=1)[0]
    assert torch.allclose(single.mean(), centre, atol=0.05)


def test_every_frame_gets_the_same_augmentation() -> None:
    frame = _video(1)
    video = frame.expand(6, -1, -1, -1).contiguous()
    torch.manual_seed(0)
    out = build_transform(True, input_size=32, short_side=40)(video)[0]
    assert all(torch.equal(out[0], out[t]) for t in range(6))


def test_training_augmentation_depends_on_the_seed() -> None:
    transform = build_transform(True, input_size=32, short_side=40)
    video = _video()
    torch.manual_seed(1)
    first = transform(video)
    torch.manual_seed(1)
    assert torch.equal(first, transform(video))
    torch.manual_seed(2)
    assert not torch.equal(first, transform(video))


def test_multi_scale_crop_uses_the_listed_scales() -> None:
    crop = MultiScaleCrop(8)
    video = torch.zeros(1, 3, 100, 200, dtype=torch.uint8)
    video[..., :, 150:] = 255  # only a crop reaching x >= 150 sees white
    torch.manual_seed(0)
    outputs = [crop(video) for _ in range(40)]
    assert all(out.shape == (1, 3, 8, 8) for out in outputs)
    assert any(out.float().mean() > 0 for out in outputs) and any(out.float().mean() == 0 for out in outputs)


def test_no_flip_when_disabled() -> None:
    # a left-dark / right-bright frame stays so with hflip=False, under every random draw
    video = torch.zeros(2, 3, 40, 40, dtype=torch.uint8)
    video[..., 20:] = 255
    transform = build_transform(True, input_size=32, short_side=40, hflip=False)
    for seed in range(20):
        torch.manual_seed(seed)
        out = transform(video)[0, 0].mean(dim=(0, 1))
        assert out[:4].mean() < out[-4:].mean()


def test_normalisations() -> None:
    video = torch.full((1, 3, 32, 32), 128, dtype=torch.uint8)
    clip = build_transform(False, 32, 32, "clip")(video)
    imagenet = build_transform(False, 32, 32, "imagenet")(video)
    mean, std = NORMALIZATIONS["imagenet"]
    assert torch.allclose(imagenet[0, 0, :, 0, 0], (128 / 255 - torch.tensor(mean)) / torch.tensor(std), atol=1e-5)
    assert not torch.allclose(clip, imagenet)


def test_bad_settings() -> None:
    with pytest.raises(OmniBenchError, match="did you mean 'clip'"):
        build_transform(False, normalization="clipp")
    with pytest.raises(OmniBenchError, match="larger than the short side"):
        build_transform(False, input_size=256, short_side=224)
    with pytest.raises(ValueError):
        build_transform(True, 32, 40)(_video(), crops=3)


def _smooth_colours(seed: int = 0) -> torch.Tensor:
    """Blurred random colours in [0, 1] (natural-image-like: smooth, mostly saturated)."""
    from torchvision.transforms.v2 import functional as F

    image = F.gaussian_blur(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(seed)), [9, 9])
    return (image - image.amin()) / (image.amax() - image.amin())


def test_hue_matrix_is_identity_at_zero_and_exact_at_a_third_turn() -> None:
    from omnibench.data.transforms import hue_matrix

    assert torch.allclose(hue_matrix(0.0), torch.eye(3), atol=1e-6)
    red, green = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    assert torch.allclose(hue_matrix(1 / 3) @ red, green, atol=1e-6)  # HSV: red + 1/3 turn = green
    assert torch.allclose(hue_matrix(0.07) @ hue_matrix(-0.07), torch.eye(3), atol=1e-6)
    grey = torch.tensor([0.3, 0.3, 0.3])
    colours = _smooth_colours().permute(1, 0, 2, 3).reshape(3, -1)
    assert torch.allclose(hue_matrix(0.1) @ grey, grey, atol=1e-6)
    assert torch.allclose((hue_matrix(0.1) @ colours).mean(0), colours.mean(0), atol=1e-6)  # intensity kept


@pytest.mark.parametrize("hue", [-0.1, 0.05, 0.1])
def test_hue_rotation_follows_torchvision_hsv_shift(hue: float) -> None:
    from torchvision.transforms.v2 import functional as F
    from torchvision.transforms.v2.functional._color import _rgb_to_hsv

    from omnibench.data.transforms import apply_color_matrix, hue_matrix

    image = _smooth_colours()
    reference = F.adjust_hue(image, hue)
    ours = apply_color_matrix(image * 255, hue_matrix(hue)) / 255
    hsv_ref, hsv_ours = _rgb_to_hsv(reference), _rgb_to_hsv(ours)
    coloured = hsv_ref[:, 1] > 0.2
    error = ((hsv_ours[:, 0] - hsv_ref[:, 0] + 0.5) % 1 - 0.5).abs()[coloured]
    assert coloured.float().mean() > 0.5
    assert error.mean() < 0.1 * abs(hue) and error.max() < 0.03


def test_colour_ops_match_torchvision() -> None:
    from torchvision.transforms.v2 import functional as F

    from omnibench.data.transforms import adjust_contrast_, apply_color_matrix, grayscale_matrix, saturation_matrix

    image = _smooth_colours(1)
    for factor in (0.6, 1.4):
        ours = adjust_contrast_(image.clone() * 255, factor) / 255
        assert torch.allclose(ours, F.adjust_contrast(image, factor), atol=1e-5)
        ours = apply_color_matrix(image * 255, saturation_matrix(factor)) / 255
        assert torch.allclose(ours, F.adjust_saturation(image, factor), atol=1e-5)
    grey = apply_color_matrix(image * 255, grayscale_matrix()) / 255
    assert torch.allclose(grey, F.rgb_to_grayscale(image, num_output_channels=3), atol=1e-5)


def test_training_outputs_are_fresh_and_in_range() -> None:
    """Later clips never overwrite earlier ones (a scratch buffer is reused); pixels stay in [0, 1]."""
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in NORMALIZATIONS["clip"])
    transform = build_transform(True, input_size=32, short_side=40)
    video = _video()
    outputs, copies = [], []
    for seed in range(16):  # enough draws to pass through jitter, grayscale and both buffer parities
        torch.manual_seed(seed)
        outputs.append(transform(video))
        copies.append(outputs[-1].clone())
    assert all(torch.equal(out, copy) for out, copy in zip(outputs, copies))
    assert len({out.data_ptr() for out in outputs}) == len(outputs)
    for out in outputs:
        pixels = out[0] * std + mean
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
