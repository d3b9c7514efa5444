"""Clip transforms: shapes, dtypes, crops, flips and normalisation of the views they give."""

from __future__ import annotations

import pytest
import torch

from omnibench.data import build_transform
from omnibench.data.color import apply_color
from omnibench.data.transforms import NORMALIZATIONS, MultiScaleCrop
from omnibench.errors import OmniBenchError


def _video(frames: int = 4, height: int = 60, width: int = 80) -> torch.Tensor:
    return torch.randint(0, 256, (frames, 3, height, width), dtype=torch.uint8)


def _finish(pair: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The float views a model sees: the uint8 views through their colour maps."""
    return apply_color(*pair)


def test_train_transform_shape_and_dtype() -> None:
    views, maps = build_transform(True, input_size=32, short_side=40)(_video())
    assert views.shape == (1, 4, 3, 32, 32) and views.dtype == torch.uint8
    assert maps.shape == (1, 4, 3, 9)  # one colour map per frame
    assert views.movedim(-3, -1).is_contiguous()  # channels-last memory, as decoded
    out = apply_color(views, maps)
    assert out.shape == (1, 4, 3, 32, 32) and out.dtype == torch.float32


@pytest.mark.parametrize("crops", [1, 3])
def test_test_transform_views(crops: int) -> None:
    views, maps = build_transform(False, input_size=32, short_side=40)(_video(), crops=crops)
    assert views.shape == (crops, 4, 3, 32, 32) and views.dtype == torch.uint8
    assert views.movedim(-3, -1).is_contiguous() and maps.shape == (crops, 3, 9)
    assert apply_color(views, maps).dtype == torch.float32


def test_three_crops_cover_left_centre_right() -> None:
    # brightness grows with the column: the left crop is darkest, the right crop brightest
    ramp = torch.linspace(0, 255, 96).round().to(torch.uint8)
    video = ramp.expand(2, 3, 48, 96).contiguous()
    transform = build_transform(False, input_size=48, short_side=48)
    left, centre, right = _finish(transform(video, crops=3)).mean(dim=(1, 2, 3, 4))
    assert left < centre < right
    single = _finish(transform(video, crops=1))[0]
    assert torch.allclose(single.mean(), centre, atol=0.05)


def test_every_frame_gets_the_same_crop_and_flip_and_its_own_colour_jitter() -> None:
    """X-CLIP's ColorJitter runs torchvision's jitter on each frame with fresh factors and order;
    crop, flip and the jitter / grayscale coins are per clip."""
    frame = _video(1)
    video = frame.expand(6, -1, -1, -1).contiguous()
    jittered = 0
    for seed in range(8):
        torch.manual_seed(seed)
        views, maps = build_transform(True, input_size=32, short_side=40)(video)
        assert all(torch.equal(views[0, 0], views[0, t]) for t in range(6))
        out = apply_color(views, maps)[0]
        jittered += not all(torch.equal(out[0], out[t]) for t in range(6))
    assert 4 <= jittered < 8  # p = 0.8 per clip (a clip without jitter keeps equal frames)


def test_training_crops_sit_at_five_fixed_positions() -> None:
    """MultiScaleCrop with random_crop=False: 10 crop sizes x 5 positions (corners, centre) give
    at most 50 different crops of a frame; uniform offsets would give hundreds."""
    frame = _video(1)
    transform = build_transform(True, input_size=32, short_side=40, hflip=False)
    crops = set()
    for seed in range(300):
        torch.manual_seed(seed)
        crops.add(transform(frame)[0].numpy().tobytes())
    assert 10 <= len(crops) <= 50


def test_training_augmentation_depends_on_the_seed() -> None:
    transform = build_transform(True, input_size=32, short_side=40)
    video = _video()
    torch.manual_seed(1)
    first = _finish(transform(video))
    torch.manual_seed(1)
    assert torch.equal(first, _finish(transform(video)))
    torch.manual_seed(2)
    assert not torch.equal(first, _finish(transform(video)))


def test_multi_scale_crop_uses_the_listed_scales() -> None:
    crop = MultiScaleCrop(8, short_side=100)
    video = torch.zeros(1, 3, 100, 200, dtype=torch.uint8)
    video[..., :, 150:] = 255  # only a crop reaching x >= 150 sees white
    torch.manual_seed(0)
    outputs = [crop(video) for _ in range(40)]
    assert all(out.shape == (1, 3, 8, 8) for out in outputs)
    assert any(out.float().mean() > 0 for out in outputs) and any(
        out.float().mean() == 0 for out in outputs
    )


@pytest.mark.parametrize("augment", ["fused", "stepwise"])
def test_both_augmentation_paths_crop_the_same_region(augment: str) -> None:
    """A 320 x 240 frame bright from x = 200: the upper-right 224 crop of the frame resized to
    341 x 256 covers resized x 116-340 (steps of (341 - 224) // 4 = 29), decoded x 109-319, so
    the bright part fills (319 - 200) / 210 of the crop's columns in both paths."""
    video = torch.zeros(1, 3, 240, 320, dtype=torch.uint8)
    video[..., 200:] = 255
    crop = MultiScaleCrop(224, short_side=256, stepwise=augment == "stepwise")
    out = crop(video, [0.35, 0.3])  # size pair 3 of 10: 224 x 224; position 1: upper right
    bright = (out[0, 0, 0].float() > 127).float().mean().item()
    assert bright == pytest.approx((319 - 200) / 210, abs=0.01)


@pytest.mark.parametrize("hflip", [True, False])
def test_flip_only_when_enabled(hflip: bool) -> None:
    # a left-dark / right-bright frame: flipped under some draws when enabled, never when disabled
    video = torch.zeros(2, 3, 40, 40, dtype=torch.uint8)
    video[..., 20:] = 255
    transform = build_transform(True, input_size=32, short_side=40, hflip=hflip)
    flipped = []
    for seed in range(20):
        torch.manual_seed(seed)
        columns = transform(video)[0][0, 0].float().mean(dim=(0, 1))
        flipped.append(bool(columns[:4].mean() > columns[-4:].mean()))
    assert any(flipped) == hflip and not all(flipped)


def test_normalisations() -> None:
    video = torch.full((1, 3, 32, 32), 128, dtype=torch.uint8)
    clip = _finish(build_transform(False, 32, 32, "clip")(video))
    imagenet = _finish(build_transform(False, 32, 32, "imagenet")(video))
    mean, std = NORMALIZATIONS["imagenet"]
    assert torch.allclose(
        imagenet[0, 0, :, 0, 0], (128 / 255 - torch.tensor(mean)) / torch.tensor(std), atol=1e-5
    )
    assert not torch.allclose(clip, imagenet)


def test_bad_settings() -> None:
    with pytest.raises(OmniBenchError, match="did you mean 'clip'"):
        build_transform(False, normalization="clipp")
    with pytest.raises(OmniBenchError, match="larger than the short side"):
        build_transform(False, input_size=256, short_side=224)
    with pytest.raises(ValueError):
        build_transform(True, 32, 40)(_video(), crops=3)


def test_training_outputs_stay_in_the_image_range() -> None:
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in NORMALIZATIONS["clip"])
    transform = build_transform(True, input_size=32, short_side=40)
    video = _video()
    for seed in range(16):  # enough draws to pass through jitter and grayscale
        torch.manual_seed(seed)
        pixels = _finish(transform(video))[0] * std + mean
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_stepwise_colours_each_frame_in_the_worker() -> None:
    """augment: stepwise runs torchvision's ColorJitter on each uint8 frame (its own factors) and
    leaves the maps to normalise only; fused leaves the uint8 pixels to the maps."""
    video = _video(1).expand(4, -1, -1, -1).contiguous()
    normalise_only = build_transform(False, 32, 40)(_video(1))[1][0]
    changed = 0
    for seed in range(6):
        torch.manual_seed(seed)
        views, maps = build_transform(True, 32, 40, augment="stepwise")(video)
        assert all(torch.equal(m, normalise_only) for m in maps[0])
        changed += not all(torch.equal(views[0, 0], views[0, t]) for t in range(4))
    assert changed >= 3  # jittered clips (p = 0.8) colour their identical frames differently
