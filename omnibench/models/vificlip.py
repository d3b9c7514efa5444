"""ViFi-CLIP (Rasheed et al., §4): fine-tune CLIP on videos, average-pool the frame embeddings.

``tune`` selects the paper's variants: ``both`` (ViFi-CLIP), ``image`` (CLIP image-FT,
text frozen and cached) and ``text`` (CLIP text-FT, image encoder frozen).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from open_clip.model import CLIP

from omnibench.models.base import TEXT_TOWER, VideoCLIPModel
from omnibench.models.options import ModelOptions, require_choice
from omnibench.models.registry import register_model
from omnibench.models.text import VIFI_TEMPLATE

TUNES = ("both", "image", "text")


@dataclasses.dataclass(frozen=True)
class ViFiCLIPOptions(ModelOptions):
    """``tune``: which encoders are fine-tuned (both | image | text)."""

    template: str = VIFI_TEMPLATE
    tune: str = "both"

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(self.tune, TUNES, "tune")


@register_model("vificlip", options=ViFiCLIPOptions,
                description="ViFi-CLIP: fully fine-tuned CLIP, frame-mean pooling (tune: both | image | text)")
class ViFiCLIP(VideoCLIPModel):
    """CLIP fine-tuned end to end on frames; the temperature is learned too."""

    def __init__(self, clip: CLIP, tokenizer: Any, frames: int, options: ViFiCLIPOptions) -> None:
        super().__init__(clip, tokenizer, frames, options.template)
        self.tune = options.tune
        trainable = ["clip.logit_scale"]
        if options.tune in ("both", "image"):
            trainable.append("clip.visual.")
        if options.tune in ("both", "text"):
            trainable.extend(f"clip.{prefix}" for prefix in TEXT_TOWER)
        self.freeze_except(trainable)
