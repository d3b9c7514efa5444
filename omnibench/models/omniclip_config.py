"""OmniCLIP's declaration (no torch): options, and the paper's settings per protocol.

Sources (../shared/papers): Table 1 (supervised: batch, LR, min LR, epochs, weight decay per
dataset; warmup 5; AdamW (0.9, 0.98); 8 frames, 4x3 test views, §4.1); §4 "Implementation
Details" (few-shot: "a batch size of 8" in accordance with X-CLIP, read as X-CLIP's 8 per GPU,
64 in all; 32 frames; zero-shot: K400, 32 frames, 10 epochs); §4.1 (SSv2: "a fixed
classifier", so no video-specific text prompts). Values the paper does not state are borrowed,
each listed in docs/FIDELITY.md: few-shot / zero-shot LR, min LR and weight decay from Table 1,
X-CLIP's 50 few-shot epochs, the zero-shot batch of 256 and its 4 per GPU (X-CLIP's zero-shot
config), warm-up 5 outside Table 1. Base-to-novel is not in the paper: omnibench's extension
with the few-shot recipe for ViFi-CLIP's 11 epochs.
"""

from __future__ import annotations

import dataclasses

from omnibench.models.declaration import ModelDeclaration, Overlay, declare
from omnibench.models.options import (
    MULTI_VIEW,
    OMNICLIP_TEMPLATE,
    ModelOptions,
    require,
    require_choice,
)

COMBINATIONS = ("block_parallel", "attention_parallel", "cascade")
FORMS = ("literal", "residual")  # the SPG projector's and the head's (docs/FIDELITY.md)


@dataclasses.dataclass(frozen=True)
class OmniCLIPOptions(ModelOptions):
    """OmniCLIP switches; Table 7 = use_pta × use_spg, Table 8 = ratio, Table 9 = pooling ×
    projector, Table 10 = pta_blocks (1-based), Table 11 = combination."""

    template: str = OMNICLIP_TEMPLATE
    use_pta: bool = True
    use_spg: bool = True
    ratio: float = 0.25
    pta_blocks: tuple[int, ...] | None = None  # None: every block
    pta_heads: int | None = None  # None: r·D / 64 (at least 1)
    pooling: str = "avg"
    projector: bool = True
    projector_form: str = "literal"  # R = MLP(P), Eq. 6 as written; or "residual": P + MLP(P)
    prompt_source: str = "input"
    prompt_gate: bool = (
        False  # omnibench's extension: prompts hidden behind a gate that starts closed
    )
    combination: str = "block_parallel"
    head_heads: int | None = None  # None: E / 64
    head_form: str = "literal"  # Avg(MHA(F)), Eq. 5 as written; or "residual": Avg(F + MHA(LN F))
    text_prompts: bool = (
        True  # X-CLIP's video-specific prompts on the text side (off: a fixed classifier)
    )
    prompt_layers: int = 2
    prompt_alpha: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 < self.ratio <= 1, "ratio", "must be in (0, 1] (Table 8: 1/8, 1/4, 1/2, 1)")
        require(
            self.pta_blocks is None or len(self.pta_blocks) > 0,
            "pta_blocks",
            "must name at least one block",
        )
        require_choice(self.pooling, ("avg", "max"), "pooling")
        require_choice(self.prompt_source, ("input", "per_block"), "prompt_source")
        require_choice(self.projector_form, FORMS, "projector_form")
        require_choice(self.head_form, FORMS, "head_form")
        require_choice(self.combination, COMBINATIONS, "combination")
        require(self.prompt_layers >= 1, "prompt_layers", "must be >= 1")
        for key in ("pta_heads", "head_heads"):
            value = getattr(self, key)
            require(value is None or value >= 1, key, "must be >= 1")


def _table1(
    batch: int, lr: float, min_lr: float, epochs: int, weight_decay: float
) -> dict[str, object]:
    """One column of Table 1."""
    return {
        "batch_size": batch,
        "lr": lr,
        "min_lr": min_lr,
        "epochs": epochs,
        "weight_decay": weight_decay,
    }


def _paper_lr(batch: int, epochs: int, **optim: object) -> dict[str, object]:
    """Table 1's LR, minimal LR and weight decay (K400 / HMDB51 / UCF101) at another batch and
    length."""
    return {**_table1(batch, 2e-3, 2e-5, epochs, 0.003), **optim}


DECLARATION = declare(
    ModelDeclaration(
        name="omniclip",
        label="OmniCLIP",
        description=(
            "OmniCLIP: frozen CLIP + parallel temporal adapters (PTA) + self-prompt generator (SPG)"
        ),
        options=OmniCLIPOptions,
        implementation="omnibench.models.omniclip:OmniCLIP",
        protocols={
            "supervised": {
                "optim": {
                    **_table1(256, 2e-3, 2e-5, 50, 0.003),
                    "batch_per_device": 8,
                },  # K400 column
                "data": {"frames": 8, **MULTI_VIEW},
            },
            # "a batch size of 8 in accordance with [X-CLIP]": X-CLIP's few-shot config is 4 x 2
            # accumulated = 8 per GPU, 64 over 8 GPUs (OmniCLIP used 8); 8 in all is
            # optim.batch_size: 8 (docs/FIDELITY.md)
            "few_shot": {"optim": _paper_lr(64, 50, batch_per_device=4), "data": {"frames": 32}},
            "zero_shot": {"optim": _paper_lr(256, 10, batch_per_device=4), "data": {"frames": 32}},
            "base_to_novel": {
                "optim": _paper_lr(64, 11, batch_per_device=4),
                "data": {"frames": 32},
            },
            "eval_only": {"data": {"frames": 32}},
        },
        overlays=(
            Overlay(
                {"protocol": "supervised", "dataset": "ssv2"},
                {"optim": _table1(256, 3.5e-3, 3.5e-5, 50, 0.01)},
            ),
            Overlay(
                {"protocol": "supervised", "dataset": "hmdb51"},
                {"optim": _table1(32, 2e-3, 2e-5, 30, 0.003)},
            ),
            Overlay(
                {"protocol": "supervised", "dataset": "ucf101"},
                {"optim": _table1(32, 2e-3, 2e-5, 30, 0.003)},
            ),
            Overlay(
                {"dataset": "ssv2"}, {"model": {"options": {"text_prompts": False}}}
            ),  # §4.1: a fixed classifier
        ),
        sources=(
            "OmniCLIP Table 1 and §4 (supervised, few-shot, "
            "zero-shot), base-to-novel as ViFi-CLIP's"
        ),
        revisions=("the first revision recorded with runs",),
    )
)
