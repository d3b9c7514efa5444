"""Evaluation: single or N temporal x S spatial views per video, fused by averaging softmax
scores; sharded over ranks without padding and gathered, so every video counts once.

Broken videos are skipped (the data layer's policy), counted, and listed in the predictions
with their reason. Accuracies are percentages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence, Sized
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from omnibench.data.color import apply_color
from omnibench.data.records import VideoRecord
from omnibench.engine.distributed import DistContext, ShardSampler, gather_objects
from omnibench.engine.metrics import accuracy_metrics
from omnibench.engine.precision import autocast
from omnibench.engine.progress import ProgressReporter
from omnibench.process import stop_point


@dataclasses.dataclass
class EvalResult:
    """Fused scores of one evaluation (identical on every rank)."""

    dataset: str
    split: str
    classnames: tuple[str, ...]
    paths: tuple[str, ...]  # per dataset index
    all_labels: tuple[int, ...]  # per dataset index (broken videos included)
    indices: torch.Tensor  # (N,) dataset indices of the evaluated videos, sorted
    labels: torch.Tensor  # (N,)
    scores: torch.Tensor  # (N, C) mean softmax over views
    broken: list[tuple[int, str]]

    def _metrics(self) -> dict[str, float]:
        """top1 / top5 / mean_class (%), evaluated videos, skipped (broken) videos and videos whose
        scores are not finite (a diverged model: its accuracies mean nothing)."""
        nonfinite = int((~torch.isfinite(self.scores)).any(dim=1).sum())  # (0, C) without videos
        return {
            **accuracy_metrics(self.scores, self.labels),
            "videos": len(self.labels),
            "skipped": len(self.broken),
            "nonfinite": nonfinite,
        }

    metrics = property(_metrics)  # not a decorator: mutation testing skips decorated functions

    def summary(self) -> dict[str, object]:
        """The entry of ``record["evaluations"]``: metrics, the classes scored against (its chance
        level) and the first skipped video's reason when any was."""
        first = {"first_skipped": self.broken[0][1]} if self.broken else {}
        return {
            "dataset": self.dataset,
            "split": self.split,
            **self.metrics,
            "classes": len(self.classnames),
            **first,
        }

    def restrict(self, classes: Sequence[int], split: str) -> EvalResult:
        """The videos of ``classes`` scored against those classes only (relabelled in the given
        order).

        Scores are restricted and renormalised; for single-view inference this equals
        evaluating with the subset's class list, since each class's logit depends only on
        the video and that class's text.
        """
        position = torch.full((len(self.classnames),), -1)  # int64, as the fill
        position[torch.as_tensor(list(classes))] = torch.arange(len(classes))
        keep = position[self.labels] >= 0
        scores = self.scores[keep][:, list(classes)]
        scores = scores / scores.sum(dim=1, keepdim=True).clamp_min(1e-12)
        relabel = tuple(int(position[label]) for label in self.all_labels)
        broken = [(i, reason) for i, reason in self.broken if relabel[i] >= 0]
        return EvalResult(
            self.dataset,
            split,
            tuple(self.classnames[c] for c in classes),
            self.paths,
            relabel,
            self.indices[keep],
            position[self.labels[keep]],
            scores,
            broken,
        )


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """How to run an evaluation on this rank."""

    batch_size: int = 8  # videos per loader batch
    views_per_forward: int = 8  # clips per model call (bounds memory with many views)
    workers: int = 0
    amp_dtype: torch.dtype | None = None


def _shard_scores(
    model: nn.Module,
    loader: DataLoader,
    classnames: Sequence[str],
    ctx: DistContext,
    settings: EvalSettings,
    progress: ProgressReporter,
) -> dict[str, object]:
    indices, labels, scores, broken = [], [], [], []
    for done, batch in enumerate(loader, start=1):
        broken.extend(batch["broken"])
        if len(batch["label"]):
            video = batch["video"]  # (B, V, T, 3, S, S) uint8
            probs = []
            views, maps = (
                t.flatten(0, 1).split(settings.views_per_forward) for t in (video, batch["color"])
            )
            for chunk, chunk_maps in zip(views, maps):
                clips = apply_color(chunk.to(ctx.device, non_blocking=True), chunk_maps)
                with autocast(ctx.device, settings.amp_dtype):
                    logits = model(clips, classnames)
                probs.append(logits.float().softmax(dim=-1).cpu())
            scores.append(torch.cat(probs).view(video.shape[0], video.shape[1], -1).mean(dim=1))
            indices.append(batch["index"])
            labels.append(batch["label"])
        progress.update(done)
        stop_point()
    width = len(classnames)
    return {
        "indices": torch.cat(indices) if indices else torch.empty(0, dtype=torch.long),
        "labels": torch.cat(labels) if labels else torch.empty(0, dtype=torch.long),
        "scores": torch.cat(scores) if scores else torch.empty(0, width),
        "broken": broken,
    }


def eval_loader(
    dataset: torch.utils.data.Dataset,
    ctx: DistContext,
    settings: EvalSettings,
    collate: Callable[[list[Any]], Any] | None,
) -> DataLoader:
    """This rank's loader: its shard of ``dataset`` in order, in batches of
    ``settings.batch_size`` videos, pinned for a copy to a GPU."""
    assert isinstance(dataset, Sized)  # map-style: the shard sampler splits its indices
    return DataLoader(
        dataset,
        batch_size=settings.batch_size,
        sampler=ShardSampler(len(dataset), ctx.rank, ctx.world_size),
        num_workers=settings.workers,
        collate_fn=collate,
        pin_memory=ctx.device.type == "cuda",
    )


def evaluate(
    model: nn.Module,
    dataset: torch.utils.data.Dataset,
    classnames: Sequence[str],
    *,
    name: tuple[str, str],
    records: Sequence[VideoRecord],
    ctx: DistContext,
    settings: EvalSettings,
    progress: ProgressReporter,
    collate: Callable[[list[Any]], Any] | None,
) -> EvalResult:
    """Evaluate ``model`` (not DDP-wrapped) on ``dataset`` (whose items are ``records``); ``name`` =
    (dataset, split)."""
    assert isinstance(dataset, Sized)  # map-style: the shard sampler splits its indices
    model.eval()
    loader = eval_loader(dataset, ctx, settings, collate)
    progress.start(f"eval {name[0]}/{name[1]}", len(loader))
    with torch.no_grad():  # not a decorator: mutation testing skips decorated functions
        shard = _shard_scores(model, loader, classnames, ctx, settings, progress)
    parts = gather_objects(shard, ctx)
    indices = torch.cat([p["indices"] for p in parts])
    order = indices.argsort()
    broken = sorted(b for p in parts for b in p["broken"])
    counted = indices.tolist() + [i for i, _ in broken]
    if len(counted) != len(dataset) or len(set(counted)) != len(dataset):
        raise RuntimeError(
            f"evaluation counted {len(counted)} items ({len(set(counted))} distinct) "
            f"of {len(dataset)} videos"
        )
    return EvalResult(
        name[0],
        name[1],
        tuple(classnames),
        tuple(str(r.path) for r in records),
        tuple(r.label for r in records),
        indices[order],
        torch.cat([p["labels"] for p in parts])[order],
        torch.cat([p["scores"] for p in parts])[order],
        broken,
    )


def predictions_frame(result: EvalResult, top: int = 5) -> pd.DataFrame:
    """One row per video: label, prediction, top-k classes and their fused scores; broken videos
    with their reason."""
    k = min(top, result.scores.shape[1])
    best = result.scores.topk(k, dim=1) if len(result.labels) else None
    rows = []
    for row, index in enumerate(result.indices.tolist()):
        assert best is not None  # a row per label
        ids, vals = best.indices[row].tolist(), best.values[row].tolist()
        label = int(result.labels[row])
        rows.append(
            {
                "index": index,
                "path": result.paths[index],
                "label": label,
                "label_name": result.classnames[label],
                "pred": ids[0],
                "pred_name": result.classnames[ids[0]],
                "correct": ids[0] == label,
                "top_classes": " ".join(map(str, ids)),
                "top_scores": " ".join(f"{v:.6f}" for v in vals),
                "broken": "",
            }
        )
    for index, reason in result.broken:
        label = result.all_labels[index]
        rows.append(
            {
                "index": index,
                "path": result.paths[index],
                "label": label,
                "label_name": result.classnames[label],
                "pred": -1,
                "correct": False,
                "broken": reason,
            }
        )
    frame = pd.DataFrame(rows).sort_values("index", kind="stable")
    frame.insert(0, "split", result.split)
    frame.insert(0, "dataset", result.dataset)
    return frame
