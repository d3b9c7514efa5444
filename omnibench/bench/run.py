"""One ``omnibench bench`` run: every model, then the loader, then the targets, in one process."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

import torch

from omnibench.bench.loader import (
    LoaderResult,
    bench_loader,
    bench_videos,
    find_videos,
    short_side_for,
    workers_needed,
)
from omnibench.bench.loader_inputs import InputResult, bench_inputs, prepared_inputs
from omnibench.bench.measure import machine_info, memory_kind
from omnibench.bench.models import ModelResult, bench_models
from omnibench.bench.settings import REFERENCE_MODEL, BenchSettings
from omnibench.bench.targets import TargetResult, check_targets
from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean


@dataclasses.dataclass
class BenchReport:
    """Everything one run measured, with the settings and the machine it ran on."""

    settings: BenchSettings
    machine: dict[str, Any]
    memory: str  # what "peak memory" means on this device
    models: list[ModelResult]
    loader: LoaderResult | None
    targets: list[TargetResult]
    inputs: list[InputResult] = dataclasses.field(default_factory=list)  # --prepared

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (the ``--json`` output)."""
        return {
            "settings": self.settings.to_dict(),
            "machine": self.machine,
            "memory": self.memory,
            "models": [dataclasses.asdict(result) for result in self.models],
            "loader": None if self.loader is None else dataclasses.asdict(self.loader),
            "targets": [dataclasses.asdict(target) for target in self.targets],
            "inputs": [dataclasses.asdict(result) for result in self.inputs],
        }


def resolve_settings(settings: BenchSettings) -> BenchSettings:
    """Check model and backbone names, put the reference model first and fill in the input size."""
    import open_clip  # noqa: PLC0415

    from omnibench.models import MODELS  # noqa: PLC0415
    from omnibench.models.backbone import tiny_backbones  # noqa: PLC0415

    tiny_backbones()  # registers the omnibench-* configs with open_clip
    for name in settings.models:
        MODELS.get(name)  # unknown name: one-line error with a suggestion
    config = open_clip.get_model_config(settings.backbone)
    if config is None:
        known = open_clip.list_models()
        raise OmniBenchError(
            "bench: unknown --backbone "
            f"'{settings.backbone}'{did_you_mean(settings.backbone, known)}"
        )
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise OmniBenchError("bench: --device cuda but no CUDA device is available")
    models = (
        REFERENCE_MODEL,
        *[name for name in dict.fromkeys(settings.models) if name != REFERENCE_MODEL],
    )
    size = settings.size or int(config["vision_cfg"]["image_size"])
    return dataclasses.replace(settings, models=models, size=size)


def run_bench(
    settings: BenchSettings,
    loader: bool = True,
    videos: Path | None = None,
    on_model: Callable[[ModelResult], None] | None = None,
    profile_dir: Path | None = None,
    prepared: bool = False,
) -> BenchReport:
    """Measure every model of ``settings`` (the reference model always), the loader and the targets.

    With ``profile_dir``, one more inference batch and training step of each model run under
    ``torch.profiler`` (after the timings) and their op tables go to ``<model>-{infer,train}.txt``.
    With ``prepared``, the loader also reads the input (``videos``, else generated 720p clips)
    and its copy by ``data prepare`` side by side (:mod:`omnibench.bench.loader_inputs`).
    """
    settings = resolve_settings(settings)
    if loader and videos is not None:
        find_videos(videos)  # fail before the models are measured
    device = torch.device(settings.device)
    results = bench_models(settings, on_model, profile_dir)
    loader_result = _bench_loader(settings, videos, results) if loader else None
    inputs = _bench_inputs(settings, videos, results) if prepared else []
    return BenchReport(
        settings=settings,
        machine=machine_info(device),
        memory=memory_kind(device),
        models=results,
        loader=loader_result,
        targets=check_targets(settings, results, loader_result, inputs),
        inputs=inputs,
    )


def _bench_inputs(
    settings: BenchSettings, videos: Path | None, results: list[ModelResult]
) -> list[InputResult]:
    assert settings.size is not None  # resolved
    with prepared_inputs(videos) as inputs:
        measured = bench_inputs(
            inputs, (settings.frames, settings.size), settings.repeats, settings.warmup
        )
    for entry in measured:
        entry.workers = _workers(results, entry.loader_clips_per_s)
    return measured


def _workers(
    results: list[ModelResult], loader_clips_per_s: float
) -> dict[str, dict[str, int | None]]:
    """Loader workers that feed each model's training and inference."""
    return {
        model.model: {
            "train": workers_needed(model.train_clips_per_s, loader_clips_per_s),
            "infer": workers_needed(model.infer_clips_per_s, loader_clips_per_s),
        }
        for model in results
    }


def _bench_loader(
    settings: BenchSettings, videos: Path | None, results: list[ModelResult]
) -> LoaderResult:
    assert settings.size is not None  # resolved
    with bench_videos(videos, short_side_for(settings.size)) as (paths, source):
        result = bench_loader(
            paths,
            source,
            (settings.frames, settings.size),
            torch.device(settings.device),
            settings.repeats,
            settings.warmup,
        )
    result.workers = _workers(results, result.loader_clips_per_s)
    return result
