"""Training checkpoints: one file, written atomically, loadable with ``weights_only=True``.

A checkpoint holds the trainable parameters and buffers of the model (frozen weights are
rebuilt from ``spec.model.pretrained`` and the seed, so they are not stored), the
optimiser, scheduler and grad-scaler states, every rank's RNG states and skipped-video
count (``ranks``), the position in the data order (epoch, optimiser steps done in it) and
the running statistics of the run, and which model and protocol revisions trained it
(``computed_by``): a run resumes only from training its own revisions did.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from omnibench.atomic import atomic_output
from omnibench.errors import OmniBenchError
from omnibench.store.revisions import COMPUTED_BY, changed

FORMAT = 1


@dataclasses.dataclass
class TrainPosition:
    """Where training stands: ``step`` optimiser steps are done in ``epoch``."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0


@dataclasses.dataclass
class TrainStats:
    """Running totals that survive a resume."""

    train_seconds: float = 0.0
    clips: int = 0
    skipped: int = 0  # broken training videos seen by this rank
    epoch_loss: float = 0.0  # this rank's summed step losses in the current epoch
    epoch_steps: int = 0
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)
    # (epoch, loss, lr) of every optimiser step so far (store.train_steps)
    steps: list[list[float]] = dataclasses.field(default_factory=list)


def data_fingerprint(items: Iterable[tuple[object, int]]) -> str:
    """A short hash of a training list's (path, label) pairs, in order."""
    digest = hashlib.sha256()
    for path, label in items:
        digest.update(f"{path}\t{label}\n".encode())
    return digest.hexdigest()[:16]


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """State-dict entries of trainable parameters and of all buffers."""
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k not in frozen}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load :func:`trainable_state` output; every trainable parameter must be present."""
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        detail = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise OmniBenchError(
            f"{path}: checkpoint does not match the model ({detail}); delete it to restart the run"
        ) from None
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    lacking = sorted(trainable.intersection(missing))
    if lacking or unexpected:
        bad = lacking[:3] or unexpected[:3]
        raise OmniBenchError(
            f"{path}: checkpoint does not match the model ({len(lacking)} missing, "
            f"{len(unexpected)} unexpected entries, e.g. {bad}); delete it to restart the run"
        )


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` into a temporary file of this process next to ``path``, then
    ``os.replace``."""
    with atomic_output(path, binary=True) as handle:
        torch.save(obj, handle)


def save_checkpoint(
    path: Path,
    *,
    run_id: str,
    data: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    ranks: list[dict],
    position: TrainPosition,
    stats: TrainStats,
    computed_by: Mapping[str, Any] | None = None,
) -> None:
    """Write the whole training state (call on rank 0 only); ``computed_by``: the model and
    protocol revisions training under (:mod:`omnibench.store.revisions`)."""
    atomic_save(
        {
            "format": FORMAT,
            "run_id": run_id,
            "data": data,
            COMPUTED_BY: dict(computed_by or {}),
            "model": trainable_state(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "ranks": ranks,
            "position": dataclasses.asdict(position),
            "stats": dataclasses.asdict(stats),
        },
        path,
    )


def read_checkpoint(path: Path, run_id: str, data: str | None = None) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (on CPU), ``None`` if absent; a foreign or broken file is an
    error, and so is one trained on other data than ``data`` (a fingerprint of the training
    list)."""
    if not path.is_file():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: say which and what to do
        raise OmniBenchError(
            f"{path}: unreadable checkpoint ({type(err).__name__}: {err}); delete it to restart"
        ) from None
    if not isinstance(ckpt, dict):
        raise OmniBenchError(
            f"{path}: not an omnibench checkpoint (it holds a {type(ckpt).__name__}); "
            "delete it to restart"
        )
    if ckpt.get("format") != FORMAT or ckpt.get("run_id") != run_id:
        raise OmniBenchError(
            f"{path}: checkpoint belongs to run {ckpt.get('run_id')!r}, not {run_id!r}; "
            "delete it to restart"
        )
    if data is not None and ckpt.get("data") != data:
        raise OmniBenchError(
            f"{path}: checkpoint was trained on another training list than this run's "
            "(did the data root change?); delete it to restart"
        )
    return ckpt


def checkpoint_change(ckpt: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """Why a checkpoint's training was computed otherwise than ``now`` (a :func:`computed_by`
    stamp) would (None: the same; a checkpoint without a stamp predates them)."""
    made = ckpt.get(COMPUTED_BY)
    if not isinstance(made, Mapping) or not made:
        return "it does not record which model and protocol revisions trained it"
    return changed(made, now)


def restore_position(ckpt: dict[str, Any]) -> tuple[TrainPosition, TrainStats]:
    """Position and statistics stored in a checkpoint."""
    return TrainPosition(**ckpt["position"]), TrainStats(**ckpt["stats"])
