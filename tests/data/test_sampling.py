"""TSN sparse sampling, multi-view test sampling and spatial crop offsets."""

from __future__ import annotations

import numpy as np
import pytest

from omnibench.data.sampling import sample_test_indices, sample_train_indices, spatial_crop_offsets


def test_train_indices_fall_one_per_segment_of_floor_n_over_t_frames() -> None:
    """mmaction's SampleFrames (X-CLIP, ViFi-CLIP): 100 frames in 8 segments of 100 // 8 = 12
    frames, segment i covering [12 i, 12 i + 12); frames 96-99 are never read. (Segments of 12.5
    frames would put segment 5 at [62, 75), and read frames up to 99.)"""
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        indices = sample_train_indices(100, 8, rng)
        assert len(indices) == 8
        for segment, index in enumerate(indices):
            assert 12 * segment <= index < 12 * segment + 12
        seen.update(indices)
    assert seen == set(range(96))  # every frame of every segment is drawn, none after them


def test_videos_shorter_than_the_clip_read_rounded_positions_without_randomness() -> None:
    """``round(i * n / T)`` (numpy's half-to-even), the same under any seed."""
    first = sample_train_indices(5, 8, np.random.default_rng(0))
    assert first == [0, 1, 1, 2, 2, 3, 4, 4]  # 0, .625, 1.25, 1.875, 2.5, 3.125, 3.75, 4.375
    assert sample_train_indices(5, 8, np.random.default_rng(9)) == first


def test_train_indices_are_random_but_reproducible() -> None:
    draws = {tuple(sample_train_indices(300, 8, np.random.default_rng(seed))) for seed in range(20)}
    assert len(draws) > 15
    assert sample_train_indices(300, 8, np.random.default_rng(3)) == sample_train_indices(
        300, 8, np.random.default_rng(3)
    )


def test_test_indices_are_segment_centres() -> None:
    assert sample_test_indices(80, 8) == [[5, 15, 25, 35, 45, 55, 65, 75]]
    assert sample_test_indices(16, 16) == [list(range(16))]


def test_multi_view_clips_are_evenly_spaced_and_distinct() -> None:
    views = sample_test_indices(120, 4, clips=3)
    assert views == [[5, 35, 65, 95], [15, 45, 75, 105], [25, 55, 85, 115]]
    assert sample_test_indices(120, 4, clips=3) == views  # deterministic


def test_short_videos_repeat_indices() -> None:
    indices = sample_test_indices(3, 8)[0]
    assert len(indices) == 8 and indices == sorted(indices) and set(indices) == {0, 1, 2}
    # training: round(7 * 3 / 8) = 3 is past the end and wraps to frame 0 (mmaction's "loop")
    assert sample_train_indices(3, 8, np.random.default_rng(0)) == [0, 0, 1, 1, 2, 2, 2, 0]


def test_single_frame_video() -> None:
    assert sample_test_indices(1, 4, clips=2) == [[0, 0, 0, 0], [0, 0, 0, 0]]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        sample_test_indices(0, 8)
    with pytest.raises(ValueError):
        sample_test_indices(10, 8, clips=0)


def test_spatial_crop_offsets() -> None:
    """mmaction's CenterCrop and ThreeCrop: steps of (L - crop) // 2, so with an odd gap the right
    crop stops a pixel short of the edge."""
    assert spatial_crop_offsets(298, 224, 1) == [37]
    assert spatial_crop_offsets(298, 224, 3) == [0, 37, 74]
    assert spatial_crop_offsets(299, 224, 3) == [0, 37, 74]  # not [0, 38, 75]
    assert spatial_crop_offsets(224, 224, 3) == [0, 0, 0]
    with pytest.raises(ValueError):
        spatial_crop_offsets(200, 224, 1)
