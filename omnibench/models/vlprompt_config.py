"""ViFi-CLIP's VL prompting declaration (no torch): options, and the released settings.

Sources: ViFi-CLIP's configs (../shared/reference/CONFIG_NOTES.md). Few-shot
(prompting_few_shot): LR 8e-3, batch 64 (4 per GPU), 50 epochs, 10 vision / 10 text tokens at
depth 12 / 12 (every layer of ViT-B/16). Base-to-novel (prompting_base2novel): LR 4e-2, 11
epochs, 16 / 16 tokens at depth 9 / 9. 32 frames, weight decay 0.001, ImageNet normalisation.
The released few-shot prompts start from a K400-trained ViFi-CLIP checkpoint ("bridge and
prompt"): pass it as ``model.pretrained``; the default starts from CLIP. VL prompting has no
published supervised or zero-shot setting.
"""

from __future__ import annotations

import dataclasses

from omnibench.models.declaration import ModelDeclaration, declare
from omnibench.models.options import ModelOptions, require
from omnibench.models.vificlip_config import VIDEO_32

CTX_INIT_MAX_TOKENS = 4  # the released code reads ctx_init only for this many text tokens or fewer


@dataclasses.dataclass(frozen=True)
class VLPromptOptions(ModelOptions):
    """Prompt counts and depths (None: every layer); ``ctx_init``: words that initialise <= 4 text
    tokens."""

    template: str = "{}."
    vision_tokens: int = 10
    text_tokens: int = 10
    vision_depth: int | None = None
    text_depth: int | None = None
    ctx_init: str = "a photo of a"

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("vision_tokens", "text_tokens", "vision_depth", "text_depth"):
            value = getattr(self, key)
            require(value is None or value >= 1, key, "must be >= 1")


def _recipe(lr: float, epochs: int) -> dict[str, object]:
    return {
        "batch_size": 64,
        "batch_per_device": 4,
        "lr": lr,
        "epochs": epochs,
        "weight_decay": 0.001,
    }


def _prompts(tokens: int, depth: int) -> dict[str, object]:
    return {
        "vision_tokens": tokens,
        "text_tokens": tokens,
        "vision_depth": depth,
        "text_depth": depth,
    }


DECLARATION = declare(
    ModelDeclaration(
        name="vl_prompt",
        label="ViFi-CLIP (VL prompting)",
        description="ViFi-CLIP VL prompting: deep learnable prompts in both towers, CLIP frozen",
        options=VLPromptOptions,
        implementation="omnibench.models.vlprompt:VLPrompting",
        protocols={
            "few_shot": {
                "optim": _recipe(8e-3, 50),
                "data": VIDEO_32,
                "model": {"options": _prompts(10, 12)},
            },
            "base_to_novel": {
                "optim": _recipe(4e-2, 11),
                "data": VIDEO_32,
                "model": {"options": _prompts(16, 9)},
            },
            "eval_only": {"data": VIDEO_32},
        },
        sources="ViFi-CLIP publishes VL prompting for few_shot and base_to_novel only",
        revisions=("the first revision recorded with runs",),
    )
)
