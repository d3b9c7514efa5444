"""The frames of the synthetic motion benchmark's videos (:mod:`omnibench.data.synth`): a random
scene per video, a shape moved, scaled, turned or faded over it (numpy and PIL, imported only by
what draws videos)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image, ImageDraw

from omnibench.data.synth_config import MOTIONS, SynthConfig

# Shapes without rotational symmetry, so rotation direction is visible (unit coordinates, y down).
SHAPES: tuple[tuple[tuple[float, float], ...], ...] = (
    ((0.0, -1.0), (0.6, 0.8), (-0.6, 0.8)),  # tall triangle
    ((-0.7, -1.0), (-0.1, -1.0), (-0.1, 0.4), (0.7, 0.4), (0.7, 1.0), (-0.7, 1.0)),  # L
    (
        (-1.0, -0.9),
        (1.0, -0.9),
        (1.0, -0.3),
        (0.3, -0.3),
        (0.3, 1.0),
        (-0.3, 1.0),
        (-0.3, -0.3),
        (-1.0, -0.3),
    ),  # T
    (
        (-1.0, -0.3),
        (0.2, -0.3),
        (0.2, -0.8),
        (1.0, 0.0),
        (0.2, 0.8),
        (0.2, 0.3),
        (-1.0, 0.3),
    ),  # arrow
    ((0.0, -1.0), (0.9, -0.2), (0.5, 1.0), (-0.6, 0.7), (-0.8, -0.4)),  # irregular pentagon
)
SUPERSAMPLE = 4


@dataclasses.dataclass(frozen=True)
class _Scene:
    """The random appearance of one video and its motion amplitude."""

    background: np.ndarray  # (S, S, 3) float in [0, 1]
    colour: np.ndarray  # (3,)
    shape: np.ndarray  # (V, 2) unit polygon
    centre: np.ndarray  # (2,) pixels, centre of the path
    radius: float  # pixels
    angle: float
    amount: float  # translation in pixels, log scale factor, rotation in radians


def draw_scene(rng: np.random.Generator, kind: str, size: int) -> _Scene:
    dark_background = rng.random() < 0.5
    low, high = (0.05, 0.4), (0.6, 1.0)
    base = rng.uniform(*(low if dark_background else high), size=3)
    noise = Image.fromarray((rng.random((4, 4, 3)) * 255).astype(np.uint8)).resize(
        (size, size), Image.Resampling.BILINEAR
    )
    background = np.clip(base + (np.asarray(noise, dtype=np.float32) / 255 - 0.5) * 0.2, 0, 1)
    colour = rng.uniform(*(high if dark_background else low), size=3)
    amount = {
        "translate": rng.uniform(0.35, 0.5) * size,
        "scale": math.log(rng.uniform(2.5, 3.5)),
        "rotate": rng.uniform(0.5, 0.9) * math.pi,
        "fade": 1.0,
    }[kind]
    radius = rng.uniform(0.12, 0.18) * size
    reach = radius + (amount / 2 if kind == "translate" else 0)
    centre = rng.uniform(reach, size - reach, size=2) if reach < size / 2 else np.full(2, size / 2)
    shape = np.asarray(SHAPES[rng.integers(len(SHAPES))], dtype=np.float64)
    return _Scene(background, colour, shape, centre, radius, rng.uniform(0, 2 * math.pi), amount)


def _pose(
    scene: _Scene, kind: str, direction: tuple[int, int], u: float
) -> tuple[np.ndarray, float, float, float]:
    """Centre, radius, angle and opacity at normalised time ``u`` in [-0.5, 0.5]."""
    sign = direction[0]
    centre, radius, angle, alpha = scene.centre, scene.radius, scene.angle, 1.0
    if kind == "translate":
        step = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
        centre = centre + step * scene.amount * u
    elif kind == "scale":
        radius = radius * math.exp(sign * scene.amount * u)
    elif kind == "rotate":  # image y points down, so a growing angle turns clockwise on screen
        angle = angle + sign * scene.amount * u
    else:
        alpha = 0.55 + sign * 0.9 * u
    return centre, radius, angle, alpha


def render(
    scene: _Scene, kind: str, direction: tuple[int, int], frames: int, size: int
) -> np.ndarray:
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        centre, radius, angle, alpha = _pose(scene, kind, direction, t / (frames - 1) - 0.5)
        rotation = np.array(
            [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
        )
        points = (scene.shape @ rotation.T * radius + centre) * SUPERSAMPLE
        mask = Image.new("L", (size * SUPERSAMPLE, size * SUPERSAMPLE))
        ImageDraw.Draw(mask).polygon([tuple(p) for p in points], fill=255)
        cover = (
            np.asarray(mask.resize((size, size), Image.Resampling.BOX), dtype=np.float32)[..., None]
            / 255
            * alpha
        )
        out[t] = np.round((scene.background * (1 - cover) + scene.colour * cover) * 255).astype(
            np.uint8
        )
    return out


def render_video(config: SynthConfig, label: int, video: int) -> np.ndarray:
    """The frames ``(T, S, S, 3)`` of the ``video``-th video of class ``label`` (pure function of
    the config)."""
    kind, direction = MOTIONS[config.classes[label]]
    rng = np.random.default_rng([config.seed, label, video])
    return render(draw_scene(rng, kind, config.size), kind, direction, config.frames, config.size)
