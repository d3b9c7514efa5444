"""ViFi-CLIP's declaration (no torch): options, and the released settings per protocol.

Sources: ViFi-CLIP appendix B and its configs (../shared/reference/CONFIG_NOTES.md).
Supervised (fully_supervised/k400/16_16_vifi_clip): 16 frames, batch 512 (4 per GPU), LR 2.2e-5,
30 epochs, 4x3 views; its image-FT / text-FT variants: batch 256, LR 8e-6. Few-shot: batch 64,
LR 2e-6, 50 epochs; base-to-novel: the same for 11 epochs; zero-shot (trained on K400): batch
256, LR 8e-6, 10 epochs. 32 frames outside supervised, weight decay 0.001, ImageNet normalisation.
"""

from __future__ import annotations

import dataclasses

from omnibench.models.declaration import ModelDeclaration, Overlay, declare
from omnibench.models.options import MULTI_VIEW, VIFI_TEMPLATE, ModelOptions, require_choice

TUNES = ("both", "image", "text")


@dataclasses.dataclass(frozen=True)
class ViFiCLIPOptions(ModelOptions):
    """``tune``: which encoders are fine-tuned (both | image | text)."""

    template: str = VIFI_TEMPLATE
    tune: str = "both"

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(self.tune, TUNES, "tune")


def _recipe(batch: int, lr: float, epochs: int) -> dict[str, object]:
    return {
        "batch_size": batch,
        "batch_per_device": 4,
        "lr": lr,
        "epochs": epochs,
        "weight_decay": 0.001,
    }


VIDEO_32 = {"frames": 32, "normalization": "imagenet"}
_ONE_ENCODER = {"optim": {"batch_size": 256, "lr": 8e-6}}  # 16_16_{image,text}_tuned_clip

DECLARATION = declare(
    ModelDeclaration(
        name="vificlip",
        label="ViFi-CLIP",
        description=(
            "ViFi-CLIP: fully fine-tuned CLIP, frame-mean pooling (tune: both | image | text)"
        ),
        options=ViFiCLIPOptions,
        implementation="omnibench.models.vificlip:ViFiCLIP",
        protocols={
            "supervised": {
                "optim": _recipe(512, 2.2e-5, 30),
                "data": {"frames": 16, "normalization": "imagenet", **MULTI_VIEW},
            },
            "few_shot": {"optim": _recipe(64, 2e-6, 50), "data": VIDEO_32},
            "zero_shot": {"optim": _recipe(256, 8e-6, 10), "data": VIDEO_32},
            "base_to_novel": {"optim": _recipe(64, 2e-6, 11), "data": VIDEO_32},
            "eval_only": {"data": VIDEO_32},
        },
        overlays=(
            Overlay({"protocol": "supervised", "model.options.tune": "image"}, _ONE_ENCODER),
            Overlay({"protocol": "supervised", "model.options.tune": "text"}, _ONE_ENCODER),
        ),
        sources="ViFi-CLIP appendix B and configs",
        revisions=("the first revision recorded with runs",),
    )
)
