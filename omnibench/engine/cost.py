"""What ``omnibench flops`` reports about a model: GFLOPs per view and per class prompt, with and
without attention, parameters and the per-component breakdown, each number with its scope.

Above :mod:`omnibench.engine.flops` (counting) and :mod:`omnibench.engine.flops_breakdown` (per
component), which import neither this module nor each other's callers.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

from omnibench.engine.flops import eval_mode
from omnibench.engine.flops_breakdown import Breakdown, measure_breakdown

if TYPE_CHECKING:
    from omnibench.models.base import VideoCLIPModel

SCOPES = {
    "gflops_video": "video tower, one view (1 clip of T frames): encode_video",
    "gflops_text_one": "text tower, one prompt of 77 tokens",
    "gflops_text_classes": "text tower, one prompt per class (C prompts)",
    "gflops_view_one_text": (
        "full forward for one view and one class prompt (video + text + video-specific prompting)"
    ),
    "gflops_video_no_attention": (
        "gflops_video with attention modules skipped entirely (thop's convention)"
    ),
    "gflops_view_one_text_no_attention": (
        "gflops_view_one_text with attention modules skipped entirely (thop's convention)"
    ),
    "params_total": "all parameters (both towers and new modules)",
    "params_trainable": "parameters with requires_grad",
}


@dataclasses.dataclass(frozen=True)
class ModelCost:
    """What ``omnibench flops`` reports; :data:`SCOPES` says what each number covers."""

    model: str
    backbone: str
    frames: int
    size: int
    classes: int
    gflops_video: float
    gflops_text_one: float
    gflops_text_classes: float
    gflops_view_one_text: float
    params_total: int
    params_trainable: int
    gflops_video_no_attention: float
    gflops_view_one_text_no_attention: float
    breakdown: Breakdown

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, with the scope of every number."""
        numbers = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "breakdown"
        }
        return {**numbers, "breakdown": self.breakdown.to_dict(), "scope": dict(SCOPES)}


def measure_cost(model: VideoCLIPModel, frames: int, size: int, classes: int = 400) -> ModelCost:
    """FLOPs per view, text FLOPs and parameter counts of ``model`` (a zero input clip)."""
    with eval_mode(model):
        return _measure_cost(model, frames, size, classes)


def _measure_cost(model: VideoCLIPModel, frames: int, size: int, classes: int) -> ModelCost:
    device = next(model.parameters()).device
    parts = measure_breakdown(
        model, torch.zeros(1, frames, 3, size, size, device=device), ["action"]
    )
    text_one = parts.part("text_tower").gflops
    return ModelCost(
        model=getattr(model, "registry_name", type(model).__name__),
        backbone=getattr(model, "backbone_name", ""),
        frames=frames,
        size=size,
        classes=classes,
        gflops_video=parts.total(side="video"),
        gflops_text_one=text_one,
        gflops_text_classes=text_one * classes,
        gflops_view_one_text=parts.total(),
        params_total=sum(p.numel() for p in model.parameters()),
        params_trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
        gflops_video_no_attention=parts.total("gflops_no_attention", side="video"),
        gflops_view_one_text_no_attention=parts.total("gflops_no_attention"),
        breakdown=parts,
    )
