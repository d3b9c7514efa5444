"""ViFi-CLIP (Rasheed et al., §4): fine-tune CLIP on videos, average-pool the frame embeddings.

``tune`` selects the paper's variants: ``both`` (ViFi-CLIP), ``image`` (CLIP image-FT,
text frozen and cached) and ``text`` (CLIP text-FT, image encoder frozen). As in the released
code, the token embedding is never trained (it only makes the fixed input embeddings),
``logit_scale`` is trained with ``both`` only, and weight decay applies to every parameter.
"""

from __future__ import annotations

from typing import Any

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

from open_clip.model import CLIP

from omnibench.models.base import VideoCLIPModel
from omnibench.models.vificlip_config import ViFiCLIPOptions

TEXT_ENCODER = (
    "clip.transformer.",
    "clip.positional_embedding",
    "clip.ln_final.",
    "clip.text_projection",
)


class ViFiCLIP(VideoCLIPModel):
    """CLIP fine-tuned end to end on frames (with both encoders, the temperature too)."""

    decay_every_parameter = True

    def __init__(self, clip: CLIP, tokenizer: Any, frames: int, options: ViFiCLIPOptions) -> None:
        super().__init__(clip, tokenizer, frames, options.template)
        self.tune = options.tune
        trainable: list[str] = []
        if options.tune in ("both", "image"):
            trainable.append("clip.visual.")
        if options.tune in ("both", "text"):
            trainable.extend(TEXT_ENCODER)
        if options.tune == "both":
            trainable.append("clip.logit_scale")
        self.freeze_except(trainable)
