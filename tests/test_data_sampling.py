"""TSN sparse sampling, multi-view test sampling and spatial crop offsets."""

from __future__ import annotations

import numpy as np
import pytest

from omnibench.data.sampling import sample_test_indices, sample_train_indices, spatial_crop_offsets


def test_train_indices_fall_one_per_segment() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        indices = sample_train_indices(100, 8, rng)
        assert len(indices) == 8
        for segment, index in enumerate(indices):
            assert int(segment * 12.5) <= index < (segment + 1) * 12.5


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


@pytest.mark.parametrize("sample", ["train", "test"])
def test_short_videos_repeat_indices(sample: str) -> None:
    if sample == "train":
        indices = sample_train_indices(3, 8, np.random.default_rng(0))
    else:
        indices = sample_test_indices(3, 8)[0]
    assert len(indices) == 8
    assert indices == sorted(indices)
    assert set(indices) == {0, 1, 2}


def test_single_frame_video() -> None:
    assert sample_test_indices(1, 4, clips=2) == [[0, 0, 0, 0], [0, 0, 0, 0]]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        sample_test_indices(0, 8)
    with pytest.raises(ValueError):
        sample_test_indices(10, 8, clips=0)


def test_spatial_crop_offsets() -> None:
    assert spatial_crop_offsets(298, 224, 1) == [37]
    assert spatial_crop_offsets(298, 224, 3) == [0, 37, 74]
    assert spatial_crop_offsets(224, 224, 3) == [0, 0, 0]
    with pytest.raises(ValueError):
        spatial_crop_offsets(200, 224, 1)
