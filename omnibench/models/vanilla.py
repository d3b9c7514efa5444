"""Vanilla CLIP: frozen encoders, frame-mean video embedding, zero-shot classification."""

from __future__ import annotations

from typing import Any

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

from open_clip.model import CLIP

from omnibench.models.base import VideoCLIPModel
from omnibench.models.vanilla_config import VanillaOptions


class VanillaCLIP(VideoCLIPModel):
    """Frozen CLIP applied frame by frame; the video embedding is the mean of the frames'."""

    def __init__(self, clip: CLIP, tokenizer: Any, frames: int, options: VanillaOptions) -> None:
        super().__init__(clip, tokenizer, frames, options.template)
        self.freeze_except(())
