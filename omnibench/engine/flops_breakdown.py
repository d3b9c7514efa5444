"""Where a model's GFLOPs go, per component, under two counting conventions.

* ``gflops``: fvcore, attention included (the count omnibench reports everywhere; X-CLIP's 145 and
  ViFi-CLIP's 281 are counted this way).
* ``gflops_no_attention``: the convention of counters that skip attention modules entirely (thop
  has no rule for ``nn.MultiheadAttention``): only leaf layers (linear, convolution, norm) called
  as modules outside an attention module count; attention modules (their q/k/v and output
  projections and QKᵀ/AV matmuls) and functional ops (attention matmuls, ``x @ proj``) count zero.

Components, from fvcore's per-module counts of four traced computations (video tower, plain
CLIP on the same frames, text tower with one prompt, the full forward with one class):

* ``clip_frames``: the CLIP image tower on T plain frames (what vanilla CLIP costs);
* ``extra_tokens``: what tokens the model adds to the CLIP blocks cost there (OmniCLIP's SPG
  prompts, X-CLIP's message tokens, VL prompting's prompts);
* one component per module the model adds to CLIP (its attribute name; label from
  ``component_labels``): video side (PTA, SPG, head, MIT, ...) or text side (video-specific
  prompts, counted in the forward);
* ``text_tower`` (one class prompt) and ``logits`` (the cosine similarity: the rest).

The video-side parts sum to ``gflops_video``, all parts to ``gflops_view_one_text``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from omnibench.engine.flops import (
    ATTENTION_MATMUL,
    analyse,
    forward_analysis,
    text_analysis,
    video_analysis,
)
from omnibench.models.attention import MultiHeadCrossAttention, MultiHeadSelfAttention

if TYPE_CHECKING:
    from fvcore.nn import FlopCountAnalysis

    from omnibench.models.base import VideoCLIPModel

ATTENTION_MODULES = (nn.MultiheadAttention, MultiHeadSelfAttention, MultiHeadCrossAttention)
ROOT = "model"  # the model's name in the analyses' module names
CONVENTIONS = {
    "gflops": "fvcore: one multiply-add = one flop, attention included (omnibench's count)",
    "gflops_no_attention": (
        "attention modules skipped entirely, as thop "
        "counts (no rule for nn.MultiheadAttention): "
        "leaf linear / conv / norm layers outside attention modules only"
    ),
}


@dataclasses.dataclass(frozen=True)
class Part:
    """One component's GFLOPs per view: both conventions, and the attention matmuls inside
    ``gflops``."""

    component: str
    label: str
    side: str  # "video" or "text"
    gflops: float
    attention_matmuls: float
    gflops_no_attention: float


@dataclasses.dataclass(frozen=True)
class Breakdown:
    """The parts of one view's cost; totals per side and convention."""

    parts: tuple[Part, ...]

    def total(self, field: str = "gflops", side: str | None = None) -> float:
        """Sum of ``field`` over the parts (of one ``side``, or all)."""
        return sum(getattr(p, field) for p in self.parts if side is None or p.side == side)

    def part(self, component: str) -> Part:
        """The part named ``component``."""
        return next(p for p in self.parts if p.component == component)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict: the parts and the conventions they are counted in."""
        return {
            "parts": [dataclasses.asdict(p) for p in self.parts],
            "conventions": dict(CONVENTIONS),
        }


class _Counts:
    """Per-module numbers of one fvcore analysis: fvcore total, attention matmuls, thop-style leaf
    sum."""

    def __init__(self, analysis: FlopCountAnalysis, model: nn.Module) -> None:
        self.by_module = analysis.by_module()
        self.by_operator = analysis.by_module_and_operator()
        attention = [
            f"{ROOT}.{n}" for n, m in model.named_modules() if isinstance(m, ATTENTION_MODULES)
        ]
        self.leaves = [
            f"{ROOT}.{n}"
            for n, m in model.named_modules()
            if not any(m.children()) and not _inside(f"{ROOT}.{n}", attention)
        ]

    def flops(self, scope: str = "") -> float:
        return float(self.by_module.get(scope, 0)) / 1e9

    def matmuls(self, scope: str = "") -> float:
        return float(self.by_operator.get(scope, {}).get(ATTENTION_MATMUL, 0)) / 1e9

    def no_attention(self, scope: str = ROOT) -> float:
        return (
            sum(float(self.by_module.get(n, 0)) for n in self.leaves if _inside(n, [scope])) / 1e9
        )


def _inside(name: str, scopes: Iterable[str]) -> bool:
    return any(name == s or name.startswith(s + ".") for s in scopes)


def plain_frames_analysis(model: VideoCLIPModel, clip: torch.Tensor) -> FlopCountAnalysis:
    """fvcore's analysis of the model's CLIP image tower on the T frames of ``clip`` as plain
    images."""
    return analyse(model, lambda video: model.clip.encode_image(video.flatten(0, 1)), (clip,))


def measure_breakdown(
    model: VideoCLIPModel, clip: torch.Tensor, classnames: list[str]
) -> Breakdown:
    """The breakdown of one view ``clip`` and the prompts of ``classnames`` (one class: per
    view)."""
    video = _Counts(video_analysis(model, clip), model)
    plain = _Counts(plain_frames_analysis(model, clip), model)
    text = _Counts(text_analysis(model, classnames), model)
    full = _Counts(forward_analysis(model, clip, classnames), model)
    added = [f"{ROOT}.{name}" for name, _ in model.named_children() if name != "clip"]
    tower = Part(
        "",
        "",
        "video",
        video.flops() - sum(video.flops(s) for s in added),
        video.matmuls() - sum(video.matmuls(s) for s in added),
        video.no_attention(f"{ROOT}.clip"),
    )
    frames = _part(
        "clip_frames", f"CLIP image tower, {clip.shape[1]} plain frames", "video", plain, ""
    )
    extra = Part(
        "extra_tokens",
        "tokens the model adds to the CLIP blocks",
        "video",
        tower.gflops - frames.gflops,
        tower.attention_matmuls - frames.attention_matmuls,
        tower.gflops_no_attention - frames.gflops_no_attention,
    )
    labels = getattr(model, "component_labels", {})
    modules = [
        _part(
            s.split(".", 1)[1],
            labels.get(s.split(".", 1)[1], s.split(".", 1)[1]),
            "video" if video.flops(s) else "text",
            full,
            s,
        )
        for s in added
        if full.flops(s)
    ]
    prompts = "one prompt" if len(classnames) == 1 else f"{len(classnames)} prompts"
    words = _part("text_tower", f"CLIP text tower, {prompts}", "text", text, "")
    parts = [frames, *([extra] if extra.gflops else []), *modules, words]
    logits = full.flops() - sum(p.gflops for p in parts)
    return Breakdown(
        (*parts, Part("logits", "logits (cosine similarity)", "text", logits, 0.0, 0.0))
    )


def _part(component: str, label: str, side: str, counts: _Counts, scope: str) -> Part:
    return Part(
        component,
        label,
        side,
        counts.flops(scope),
        counts.matmuls(scope),
        counts.no_attention(scope or ROOT),
    )
