"""The training loop: AdamW + cosine, mixup/cutmix into soft-target CE, AMP, gradient
accumulation, DDP, checkpoints that resume bit-for-bit.

The learning rate follows the official X-CLIP / ViFi-CLIP loop (``main.py``
``train_one_epoch``) exactly: the schedule counts micro-batches (warm-up and length in epochs x
micro-batches per epoch), the optimiser steps after every ``accumulation`` micro-batches, and
only then the scheduler is updated to the index of the step's last micro-batch, so the first
step runs at the warm-up's initial LR (0) and each later one at the LR of the micro-batch that
ended the step before. An epoch's last micro-batches that do not fill a whole step are dropped.

Loss (OmniCLIP Eq. 8-9): cross-entropy over ``logit_scale * cos(video, class text)``, with
the class texts of the training split; frozen text features are cached by the model.
Each micro-batch reseeds python/numpy/torch from (seed, epoch, micro-batch, rank) after its
data is loaded, and the data order is a seeded per-epoch permutation that a resumed run
re-enters at the stored position, so a killed and resumed run repeats the uninterrupted
one exactly (bitwise on CPU). There is no model selection: training runs to the last
epoch and that model is evaluated (the test split is never looked at during training).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Collection, Iterator, Mapping, Sequence, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from omnibench.config.spec import OptimSpec
from omnibench.data.color import apply_color
from omnibench.engine import checkpoint as ckpt
from omnibench.engine.distributed import (
    DistContext,
    ResumableSampler,
    all_reduce_mean,
    gather_objects,
)
from omnibench.engine.mixup import SoftTargetCrossEntropy, VideoMixup
from omnibench.engine.optim import build_optimizer, build_scheduler
from omnibench.engine.precision import autocast, autocast_dtype, grad_scaler
from omnibench.engine.progress import ProgressReporter
from omnibench.engine.seeding import (
    capture_rng_state,
    derive_seed,
    restore_rng_state,
    seed_everything,
)
from omnibench.engine.trainlog import CLIPS_PER_S, LOSS, LR, TrainLog
from omnibench.errors import OmniBenchError
from omnibench.process import stop_point

if TYPE_CHECKING:
    from omnibench.models.base import VideoCLIPModel


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What the trainer needs beyond the model and the data."""

    run_id: str
    seed: int
    optim: OptimSpec
    clip_shape: tuple[
        int, int, int, int
    ]  # (T, 3, S, S): shape of a dummy clip for an all-broken batch
    checkpoint_path: Path | None = None
    data_fingerprint: str = ""  # of the training list; a checkpoint of other data is refused
    workers: int = 0
    collate: Any = None  # the data layer's collate_clips
    computed_by: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # revisions, options
    steps_path: Path | None = None  # train_steps.json (engine.trainlog)
    events_path: Path | None = None  # TensorBoard event file, when asked for


@dataclasses.dataclass
class TrainResult:
    """Where training ended and its running totals."""

    position: ckpt.TrainPosition
    stats: ckpt.TrainStats
    per_device_batch: int
    accumulation: int
    resumed_seconds: float = 0.0  # training time spent before this process resumed the run
    steps_per_epoch: int = 0
    broken: frozenset[int] = frozenset()  # dataset indices of the broken videos this rank skipped


def batch_geometry(optim: OptimSpec, world_size: int) -> tuple[int, int]:
    """(per-device batch, accumulation steps) reaching ``optim.batch_size`` summed over devices.

    ``optim.batch_per_device`` is a ceiling: a device never gets more than its share of the batch.
    """
    share = optim.batch_size // world_size
    per_device = min(optim.batch_per_device or share, share)
    if per_device < 1 or optim.batch_size % (per_device * world_size):
        raise OmniBenchError(
            f"optim.batch_size {optim.batch_size} is not a "
            "multiple of optim.batch_per_device x devices "
            f"({per_device} x {world_size}); set optim.batch_per_device to a divisor"
        )
    return per_device, optim.batch_size // (per_device * world_size)


class Trainer:
    """Trains ``model`` on ``dataset`` (items of the data layer's ``VideoClipDataset``)."""

    def __init__(
        self,
        model: nn.Module,
        dataset: Dataset,
        classnames: Sequence[str],
        config: TrainConfig,
        ctx: DistContext,
        progress: ProgressReporter,
        new_parameter_names: Collection[str] = (),
    ) -> None:
        assert isinstance(dataset, Sized)  # map-style: the sampler shuffles its indices
        self.model, self.dataset, self.classnames = model, dataset, tuple(classnames)
        self.config, self.ctx, self.progress = config, ctx, progress
        self.per_device, self.accum = batch_geometry(config.optim, ctx.world_size)
        self.sampler = ResumableSampler(len(dataset), ctx, seed=config.seed)
        self.micro_per_epoch = len(self.sampler) // self.per_device
        self.steps_per_epoch = self.micro_per_epoch // self.accum  # the remainder is dropped
        if self.steps_per_epoch == 0:
            raise OmniBenchError(
                f"the training split has {len(dataset)} videos, fewer than one optimiser step of "
                f"{self.per_device} per device x {self.accum} accumulated x {ctx.world_size} "
                "devices; lower optim.batch_size"
            )
        self.optimizer = build_optimizer(model, config.optim, new_parameter_names)
        self.scheduler = build_scheduler(self.optimizer, config.optim, self.micro_per_epoch)
        self.amp_dtype = autocast_dtype(config.optim.precision, ctx.device)
        self.scaler = grad_scaler(ctx.device, self.amp_dtype)
        self.mixup = VideoMixup(config.optim, len(self.classnames))
        self.criterion = SoftTargetCrossEntropy()
        self.position, self.stats = ckpt.TrainPosition(), ckpt.TrainStats()
        self.pending = (0.0, 0)  # (seconds, clips) of the current epoch, not yet in ``stats``
        self.resumed_seconds = 0.0
        self.broken: set[int] = set()  # dataset indices of broken videos seen by this rank
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        self.net = (
            DistributedDataParallel(model, device_ids=device_ids) if ctx.distributed else model
        )
        self.log = TrainLog(
            config.steps_path,
            config.events_path,
            len(self.classnames),
            self.steps_per_epoch,
            active=ctx.is_main,
        )

    def fit(self) -> TrainResult:
        """Resume from the checkpoint if there is one, train to the last epoch, return totals."""
        self._resume()
        if self.config.optim.grad_checkpointing:  # an option of the video models
            cast("VideoCLIPModel", self.model).set_grad_checkpointing(True)
        self.model.train()
        self.log.start(self.position, self.stats)
        try:
            for epoch in range(self.position.epoch, self.config.optim.epochs):
                self._run_epoch(epoch)
        finally:
            self.log.close()
        return TrainResult(
            self.position,
            self.stats,
            self.per_device,
            self.accum,
            self.resumed_seconds,
            self.steps_per_epoch,
            frozenset(self.broken),
        )

    def _resume(self) -> None:
        path = self.config.checkpoint_path
        if path is None:
            return
        state = ckpt.read_checkpoint(path, self.config.run_id, self.config.data_fingerprint)
        if state is None:
            return
        made = self.config.computed_by  # empty: a trainer used without a run (not judged)
        other = ckpt.checkpoint_change(state, made) if made else None
        if other is not None:
            self.progress.message(f"not resuming from {path}, training from the start: {other}")
            return
        ckpt.load_trainable_state(self.model, state["model"], path)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.position, self.stats = ckpt.restore_position(state)
        self.resumed_seconds = self.stats.train_seconds
        if len(state["ranks"]) == self.ctx.world_size:  # same world size: this rank's own state
            mine = state["ranks"][self.ctx.rank]
            restore_rng_state(mine["rng"])
            self.stats.skipped, self.stats.epoch_loss, self.stats.epoch_steps = (
                mine["skipped"],
                mine["epoch_loss"],
                mine["epoch_steps"],
            )
            self.broken = set(mine.get("broken", ()))
        elif self.ctx.is_main:  # another world size: rank 0 carries the totals so far
            self.stats.skipped = sum(r["skipped"] for r in state["ranks"])
            self.broken = {i for r in state["ranks"] for i in r.get("broken", ())}
        else:
            self.stats.skipped = 0
        self.progress.message(
            f"resumed from {path} after {self.position.global_step} optimiser steps"
        )

    def _loader(self, epoch: int, start_step: int) -> DataLoader:
        self.sampler.set_position(epoch, start_step * self.accum * self.per_device)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return DataLoader(
            self.dataset,
            batch_size=self.per_device,
            sampler=self.sampler,
            drop_last=True,
            num_workers=self.config.workers,
            collate_fn=self.config.collate,
            pin_memory=self.ctx.device.type == "cuda",
        )

    def _run_epoch(self, epoch: int) -> None:
        start = self.position.step
        batches = iter(self._loader(epoch, start))
        self.progress.start(
            f"epoch {epoch + 1}/{self.config.optim.epochs}", self.steps_per_epoch, start
        )
        began, clips = time.perf_counter(), 0
        for step in range(start, self.steps_per_epoch):
            lr = self.optimizer.param_groups[0]["lr"]  # the step's own (updated after it)
            loss, n_clips = self._optimizer_step(epoch, step, batches)
            self.stats.epoch_loss += loss
            self.stats.epoch_steps += 1
            clips += n_clips * self.ctx.world_size
            speed = clips / max(time.perf_counter() - began, 1e-9)
            self._log_step(epoch, loss, lr, speed)
            self._advance(epoch, step, time.perf_counter() - began, clips)
            self.progress.update(step + 1, loss, lr, speed)
            stop_point()  # Ctrl-C / SIGTERM stop here, after a whole step (and its checkpoint)
        self._finish_epoch(epoch)

    def _log_step(self, epoch: int, loss: float, lr: float, clips_per_s: float) -> None:
        """Keep the step's loss (mean over ranks) and LR in the training state, and log them."""
        mean_loss = all_reduce_mean(loss, self.ctx)
        self.stats.steps.append([epoch + 1, mean_loss, lr])
        self.log.step(
            self.position.global_step + 1, {LOSS: mean_loss, LR: lr, CLIPS_PER_S: clips_per_s}
        )

    def _advance(self, epoch: int, step: int, seconds: float, clips: int) -> None:
        """Book the step; checkpoint every ``optim.checkpoint_every`` steps (mid-epoch)."""
        self.position = ckpt.TrainPosition(epoch, step + 1, self.position.global_step + 1)
        self.pending = (seconds, clips)
        every = self.config.optim.checkpoint_every
        if every and self.position.global_step % every == 0 and step + 1 < self.steps_per_epoch:
            self._save()

    def _finish_epoch(self, epoch: int) -> None:
        self.stats.train_seconds += self.pending[0]
        self.stats.clips += self.pending[1]
        self.pending = (0.0, 0)
        mean_loss = all_reduce_mean(
            self.stats.epoch_loss / max(self.stats.epoch_steps, 1), self.ctx
        )
        self.stats.epoch_loss, self.stats.epoch_steps = 0.0, 0
        lr = self.optimizer.param_groups[0]["lr"]
        self.stats.history.append({"epoch": epoch + 1, "loss": mean_loss, "lr": lr})
        self.log.epoch(self.position.global_step, mean_loss)
        self.position = ckpt.TrainPosition(epoch + 1, 0, self.position.global_step)
        self.progress.message(
            f"epoch {epoch + 1}/{self.config.optim.epochs} loss {mean_loss:.4f} lr {lr:.3e}"
        )
        self._save()

    def _save(self) -> None:
        mine = {
            "rng": capture_rng_state(),
            "skipped": self.stats.skipped,
            "broken": sorted(self.broken),
            "epoch_loss": self.stats.epoch_loss,
            "epoch_steps": self.stats.epoch_steps,
        }
        ranks = gather_objects(mine, self.ctx)  # collective: every rank takes part
        if not self.ctx.is_main:
            return
        self.log.before_checkpoint()
        if self.config.checkpoint_path is not None:
            self._write_checkpoint(self.config.checkpoint_path, ranks)
        self.log.after_checkpoint(self.stats)

    def _write_checkpoint(self, path: Path, ranks: list[dict]) -> None:
        seconds, clips = self.pending
        stats = dataclasses.replace(
            self.stats,
            train_seconds=self.stats.train_seconds + seconds,
            clips=self.stats.clips + clips,
            history=list(self.stats.history),
            steps=list(self.stats.steps),
        )
        ckpt.save_checkpoint(
            path,
            run_id=self.config.run_id,
            data=self.config.data_fingerprint,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            ranks=ranks,
            position=self.position,
            stats=stats,
            computed_by=self.config.computed_by,
        )

    def _optimizer_step(self, epoch: int, step: int, batches: Iterator[dict]) -> tuple[float, int]:
        """Accumulate the step's micro-batches, then one optimiser update; (mean loss, clips)."""
        first, count = step * self.accum, self.accum
        total, clips = 0.0, 0
        for i in range(count):
            batch = next(batches)
            seed_everything(derive_seed(self.config.seed, epoch, first + i, self.ctx.rank))
            sync = i == count - 1 or not self.ctx.distributed
            with (
                contextlib.nullcontext()
                if sync
                else cast(DistributedDataParallel, self.net).no_sync()
            ):  # DDP when not sync
                total += self._forward_backward(batch, count)
            clips += len(batch["label"])
            self.stats.skipped += len(batch.get("broken", ()))
            self.broken.update(index for index, _ in batch.get("broken", ()))
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        # The next step's LR, counted in micro-batches after this step (X-CLIP / ViFi-CLIP main.py)
        self.scheduler.step_update(epoch * self.micro_per_epoch + first + count - 1)
        return total / count, clips

    def _forward_backward(self, batch: dict, count: int) -> float:
        """Loss of one micro-batch, backpropagated with weight 1/count."""
        device = self.ctx.device
        labels = batch["label"].to(device)
        if len(labels) == 0:  # every video broken: a zero-weight dummy keeps DDP ranks in step
            video = torch.zeros(1, *self.config.clip_shape, device=device)
            labels, weight = torch.zeros(1, dtype=torch.long, device=device), 0.0
        else:
            video = apply_color(
                batch["video"][:, 0].to(device, non_blocking=True), batch["color"][:, 0]
            )
            weight = 1.0
        video, target = self.mixup(video, labels)
        with autocast(self.ctx.device, self.amp_dtype):
            logits = self.net(video, self.classnames)
        loss = self.criterion(logits.float(), target) * weight
        scaled = loss / count
        (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
        return loss.item()
