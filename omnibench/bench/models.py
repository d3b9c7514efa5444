"""Per-model speed and memory: inference clips/s, training-step time, peak memory, FLOP/s.

Every model is built with random weights (``pretrained=None``: speed does not depend on
the values) at the same backbone, frames, batch and input size, and measured in this one
process. Inference is ``model(video, classnames)`` under ``torch.no_grad`` (not
``inference_mode``: a text-feature cache filled there could not be reused under autograd).
A training step is forward + cross-entropy + backward + AdamW step over the trainable
parameters only. bf16 / fp16 run under ``torch.autocast`` (fp16 with a gradient scaler).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from omnibench.bench.measure import (
    device_peak_tflops,
    median_seconds,
    peak_memory_mib,
    reset_peak_memory,
)
from omnibench.bench.profile import profile_to
from omnibench.bench.settings import REFERENCE_MODEL, BenchSettings
from omnibench.engine.precision import DTYPES, autocast

if TYPE_CHECKING:
    from omnibench.models.base import VideoCLIPModel


@dataclasses.dataclass
class ModelResult:
    """One model's row of the table (times in seconds per batch unless named otherwise)."""

    model: str
    params_total: int
    params_trainable: int
    gflops_view: float  # fvcore convention: one multiply-add = one flop
    infer_s: float
    infer_clips_per_s: float
    infer_peak_mib: float
    train_step_ms: float | None  # None: the model has no trainable parameter
    train_clips_per_s: float | None
    train_peak_mib: float | None
    achieved_tflops: float  # 2 flops per multiply-add, video encoder, inference
    peak_fraction: float | None  # of the device's dense peak at the run's dtype (GPU only)
    infer_ratio: float | None = None  # inference time / vanilla_clip's (frozen CLIP trains nothing)


def class_names(count: int) -> list[str]:
    """``count`` distinct class names of typical length for the text tower."""
    return [f"doing activity number {index}" for index in range(count)]


def bench_models(
    settings: BenchSettings,
    on_done: Callable[[ModelResult], None] | None = None,
    profile_dir: Path | None = None,
) -> list[ModelResult]:
    """Measure every model of ``settings`` in turn and fill in the ratios to the reference model."""
    results = []
    for name in settings.models:
        results.append(bench_one(name, settings, profile_dir))
        if on_done is not None:
            on_done(results[-1])
    reference = next((r for r in results if r.model == REFERENCE_MODEL), None)
    if reference is not None:
        for result in results:
            result.infer_ratio = result.infer_s / reference.infer_s
    return results


def bench_one(name: str, settings: BenchSettings, profile_dir: Path | None = None) -> ModelResult:
    """Build model ``name``, time its inference and training step, count its FLOPs (and profile
    both)."""
    device = torch.device(settings.device)
    with _built(name, settings, device) as model:
        video, classnames = _random_video(settings, device), class_names(settings.classes)
        gflops = _video_gflops(model.eval(), video[:1])
        infer = inference_fn(model, video, classnames, settings.dtype)
        infer_s, infer_mib = _measure(infer, device, settings)
        _profile(profile_dir, f"{name}-infer", infer, device)
        trainable = [p for p in model.parameters() if p.requires_grad]
        train_s, train_mib = None, None
        if trainable:
            step = train_step_fn(model, trainable, video, classnames, settings.dtype)
            train_s, train_mib = _measure(step, device, settings)
            _profile(profile_dir, f"{name}-train", step, device)
        params = (sum(p.numel() for p in model.parameters()), sum(p.numel() for p in trainable))
    return _result(name, settings, params, gflops, (infer_s, infer_mib), (train_s, train_mib))


def _result(
    name: str,
    settings: BenchSettings,
    params: tuple[int, int],
    gflops: float,
    infer: tuple[float, float],
    train: tuple[float | None, float | None],
) -> ModelResult:
    """Rates, achieved FLOP/s and the fraction of the device peak from the raw measurements."""
    (infer_s, infer_mib), (train_s, train_mib) = infer, train
    clips_per_s = settings.batch / infer_s
    achieved = 2 * gflops * clips_per_s / 1e3
    device = torch.device(settings.device)
    peak = (
        device_peak_tflops(torch.cuda.get_device_name(device), settings.dtype)
        if device.type == "cuda"
        else None
    )
    return ModelResult(
        model=name,
        params_total=params[0],
        params_trainable=params[1],
        gflops_view=gflops,
        infer_s=infer_s,
        infer_clips_per_s=clips_per_s,
        infer_peak_mib=infer_mib,
        train_step_ms=None if train_s is None else train_s * 1e3,
        train_clips_per_s=None if train_s is None else settings.batch / train_s,
        train_peak_mib=train_mib,
        achieved_tflops=achieved,
        peak_fraction=None if peak is None else achieved / peak,
    )


@contextlib.contextmanager
def _built(name: str, settings: BenchSettings, device: torch.device) -> Iterator[VideoCLIPModel]:
    """The model with random weights; freed afterwards so the next model's peak is its own."""
    from omnibench.config.spec import ModelSpec  # noqa: PLC0415
    from omnibench.models import build_model  # noqa: PLC0415

    spec = ModelSpec(name=name, backbone=settings.backbone, pretrained=None)
    model = build_model(spec, frames=settings.frames, device=device, image_size=settings.size)
    try:
        yield model
    finally:
        del model
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _random_video(settings: BenchSettings, device: torch.device) -> torch.Tensor:
    assert settings.size is not None, "resolve_settings fills in the input size"
    generator = torch.Generator().manual_seed(0)
    video = torch.randn(
        settings.batch, settings.frames, 3, settings.size, settings.size, generator=generator
    )
    return video.to(device)


def _video_gflops(model: VideoCLIPModel, one_clip: torch.Tensor) -> float:
    from omnibench.engine.flops import video_gflops  # noqa: PLC0415

    return float(video_gflops(model, one_clip))


def _measure(
    fn: Callable[[], None], device: torch.device, settings: BenchSettings
) -> tuple[float, float]:
    """Median seconds of ``fn`` and the peak memory while running it."""
    reset_peak_memory(device)
    seconds = median_seconds(fn, device, settings.repeats, settings.warmup)
    return seconds, peak_memory_mib(device)


def _profile(
    directory: Path | None, name: str, fn: Callable[[], None], device: torch.device
) -> None:
    if directory is not None:
        profile_to(directory / f"{name}.txt", fn, device)


def inference_fn(
    model: torch.nn.Module, video: torch.Tensor, classnames: Sequence[str], dtype: str
) -> Callable[[], None]:
    """One inference batch: ``model(video, classnames)`` in eval mode without autograd."""
    device = video.device

    def infer() -> None:
        model.eval()
        with torch.no_grad(), autocast(device, DTYPES[dtype]):
            model(video, classnames)

    return infer


def train_step_fn(
    model: torch.nn.Module,
    trainable: list[torch.nn.Parameter],
    video: torch.Tensor,
    classnames: Sequence[str],
    dtype: str,
) -> Callable[[], None]:
    """One optimiser step over ``trainable``: forward, cross-entropy, backward, AdamW step."""
    device = video.device
    optimizer = torch.optim.AdamW(trainable, lr=1e-6)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == "fp16")
    labels = torch.arange(video.shape[0], device=device) % len(classnames)

    def step() -> None:
        model.train()
        with autocast(device, DTYPES[dtype]):
            logits = model(video, classnames)
        loss = F.cross_entropy(logits.float(), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    return step
