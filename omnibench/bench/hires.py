"""Generated clips at a real download's resolution and keyframe spacing, for the loader bench and
the prepare tests: 1280x720, a keyframe every 250 frames (x264's default, what most downloads
carry), B-frames, a textured scene panning under a moving shape so that P-frames carry
realistic motion.
"""

from __future__ import annotations

import dataclasses
import fractions
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from omnibench.data.encode import H264Writer, StreamSettings


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """One generated clip: size, length, keyframe interval, frame rate."""

    width: int = 1280
    height: int = 720
    frames: int = 300
    keyframe_interval: int = 250
    fps: int = 30


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth colour blobs plus fine grain, uint8 ``(height, width, 3)``."""
    coarse = rng.random((height // 32 + 2, width // 32 + 2, 3)).astype(np.float32)
    smooth = np.repeat(np.repeat(coarse, 32, axis=0), 32, axis=1)[:height, :width]
    grain = rng.normal(0.0, 0.03, (height, width, 1)).astype(np.float32)
    return (np.clip(0.15 + 0.7 * smooth + grain, 0, 1) * 255).astype(np.uint8)


def _frames(spec: ClipSpec, seed: int) -> Iterator[np.ndarray]:
    """Frame ``t``: a window panning across a larger texture, a bright box moving over it."""
    rng = np.random.default_rng(seed)
    pan = spec.frames * 2 + 8
    texture = _texture(rng, spec.height + pan, spec.width + pan)
    box = max(8, spec.height // 6)
    for t in range(spec.frames):
        frame = texture[t * 2 // 3 : t * 2 // 3 + spec.height, t * 2 : t * 2 + spec.width].copy()
        x = int((spec.width - box) * (0.5 + 0.45 * np.sin(t / 17)))
        y = int((spec.height - box) * (0.5 + 0.45 * np.cos(t / 23)))
        frame[y : y + box, x : x + box] = (235, 220, 40)
        yield frame


def write_clip(path: Path, spec: ClipSpec = ClipSpec(), seed: int = 0) -> Path:
    """Encode one clip as H.264 MP4 (CRF 23, 3 B-frames, x264 "superfast") at ``path``."""
    import av  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    settings = StreamSettings(
        spec.width,
        spec.height,
        fractions.Fraction(spec.fps),
        spec.keyframe_interval,
        crf=23,
        preset="superfast",
        bframes=3,
    )
    writer = H264Writer(path, settings)
    try:
        for frame in _frames(spec, seed):
            writer.write(av.VideoFrame.from_ndarray(frame, format="rgb24"))
    finally:
        writer.close()
    return path
