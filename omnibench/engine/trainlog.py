"""What the trainer logs beside its progress bar: ``train_steps.json`` (every run) and TensorBoard
events (``--tensorboard``). Rank 0 writes; the other ranks' logs do nothing.

The step values themselves are training state (``TrainStats.steps``, checkpointed with the
model), so after a kill the files are rebuilt from the checkpoint: ``train_steps.json`` is written
right after each checkpoint, the event file is synced right before it and cut back to the
checkpoint's step when the run resumes (:mod:`omnibench.store.tb_events`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from omnibench.engine.checkpoint import TrainPosition, TrainStats
from omnibench.store import tb_events
from omnibench.store.train_steps import TrainSteps, from_rows, write_train_steps

LOSS, LR, CLIPS_PER_S, EPOCH_LOSS = "loss", "lr", "clips_per_s", "epoch_loss"


class TrainLog:
    """The trainer's per-step and per-epoch logging hooks."""

    def __init__(
        self,
        steps_path: Path | None,
        events_path: Path | None,
        classes: int,
        steps_per_epoch: int,
        active: bool = True,
    ) -> None:
        self.steps_path = steps_path if active else None
        self.events_path = events_path if active else None
        self.classes, self.steps_per_epoch = classes, steps_per_epoch
        self.events: tb_events.EventLog | None = None
        if self.events_path is not None:
            tb_events.require_tensorboard()  # before any training: a one-line error

    def start(self, position: TrainPosition, stats: TrainStats) -> None:
        """Training starts at ``position`` (0 or a checkpoint's): the event file holds exactly the
        steps before it."""
        if self.events_path is None:
            return
        through = position.global_step
        tb_events.restart(
            self.events_path, through, lambda present: self._missing(stats, through, present)
        )
        self.events = tb_events.EventLog(self.events_path)

    def _missing(
        self, stats: TrainStats, through: int, present: set[tuple[str, int]]
    ) -> list[tb_events.Scalar]:
        """The checkpoint's values of the steps the event file lacks (lost, or TensorBoard turned
        on at a resume); throughput is not kept, so it stays missing there."""
        steps = self.curve(stats)
        ends = steps.epoch_end_steps()
        wanted = [
            *(
                (f"{tb_events.TRAIN}{tag}", i + 1, values[i])
                for tag, values in ((LOSS, steps.loss), (LR, steps.lr))
                for i in range(min(through, len(steps)))
            ),
            *(
                (f"{tb_events.TRAIN}{EPOCH_LOSS}", ends[int(e["epoch"])], float(e["loss"]))
                for e in stats.history
                if int(e["epoch"]) in ends
            ),
        ]
        now = time.time()
        return [
            tb_events.Scalar(tag, step, value, now)
            for tag, step, value in wanted
            if (tag, step) not in present
        ]

    def curve(self, stats: TrainStats) -> TrainSteps:
        """The steps so far as a :class:`TrainSteps`."""
        return from_rows(self.classes, self.steps_per_epoch, stats.steps)

    def step(self, global_step: int, values: Mapping[str, float]) -> None:
        """One optimiser step's values (loss, lr, clips_per_s)."""
        if self.events is not None:
            self.events.scalars(global_step, {tb_events.TRAIN + k: v for k, v in values.items()})

    def epoch(self, global_step: int, mean_loss: float) -> None:
        """An epoch ended at ``global_step`` with mean loss ``mean_loss`` (over steps and ranks)."""
        if self.events is not None:
            self.events.scalars(global_step, {tb_events.TRAIN + EPOCH_LOSS: mean_loss})

    def before_checkpoint(self) -> None:
        """Make the events logged so far durable: the checkpoint about to be written covers them."""
        if self.events is not None:
            self.events.sync()

    def after_checkpoint(self, stats: TrainStats) -> None:
        """Write ``train_steps.json`` up to the checkpoint just written."""
        if self.steps_path is not None:
            write_train_steps(self.steps_path, self.curve(stats))

    def close(self) -> None:
        """Sync and close the event file."""
        if self.events is not None:
            self.events.close()
            self.events = None
