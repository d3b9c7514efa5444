"""Which frames of a video a clip reads: TSN sparse sampling and multi-view test sampling.

Training follows the official X-CLIP / ViFi-CLIP pipeline (mmaction's ``SampleFrames``): a
video of ``n >= T`` frames is cut into ``T`` segments of ``n // T`` frames (the last
``n mod T`` frames are never read) and one frame is drawn uniformly from each; a video of fewer
than ``T`` frames reads frame ``round(i * n / T) mod n`` for clip frame ``i`` (repeats, no
randomness). Testing takes the centre of ``T`` equal segments of ``n / T`` frames (the official
single-view test). Multi-view testing takes ``N`` temporal clips per video whose offsets are
evenly spaced inside those segments (clip ``c`` at ``(c + 0.5) / N`` of the segment;
docs/FIDELITY.md). All functions return indices in ``[0, n)``, in clip order.
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
    """TSN training sampling: a uniform frame of each of ``frames`` segments of ``n // frames``
    frames; fewer frames than ``frames``: ``round(i * n / frames) mod n`` (numpy's half-to-even,
    so the last index of a very short video can wrap to frame 0, as mmaction's)."""
    _check(num_video_frames, frames)
    segment = num_video_frames // frames
    if segment == 0:  # mmaction rounds, then wraps past the end ("loop")
        rounded = np.around(np.arange(frames) * (num_video_frames / frames)).astype(np.int64)
        return (rounded % num_video_frames).tolist()
    return (np.arange(frames) * segment + rng.integers(segment, size=frames)).tolist()


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
    """Start offsets of ``crops`` square crops along the long side: 1 -> ``(L - crop) // 2``;
    3 -> 0, that and twice that (mmaction's ThreeCrop: the right crop may stop a pixel short)."""
    if crops < 1:
        raise ValueError(f"need at least one spatial crop, got {crops}")
    if crop > long_side:
        raise ValueError(f"crop {crop} is larger than the side {long_side}")
    step = (long_side - crop) // 2  # mmaction's CenterCrop and ThreeCrop: integer steps
    return [step] if crops == 1 else [0, *(step * (2 * k) // (crops - 1) for k in range(1, crops))]
