"""X-CLIP's declaration (no torch): options, and the released settings per protocol.

Sources: X-CLIP supplementary Table 1 and its configs (../shared/reference/CONFIG_NOTES.md):
LR 8e-6 / 2e-6 / 8e-6 (supervised / few-shot / zero-shot), min LR = LR / 100, batch 256 / 64 /
256 (8 per GPU at 8 frames, 4 at 32), epochs 30 / 50 / 10, weight decay 0.001, 10x LR for the new
modules, ImageNet normalisation; 8 frames and 4x3 views supervised, 32 frames otherwise.
Base-to-novel (ViFi-CLIP's protocol, where X-CLIP is a baseline) takes the few-shot recipe
with ViFi-CLIP's 11 epochs.
"""

from __future__ import annotations

import dataclasses

from omnibench.models.declaration import ModelDeclaration, declare
from omnibench.models.options import MULTI_VIEW, XCLIP_TEMPLATE, ModelOptions, require


@dataclasses.dataclass(frozen=True)
class XCLIPOptions(ModelOptions):
    """X-CLIP's settings as released: 1 MIT layer, 2 prompt blocks, α = 0.1, frozen text."""

    template: str = XCLIP_TEMPLATE
    mit_layers: int = 1
    prompt_layers: int = 2
    prompt_alpha: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.mit_layers >= 1, "mit_layers", "must be >= 1")
        require(self.prompt_layers >= 1, "prompt_layers", "must be >= 1")


def _recipe(batch: int, per_device: int, lr: float, epochs: int) -> dict[str, object]:
    return {
        "batch_size": batch,
        "batch_per_device": per_device,
        "lr": lr,
        "epochs": epochs,
        "weight_decay": 0.001,
        "new_module_lr_mult": 10.0,
    }


_VIDEO_32 = {"frames": 32, "normalization": "imagenet"}

DECLARATION = declare(
    ModelDeclaration(
        name="xclip",
        label="X-CLIP",
        description=(
            "X-CLIP: cross-frame communication + multi-frame integration + video-specific prompts"
        ),
        options=XCLIPOptions,
        implementation="omnibench.models.xclip:XCLIP",
        protocols={
            "supervised": {
                "optim": _recipe(256, 8, 8e-6, 30),
                "data": {"frames": 8, "normalization": "imagenet", **MULTI_VIEW},
            },
            "few_shot": {"optim": _recipe(64, 4, 2e-6, 50), "data": _VIDEO_32},
            "zero_shot": {"optim": _recipe(256, 4, 8e-6, 10), "data": _VIDEO_32},
            "base_to_novel": {"optim": _recipe(64, 4, 2e-6, 11), "data": _VIDEO_32},
            "eval_only": {"data": _VIDEO_32},
        },
        sources="X-CLIP supplementary Table 1 and configs",
        revisions=("the first revision recorded with runs",),
    )
)
