"""The efficiency targets of OmniCLIP's claim, checked as ratios measured in one run.

- training step of OmniCLIP <= 1.0x X-CLIP's and <= 1.0x ViFi-CLIP's (both fully fine-tuned);
- OmniCLIP inference time <= 1.35x frozen-CLIP frame-mean (SPG adds a quarter more tokens);
- loader decode + augment >= 0.8x raw decord decoding of the same frames;
- the loader on videos prepared by ``data prepare`` >= 3x its clips/s on their source (a
  1280x720, keyframe-250 download without ``--videos``), same frames and crop;
- on a GPU in bf16: OmniCLIP ViT-B/16 8-frame inference at >= 50 % of the dense bf16 peak.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from omnibench.bench.loader import LoaderResult
from omnibench.bench.loader_inputs import InputResult
from omnibench.bench.models import ModelResult
from omnibench.bench.settings import BenchSettings

METHOD = "omniclip"


@dataclasses.dataclass(frozen=True)
class TargetResult:
    """One target: the measured value against its limit; status pass | fail | skip."""

    name: str
    value: float | None
    limit: float
    op: str  # "<=" or ">="
    status: str
    note: str = ""


def _judge(name: str, value: float | None, limit: float, op: str, skip_note: str) -> TargetResult:
    if value is None:
        return TargetResult(name, None, limit, op, "skip", skip_note)
    ok = value <= limit if op == "<=" else value >= limit
    return TargetResult(name, value, limit, op, "pass" if ok else "fail")


def _by_name(results: Sequence[ModelResult]) -> dict[str, ModelResult]:
    return {result.model: result for result in results}


def _train_ratio(models: dict[str, ModelResult], other: str) -> float | None:
    mine, theirs = models.get(METHOD), models.get(other)
    if mine is None or theirs is None or mine.train_step_ms is None or theirs.train_step_ms is None:
        return None
    return mine.train_step_ms / theirs.train_step_ms


def _gpu_peak_target(settings: BenchSettings, models: dict[str, ModelResult]) -> TargetResult:
    name = "OmniCLIP inference / GPU bf16 dense peak (ViT-B-16, 8 frames)"
    wanted = (settings.device, settings.dtype, settings.backbone, settings.frames) == (
        "cuda",
        "bf16",
        "ViT-B-16",
        8,
    )
    if not wanted:
        return TargetResult(
            name,
            None,
            0.5,
            ">=",
            "skip",
            "needs --device cuda --dtype bf16 --backbone ViT-B-16 --frames 8",
        )
    method = models.get(METHOD)
    fraction = None if method is None else method.peak_fraction
    return _judge(
        name, fraction, 0.5, ">=", "device peak unknown" if method else f"{METHOD} not measured"
    )


def check_targets(
    settings: BenchSettings,
    results: Sequence[ModelResult],
    loader: LoaderResult | None,
    inputs: Sequence[InputResult] = (),
) -> list[TargetResult]:
    """Every target of the efficiency claim, judged on this run's measurements."""
    models = _by_name(results)
    method = models.get(METHOD)
    missing = f"needs {METHOD} and %s in --models"
    return [
        _judge(
            "OmniCLIP train step / X-CLIP",
            _train_ratio(models, "xclip"),
            1.0,
            "<=",
            missing % "xclip",
        ),
        _judge(
            "OmniCLIP train step / ViFi-CLIP",
            _train_ratio(models, "vificlip"),
            1.0,
            "<=",
            missing % "vificlip",
        ),
        _judge(
            "OmniCLIP inference time / frozen CLIP frame-mean",
            None if method is None else method.infer_ratio,
            1.35,
            "<=",
            missing % "vanilla_clip",
        ),
        _judge(
            "loader decode+augment / raw decord",
            None if loader is None else loader.ratio,
            0.8,
            ">=",
            "loader not measured (--no-loader)",
        ),
        _judge(
            "loader on prepared videos / on their source",
            inputs[-1].speedup if len(inputs) > 1 else None,
            3.0,
            ">=",
            "needs --prepared",
        ),
        _gpu_peak_target(settings, models),
    ]
