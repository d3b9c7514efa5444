"""Which frames of a video a clip reads: TSN sparse sampling and multi-view test sampling.

A video of ``n`` frames is cut into ``T`` equal segments and one frame is taken per
segment (Wang et al., TSN): at a random offset in training, at the segment centre at test.
Multi-view testing takes ``N`` temporal clips per video whose offsets are evenly spaced
inside the segments (clip ``c`` at ``(c + 0.5) / N`` of the segment). Videos shorter than
``T`` frames repeat indices. All functions return sorted indices in ``[0, n)``.
"""

from __future__ import annotations

import numpy as np


def _check(num_video_frames: int, frames: int) -> None:
    if num_video_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_video_frames}")
    if frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {frames}")


def _at_fraction(num_video_frames: int, frames: int, fractions: np.ndarray) -> list[int]:
    """Index in each of the ``frames`` segments at the given fraction (0 <= f < 1) of it."""
    segment = num_video_frames / frames
    positions = (np.arange(frames) + fractions) * segment
    return np.clip(np.floor(positions).astype(np.int64), 0, num_video_frames - 1).tolist()


def sample_train_indices(num_video_frames: int, frames: int, rng: np.random.Generator) -> list[int]:
    """TSN training sampling: one frame at a random offset inside each of ``frames`` segments."""
    _check(num_video_frames, frames)
    return _at_fraction(num_video_frames, frames, rng.random(frames))


def sample_test_indices(num_video_frames: int, frames: int, clips: int = 1) -> list[list[int]]:
    """Deterministic test sampling: ``clips`` evenly spaced temporal views of ``frames`` frames."""
    _check(num_video_frames, frames)
    if clips < 1:
        raise ValueError(f"need at least one temporal clip, got {clips}")
    return [
        _at_fraction(num_video_frames, frames, np.full(frames, (clip + 0.5) / clips))
        for clip in range(clips)
    ]


def spatial_crop_offsets(long_side: int, crop: int, crops: int) -> list[int]:
    """Start offsets of ``crops`` square crops along the long side: 1 -> centre; 3 -> both ends +
    centre."""
    if crops < 1:
        raise ValueError(f"need at least one spatial crop, got {crops}")
    if crop > long_side:
        raise ValueError(f"crop {crop} is larger than the side {long_side}")
    if crops == 1:
        return [(long_side - crop) // 2]
    return np.round(np.linspace(0, long_side - crop, crops)).astype(np.int64).tolist()
