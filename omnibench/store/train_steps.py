"""A run's training curve, ``train_steps.json``: the loss and learning rate of every optimiser step.

The trainer keeps these values in its checkpoint, so a resumed run holds each step exactly once,
and writes this file (atomically) right after each checkpoint: it never runs ahead of the
training state. A step's loss is the mean over its micro-batches and ranks; its LR is the first
parameter group's (the value ``train.history`` and the progress bar show). A step whose loss is
not finite is written as JSON's ``NaN`` / ``Infinity``, which Python's ``json`` reads back.
Reports and ``status`` read it without torch. Written for every run that trains, whatever
options were given; a run that fails (diverged) keeps it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omnibench.atomic import atomic_write_text
from omnibench.errors import OmniBenchError

FORMAT = 1
DIGITS = 7  # significant digits kept: float32's, what TensorBoard stores


class UnreadableStepsError(OmniBenchError):
    """A ``train_steps.json`` that is damaged or of another format."""


@dataclasses.dataclass(frozen=True)
class TrainSteps:
    """Loss and LR per optimiser step (global step ``i + 1`` at index ``i``) and the epoch
    (1-based) each step belongs to."""

    classes: int  # the classes the run trains on: a uniform guess has loss ln(classes)
    steps_per_epoch: int
    epoch: tuple[int, ...]
    loss: tuple[float, ...]
    lr: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.loss)

    @property
    def diverged_at(self) -> int | None:
        """The first optimiser step whose loss is not finite (None: none)."""
        return next((i + 1 for i, loss in enumerate(self.loss) if not math.isfinite(loss)), None)

    def positions(self) -> list[float]:
        """Each step's place on an epoch axis: step ``j`` of ``n`` in epoch ``e`` at
        ``e - 1 + j / n`` (``n``: the steps an epoch holds; the last epoch may be unfinished)."""
        counts: dict[int, int] = {}
        for epoch in self.epoch:
            counts[epoch] = counts.get(epoch, 0) + 1
        last = self.epoch[-1] if self.epoch else 0
        seen: dict[int, int] = {}
        out = []
        for epoch in self.epoch:
            seen[epoch] = seen.get(epoch, 0) + 1
            per_epoch = max(self.steps_per_epoch, counts[epoch]) if epoch == last else counts[epoch]
            out.append(epoch - 1 + seen[epoch] / per_epoch)
        return out

    def epoch_means(self) -> dict[int, float]:
        """Mean loss of each epoch's steps (NaN once a step is not finite)."""
        sums: dict[int, list[float]] = {}
        for epoch, loss in zip(self.epoch, self.loss):
            sums.setdefault(epoch, []).append(loss)
        return {epoch: math.fsum(values) / len(values) for epoch, values in sums.items()}

    def epoch_end_steps(self) -> dict[int, int]:
        """The global step that ends each epoch held (the last one held, for an unfinished one)."""
        return {epoch: i + 1 for i, epoch in enumerate(self.epoch)}


def from_rows(classes: int, steps_per_epoch: int, rows: Sequence[Sequence[float]]) -> TrainSteps:
    """A :class:`TrainSteps` from the trainer's ``(epoch, loss, lr)`` per step."""
    return TrainSteps(
        classes,
        steps_per_epoch,
        tuple(int(row[0]) for row in rows),
        tuple(float(row[1]) for row in rows),
        tuple(float(row[2]) for row in rows),
    )


def _short(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def write_train_steps(path: Path, steps: TrainSteps) -> None:
    """Write ``steps`` to ``path`` atomically, compactly (one line, 7 significant digits)."""
    data = {
        "format": FORMAT,
        "classes": steps.classes,
        "steps_per_epoch": steps.steps_per_epoch,
        "epoch": list(steps.epoch),
        "loss": [_short(v) for v in steps.loss],
        "lr": [_short(v) for v in steps.lr],
    }
    atomic_write_text(path, json.dumps(data, separators=(",", ":")) + "\n")


def read_train_steps(path: Path) -> TrainSteps | None:
    """The curve stored at ``path`` (None when there is none); a file this omnibench cannot read
    (damaged, another format) is a one-line :class:`UnreadableStepsError`, never a wrong curve."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise UnreadableStepsError(f"{path}: unreadable ({err.strerror})") from None
    try:
        data: Any = json.loads(text)
        if data.get("format") != FORMAT:
            raise UnreadableStepsError(f"{path}: format {data.get('format')!r}, not {FORMAT}")
        steps = TrainSteps(
            int(data["classes"]),
            int(data["steps_per_epoch"]),
            tuple(int(v) for v in data["epoch"]),
            tuple(float(v) for v in data["loss"]),
            tuple(float(v) for v in data["lr"]),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise UnreadableStepsError(f"{path}: not a training curve ({type(err).__name__})") from None
    if not len(steps.epoch) == len(steps.loss) == len(steps.lr):
        raise UnreadableStepsError(f"{path}: epoch, loss and lr lists differ in length")
    return steps
