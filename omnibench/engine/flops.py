"""FLOPs and parameter counts of the video models, counted the way the papers count them.

fvcore counts one multiply-add as one flop. It has no handle for
``aten::scaled_dot_product_attention`` (nor for the fused multi-head attention op), so the
attention matmuls would silently count as zero; :func:`attention_flop_handle` adds them:
QKᵀ and (softmax)V are L·S·(d_qk + d_v) multiply-adds per batch element and head. Both
handles file these matmuls under the operator name :data:`ATTENTION_MATMUL`, so a breakdown
(:mod:`omnibench.engine.flops_breakdown`) can tell them from the projections.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from fvcore.nn import FlopCountAnalysis

    from omnibench.models.base import VideoCLIPModel

FlopHandle = Callable[[list[Any], list[Any]], Counter]
ATTENTION_MATMUL = "attention_matmul"  # operator name of QKᵀ and AV in fvcore's per-operator counts


def _shape(value: Any) -> list[int]:
    from fvcore.nn.jit_handles import get_shape  # noqa: PLC0415

    return list(get_shape(value))


def attention_flop_handle(inputs: list[Any], outputs: list[Any]) -> Counter:
    """fvcore handle for ``aten::scaled_dot_product_attention(q, k, v, ...)``:
    batch·L·S·(d + d_v)."""
    query, key, value = (_shape(v) for v in inputs[:3])
    batch = 1
    for size in query[:-2]:
        batch *= size
    return Counter({ATTENTION_MATMUL: batch * query[-2] * key[-2] * (query[-1] + value[-1])})


def native_mha_flop_handle(inputs: list[Any], outputs: list[Any]) -> Counter:
    """fvcore handle for ``aten::_native_multi_head_attention``: q/k/v/output projections (as
    ``linear``) and the attention matmuls."""
    query, key = _shape(inputs[0]), _shape(inputs[1])
    batch, length, dim = query
    source = key[1]
    projections = batch * (length * dim * dim + 2 * source * dim * dim + length * dim * dim)
    return Counter({"linear": projections, ATTENTION_MATMUL: batch * length * source * 2 * dim})


ATTENTION_HANDLES: dict[str, FlopHandle] = {
    "aten::scaled_dot_product_attention": attention_flop_handle,
    "aten::_native_multi_head_attention": native_mha_flop_handle,
}


class _Call(nn.Module):
    """Wraps a closure over ``model`` so fvcore can trace it (fvcore traces modules)."""

    def __init__(self, model: nn.Module, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.fn(*inputs)


def analyse(
    model: nn.Module, fn: Callable[..., torch.Tensor], inputs: tuple[Any, ...]
) -> FlopCountAnalysis:
    """fvcore's analysis of ``fn(*inputs)`` (a computation of ``model``, traced now); ``model``'s
    modules are named ``model.<name>`` in its per-module counts."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", DeprecationWarning
        )  # fvcore scripts and traces with torch.jit
        from fvcore.nn import FlopCountAnalysis  # noqa: PLC0415

        analysis = FlopCountAnalysis(_Call(model, fn), inputs)
        analysis.set_op_handle(**ATTENTION_HANDLES)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        analysis.by_module_and_operator()  # trace inside no_grad
        return analysis


def count_flops(model: nn.Module, fn: Callable[..., torch.Tensor], inputs: tuple[Any, ...]) -> int:
    """Multiply-adds of ``fn(*inputs)`` (a computation of ``model``), attention included."""
    return int(analyse(model, fn, inputs).total())


def video_analysis(model: VideoCLIPModel, clip: torch.Tensor) -> FlopCountAnalysis:
    """fvcore's analysis of ``model.encode_video`` on one view ``clip`` (1, T, 3, S, S)."""
    return analyse(model, model.encode_video, (clip,))


def text_analysis(model: VideoCLIPModel, classnames: Sequence[str]) -> FlopCountAnalysis:
    """fvcore's analysis of the text tower on one prompt per class name (never the cache)."""
    return analyse(
        model, lambda _: model.compute_text_features(list(classnames)), (torch.zeros(1),)
    )


def forward_analysis(
    model: VideoCLIPModel, clip: torch.Tensor, classnames: Sequence[str]
) -> FlopCountAnalysis:
    """fvcore's analysis of a full forward on ``clip`` with the text computed (not cached)."""

    def run(video: torch.Tensor) -> torch.Tensor:
        model.text_cache.clear()
        original = model.encode_text
        # traced uncached
        model.encode_text = model.compute_text_features  # type: ignore[method-assign]
        try:
            return model(video, list(classnames))
        finally:
            model.encode_text = original  # type: ignore[method-assign]

    return analyse(model, run, (clip,))


def video_gflops(model: VideoCLIPModel, clip: torch.Tensor) -> float:
    """GFLOPs of ``model.encode_video`` on one view ``clip`` (1, T, 3, S, S)."""
    return video_analysis(model, clip).total() / 1e9


def text_gflops(model: VideoCLIPModel, classnames: Sequence[str]) -> float:
    """GFLOPs of the text tower on one prompt per class name (never the cache)."""
    return text_analysis(model, classnames).total() / 1e9


def forward_gflops(model: VideoCLIPModel, clip: torch.Tensor, classnames: Sequence[str]) -> float:
    """GFLOPs of a full forward on ``clip`` with the text computed (not cached)."""
    return forward_analysis(model, clip, classnames).total() / 1e9


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode for the ``with`` block, then back in the mode it was in."""
    training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(training)


def record_cost(model: VideoCLIPModel, frames: int, size: int) -> dict[str, Any]:
    """The run record's ``cost`` block: video and one-prompt text GFLOPs, parameters, one scope
    line."""
    device = next(model.parameters()).device
    with eval_mode(model):
        video = video_gflops(model, torch.zeros(1, frames, 3, size, size, device=device))
        text = text_gflops(model, ["action"])
    return {
        "gflops_video": video,
        "gflops_text_one": text,
        "params_total": sum(p.numel() for p in model.parameters()),
        "params_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "scope": (
            f"per view of {frames} frames at {size} px "
            "(video tower); text: one 77-token prompt; "
            "one multiply-add = one flop, attention included"
        ),
    }
