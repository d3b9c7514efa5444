"""What every protocol does: load splits (remembering their files), build the model, guard
against leakage, train, evaluate. Protocol modules combine these in a few lines.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from omnibench.config.metrics import ACCURACIES, scores_text
from omnibench.config.runtime import RuntimeOptions
from omnibench.config.spec import RunSpec
from omnibench.data import (
    DatasetAdapter,
    Split,
    VideoClipDataset,
    build_transform,
    collate_clips,
    get_dataset,
)
from omnibench.data.prepared import describe, prepared_summary
from omnibench.engine.checkpoint import data_fingerprint, load_trainable_state, read_checkpoint
from omnibench.engine.distributed import DistContext
from omnibench.engine.evaluate import EvalResult, EvalSettings, evaluate
from omnibench.engine.precision import autocast_dtype
from omnibench.engine.progress import ProgressReporter
from omnibench.engine.seeding import seed_everything
from omnibench.engine.trainer import TrainConfig, Trainer, TrainResult, batch_geometry
from omnibench.errors import OmniBenchError
from omnibench.protocols.leakage import check_leakage
from omnibench.protocols.preflight import check_split_files
from omnibench.protocols.sampling import limit_per_class
from omnibench.store.revisions import computed_by
from omnibench.store.run_files import CHECKPOINT_FILE, EVENTS_FILE, TRAIN_STEPS_FILE
from omnibench.store.run_store import RunStore

if TYPE_CHECKING:
    from omnibench.models.base import VideoCLIPModel


@dataclasses.dataclass
class ProtocolResult:
    """What a protocol hands back for the record."""

    model: VideoCLIPModel  # the evaluated model (its cost goes into the record)
    classes: tuple[str, ...]
    evaluations: list[EvalResult]
    metrics: dict[str, float]
    train: TrainResult | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunContext:
    """One run in progress: its spec, where it writes, this process's place, and what it used."""

    spec: RunSpec
    run_dir: Path
    suite: str
    runtime: RuntimeOptions
    dist: DistContext
    progress: ProgressReporter
    files: list[Path] = dataclasses.field(default_factory=list)
    eval_seconds: float = 0.0
    eval_clips: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_split: Split | None = None  # what the run trained on (set by :func:`train`)
    _adapters: dict[str, DatasetAdapter] = dataclasses.field(default_factory=dict)

    def adapter(self, dataset: str) -> DatasetAdapter:
        """The dataset's adapter (``--data-root`` honoured), cached."""
        if dataset not in self._adapters:
            adapter = get_dataset(dataset, data_root=self.runtime.data_root)
            self._adapters[dataset] = adapter
            self._note_videos(dataset, adapter)
        return self._adapters[dataset]

    def _note_videos(self, dataset: str, adapter: DatasetAdapter) -> None:
        """Record where the dataset's videos were read and, for a prepared root, how they were
        prepared (``video_roots`` in the record)."""
        prepared = prepared_summary(adapter.root)
        roots = self.extra.setdefault("video_roots", {})
        roots[dataset] = {
            "root": str(adapter.root),
            "videos": str(adapter.videos),
            "prepared": prepared,
        }
        if prepared is not None:
            unfinished = "" if prepared["complete"] else " (its prepare has not finished)"
            self.progress.message(f"{dataset}: reading videos {describe(prepared)}{unfinished}")

    def split(self, dataset: str, name: str | None = None, train: bool = False) -> Split:
        """Split ``name`` of ``dataset`` (default: official split 1 for training / testing); its
        files are recorded."""
        adapter = self.adapter(dataset)
        split = adapter.load_split(
            name or (adapter.train_split(1) if train else adapter.test_split(1))
        )
        self.files.extend(split.annotation_files)
        self.extra.setdefault("classes_per_dataset", {})[dataset] = split.num_classes
        return split

    def test_splits(self, dataset: str, names: tuple[str, ...] = ()) -> list[Split]:
        """The named splits, or every official test split of ``dataset`` (test1..3 for HMDB51 /
        UCF101)."""
        adapter = self.adapter(dataset)
        names = names or tuple(
            dict.fromkeys(adapter.test_split(k) for k in range(1, adapter.num_splits + 1))
        )
        return [self.split(dataset, name) for name in names]

    @property
    def batch_per_device(self) -> int:
        return batch_geometry(self.spec.optim, self.dist.world_size)[0]


def build_video_model(ctx: RunContext) -> VideoCLIPModel:
    """The spec's model on this rank's device, initialised from the run seed."""
    from omnibench.models import build_model  # noqa: PLC0415

    seed_everything(ctx.spec.seed)
    model = build_model(ctx.spec.model, frames=ctx.spec.data.frames, device=str(ctx.dist.device))
    problem = ctx.spec.input_size_problem(model.image_size)
    if problem is not None:  # fail now, not at the first batch of a long job
        raise OmniBenchError(problem)
    return model


def load_run_weights(ctx: RunContext, model: torch.nn.Module, source: str) -> None:
    """The trained weights of a finished run (``suite/run_id``, in this run's store) into ``model``;
    its checkpoint goes into the record's file hashes."""
    suite, _, run_id = source.partition("/")
    path = RunStore.holding(ctx.run_dir).checkpoint_path(suite, run_id)
    state = read_checkpoint(path, run_id)
    if state is None:
        raise OmniBenchError(
            f"protocol_options.weights_from {source}: no checkpoint at {path} (a run that trained "
            "keeps its last epoch there)"
        )
    load_trainable_state(model, state["model"], path)
    ctx.files.append(path)
    ctx.extra["weights_from"] = {
        "run": source,
        "checkpoint": str(path),
        "epochs": state["position"]["epoch"],
    }
    ctx.progress.message(
        f"weights of run {source} after {state['position']['epoch']} epochs ({path})"
    )


def guard(ctx: RunContext, train: Split | None, evaluations: list[Split]) -> None:
    """Refuse splits without usable videos (:mod:`preflight`), and training on a list that overlaps
    an evaluation list (unless the spec allows it)."""
    limit = ctx.spec.limit
    for split in [*([train] if train is not None else []), *evaluations]:
        check_split_files(limit_per_class(split, limit) if limit is not None else split, ctx.spec)
    if train is None:
        return
    findings = check_leakage(train, evaluations, allow=ctx.spec.allow_leakage)
    ctx.extra["leakage"] = findings
    leaks = [f for f in findings if f["shared_files"] or f["group_overlap"]]
    if leaks:
        ctx.progress.message(
            "allow_leakage is set: training despite overlap "
            f"with {', '.join(f['eval'] for f in leaks)}"
        )


def limited(ctx: RunContext, split: Split, use: str) -> Split:
    """``split`` cut to ``spec.limit`` videos per class (a smoke run), with a log line; as is
    without a limit."""
    if ctx.spec.limit is None:
        return split
    cut = limit_per_class(split, ctx.spec.limit)
    ctx.progress.message(
        f"limit {ctx.spec.limit}: {use} on {len(cut)} of the {len(split)} videos of "
        f"{split.dataset}/{split.name} (a smoke run, not comparable with published numbers)"
    )
    return cut


def _dataset(ctx: RunContext, split: Split, train: bool) -> VideoClipDataset:
    data = ctx.spec.data
    hflip = ctx.adapter(split.dataset).allows_hflip if data.hflip is None else data.hflip
    transform = build_transform(
        train, data.input_size, data.short_side, data.normalization, hflip, data.augment
    )
    clips, crops = (1, 1) if train else (data.test_clips, data.test_crops)
    return VideoClipDataset(
        split.records,
        data.frames,
        train,
        transform,
        clips=clips,
        crops=crops,
        strict=ctx.spec.strict,
        seed=ctx.spec.seed,
        decoder=ctx.runtime.decoder,
    )


def train(ctx: RunContext, model: VideoCLIPModel, split: Split) -> TrainResult:
    """Train ``model`` on ``split`` with its class names (resuming from the run's checkpoint)."""
    split = limited(ctx, split, "training")
    data = ctx.spec.data
    config = TrainConfig(
        run_id=ctx.spec.run_id(),
        seed=ctx.spec.seed,
        optim=ctx.spec.optim,
        clip_shape=(data.frames, 3, data.input_size, data.input_size),
        checkpoint_path=ctx.run_dir / CHECKPOINT_FILE,
        workers=ctx.runtime.workers,
        collate=collate_clips,
        data_fingerprint=data_fingerprint((r.path, r.label) for r in split.records),
        computed_by=computed_by(ctx.spec.to_dict()),
        steps_path=ctx.run_dir / TRAIN_STEPS_FILE,
        events_path=ctx.run_dir / EVENTS_FILE if ctx.runtime.tensorboard else None,
    )
    ctx.progress.message(
        f"training on {split.dataset}/{split.name}: "
        f"{len(split)} videos, {split.num_classes} classes"
    )
    ctx.train_split = split
    trainer = Trainer(
        model,
        _dataset(ctx, split, train=True),
        split.classnames,
        config,
        ctx.dist,
        ctx.progress,
        new_parameter_names=set(model.new_parameter_names()),
    )
    return trainer.fit()


def evaluate_split(ctx: RunContext, model: torch.nn.Module, split: Split) -> EvalResult:
    """Evaluate ``model`` on every video of ``split`` with its class list (views from
    ``spec.data``)."""
    split = limited(ctx, split, "evaluating")
    data = ctx.spec.data
    settings = EvalSettings(
        batch_size=ctx.batch_per_device,
        views_per_forward=ctx.batch_per_device,
        workers=ctx.runtime.workers,
        amp_dtype=autocast_dtype(ctx.spec.optim.precision, ctx.dist.device),
    )
    began = time.perf_counter()
    result = evaluate(
        model,
        _dataset(ctx, split, train=False),
        split.classnames,
        name=(split.dataset, split.name),
        records=split.records,
        ctx=ctx.dist,
        settings=settings,
        progress=ctx.progress,
        collate=collate_clips,
    )
    ctx.eval_seconds += time.perf_counter() - began
    ctx.eval_clips += len(result.labels) * data.test_clips * data.test_crops
    m = result.metrics
    scores = f"{scores_text(m)}  " if m["videos"] else ""
    ctx.progress.message(
        f"{split.dataset}/{split.name}: {scores}({m['videos']} videos, {m['skipped']} skipped)"
    )
    return result


def single_metrics(result: EvalResult) -> dict[str, float]:
    """``top1`` / ``top5`` / ``mean_class`` of one evaluation."""
    return {key: result.metrics[key] for key in ACCURACIES}
