"""Vanilla CLIP's declaration (no torch): frozen CLIP is only evaluated, never trained."""

from __future__ import annotations

import dataclasses

from omnibench.models.declaration import ModelDeclaration, declare
from omnibench.models.options import VIFI_TEMPLATE, ModelOptions


@dataclasses.dataclass(frozen=True)
class VanillaOptions(ModelOptions):
    """Vanilla CLIP has only the shared options."""

    template: str = VIFI_TEMPLATE


DECLARATION = declare(
    ModelDeclaration(
        name="vanilla_clip",
        label="Vanilla CLIP",
        description="Frozen CLIP, frame-mean video embedding, zero-shot (the lower bound)",
        options=VanillaOptions,
        implementation="omnibench.models.vanilla:VanillaCLIP",
        protocols={"eval_only": {"data": {"frames": 32}}},
        sources="vanilla CLIP is evaluated without training: use protocol eval_only",
        revisions=("the first revision recorded with runs",),
    )
)
