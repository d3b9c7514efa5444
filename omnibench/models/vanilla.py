"""Vanilla CLIP: frozen encoders, frame-mean video embedding, zero-shot classification."""
from __future__ import annotations

import dataclasses
from typing import Any

from open_clip.model import CLIP

from omnibench.models.base import VideoCLIPModel
from omnibench.models.options import ModelOptions
from omnibench.models.registry import register_model
from omnibench.models.text import VIFI_TEMPLATE


@dataclasses.dataclass(frozen=True)
class VanillaOptions(ModelOptions):
    """Vanilla CLIP has only the shared options."""

    template: str = VIFI_TEMPLATE


@register_model("vanilla_clip", options=VanillaOptions,
                description="Frozen CLIP, frame-mean video embedding, zero-shot (the lower bound)")
class VanillaCLIP(VideoCLIPModel):
    """Frozen CLIP applied frame by frame; the video embedding is the mean of the frames'."""

    def __init__(self, clip: CLIP, tokenizer: Any, frames: int, options: VanillaOptions) -> None:
        super().__init__(clip, tokenizer, frames, options.template)
        self.freeze_except(())
