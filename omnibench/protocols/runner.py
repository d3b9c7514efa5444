"""Execute one run: distributed set-up, the protocol, predictions and the run record."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from omnibench.atomic import atomic_write_json, atomic_write_text
from omnibench.config.metrics import ACCURACIES
from omnibench.config.protocols import Protocol
from omnibench.config.runtime import RuntimeOptions
from omnibench.config.spec import RunSpec
from omnibench.engine.distributed import (
    barrier,
    gather_objects,
    setup_distributed,
    teardown_distributed,
)
from omnibench.engine.evaluate import predictions_frame
from omnibench.engine.progress import ProgressReporter, use_rich
from omnibench.protocols.common import ProtocolResult, RunContext
from omnibench.protocols.record import build_record
from omnibench.registry import load
from omnibench.store import tb_events
from omnibench.store.acceptance import check_record
from omnibench.store.run_files import EVENTS_FILE, PREDICTIONS_FILE, RECORD_FILE

if TYPE_CHECKING:
    from omnibench.models.base import VideoCLIPModel


def execute(
    spec: RunSpec,
    run_dir: Path,
    suite: str,
    runtime: RuntimeOptions,
    protocol: Protocol,
    options: Any,
) -> dict:
    """Run ``protocol`` for ``spec``; rank 0 writes ``predictions.csv`` and, when the result passes
    :func:`omnibench.store.acceptance.check_record`, ``record.json``; return the record."""
    started = time.perf_counter()
    dist = setup_distributed(runtime.device)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with ProgressReporter(use_rich(runtime.progress), active=dist.is_main) as progress:
            ctx = RunContext(spec, run_dir, suite, runtime, dist, progress)
            progress.message(
                f"run {spec.run_id()}: {spec.protocol} on {spec.dataset} with {spec.model.name} "
                f"({dist.world_size} process(es), {dist.device})"
            )
            result = load(protocol.module).run(ctx, options)
            record = _record(ctx, result, started)
            if dist.is_main:
                _write_predictions(run_dir, result)
                if runtime.tensorboard:
                    _log_evaluations(run_dir, result)
            check_record(
                record
            )  # every rank holds the same record, so all fail alike (predictions kept)
            if dist.is_main:
                atomic_write_json(
                    run_dir / RECORD_FILE, record
                )  # last: a run is finished exactly when its record exists
            barrier(dist)
        return record
    finally:
        teardown_distributed(dist)


def _write_predictions(run_dir: Path, result: ProtocolResult) -> None:
    frames = [predictions_frame(evaluation) for evaluation in result.evaluations]
    if frames:
        atomic_write_text(
            run_dir / PREDICTIONS_FILE, pd.concat(frames, ignore_index=True).to_csv(index=False)
        )


def _log_evaluations(run_dir: Path, result: ProtocolResult) -> None:
    """The evaluations' accuracies as TensorBoard scalars at the run's last optimiser step."""
    step = result.train.position.global_step if result.train is not None else 0
    values = {
        f"{e.dataset}/{e.split}/{name}": float(e.metrics[name])
        for e in result.evaluations
        if e.metrics["videos"]
        for name in ACCURACIES
    }
    tb_events.require_tensorboard()
    tb_events.replace_scalars(run_dir / EVENTS_FILE, tb_events.EVAL, step, values)


def _cost(ctx: RunContext, model: VideoCLIPModel) -> dict[str, Any]:
    """GFLOPs per video view and per class text, parameter counts (``omnibench.engine.flops``) of
    the run's model."""
    from omnibench.engine.flops import record_cost  # noqa: PLC0415

    with torch.random.fork_rng(devices=[]):
        return record_cost(model, frames=ctx.spec.data.frames, size=ctx.spec.data.input_size)


def _throughput(ctx: RunContext, result: ProtocolResult) -> float:
    if result.train is not None and result.train.stats.train_seconds > 0:
        return result.train.stats.clips / result.train.stats.train_seconds
    return ctx.eval_clips / ctx.eval_seconds if ctx.eval_seconds > 0 else 0.0


def _train_summary(result: ProtocolResult, ctx: RunContext) -> dict[str, Any] | None:
    train, split = result.train, ctx.train_split
    if train is None or split is None:
        return None
    return {
        "split": f"{split.dataset}/{split.name}",
        "videos": len(split),
        "epochs": train.position.epoch,
        "optimizer_steps": train.position.global_step,
        "steps_per_epoch": train.steps_per_epoch,
        "per_device_batch": train.per_device_batch,
        "accumulation": train.accumulation,
        "world_size": ctx.dist.world_size,
        "train_seconds": train.stats.train_seconds,
        "clips": train.stats.clips,
        "history": train.stats.history,
    }


def _record(ctx: RunContext, result: ProtocolResult, started: float) -> dict:
    skipped_train = len(
        set().union(*gather_objects(result.train.broken if result.train else frozenset(), ctx.dist))
    )
    resumed = result.train.resumed_seconds if result.train else 0.0
    cost = _cost(ctx, result.model)
    weights = getattr(result.model, "weights", None)  # WeightsInfo of the backbone
    extra = {
        **ctx.extra,
        "train": _train_summary(result, ctx),
        "device": str(ctx.dist.device),
        "decoder": ctx.runtime.decoder,
        "world_size": ctx.dist.world_size,
    }
    return build_record(
        spec=ctx.spec,
        suite=ctx.suite,
        classes=result.classes,
        files=ctx.files,
        cost=cost,
        wall_time_s=time.perf_counter() - started + resumed,
        clips_per_s=_throughput(ctx, result),
        skipped={"train": skipped_train, "eval": sum(len(e.broken) for e in result.evaluations)},
        metrics=result.metrics,
        evaluations=[e.summary() for e in result.evaluations],
        weights=weights.to_dict() if weights is not None else None,
        extra=extra,
    )
