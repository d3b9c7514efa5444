"""What the synthetic motion benchmark generates (:mod:`omnibench.data.synth`): its classes, each
a motion with its time-reversed twin, and the generator's settings. Read by the writer and by
what draws the frames (:mod:`omnibench.data.synth_frames`), neither of which it imports."""

from __future__ import annotations

import dataclasses

from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean

# class phrase -> (kind, direction). Pairs are time reversals of each other.
MOTIONS: dict[str, tuple[str, tuple[int, int]]] = {
    "object moving left": ("translate", (-1, 0)),
    "object moving right": ("translate", (1, 0)),
    "object moving up": ("translate", (0, -1)),
    "object moving down": ("translate", (0, 1)),
    "object growing": ("scale", (1, 0)),
    "object shrinking": ("scale", (-1, 0)),
    "object rotating clockwise": ("rotate", (1, 0)),
    "object rotating anticlockwise": ("rotate", (-1, 0)),
    "object fading in": ("fade", (1, 0)),
    "object fading out": ("fade", (-1, 0)),
    "object moving up and left": ("translate", (-1, -1)),
    "object moving down and right": ("translate", (1, 1)),
    "object moving up and right": ("translate", (1, -1)),
    "object moving down and left": ("translate", (-1, 1)),
}
DEFAULT_CLASSES: tuple[str, ...] = tuple(list(MOTIONS)[:10])
# The four translations only, with four times the videos: small enough to train tiny
# temporal models to well above chance on CPU in about a minute (the demo, the temporal test).
DIRECTION_CLASSES: tuple[str, ...] = tuple(list(MOTIONS)[:4])
DIRECTIONS_VIDEOS_PER_CLASS = 192
TEST_SPLITS = 3


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """What to generate; ``videos_per_class`` is split half train, half over three test splits."""

    classes: tuple[str, ...] = DEFAULT_CLASSES
    videos_per_class: int = 48
    frames: int = 16
    size: int = 64
    seed: int = 0
    fps: int = 8

    def __post_init__(self) -> None:
        for name in self.classes:
            if name not in MOTIONS:
                raise OmniBenchError(
                    f"unknown synthetic class '{name}'{did_you_mean(name, list(MOTIONS))}; "
                    f"known: {', '.join(MOTIONS)}"
                )
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            raise OmniBenchError(
                f"synthetic classes must be distinct and non-empty, got {list(self.classes)}"
            )
        if self.videos_per_class < 2 * TEST_SPLITS:
            raise OmniBenchError(
                "--videos-per-class must be at least "
                f"{2 * TEST_SPLITS}, got {self.videos_per_class}"
            )
        if self.frames < 2 or self.size < 16 or self.size % 2:
            raise OmniBenchError(
                f"need --frames >= 2 and an even --size >= 16, got {self.frames} and {self.size}"
            )
