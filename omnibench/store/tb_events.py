"""A run's TensorBoard events (opt-in: ``omnibench run --tensorboard``; ``tensorboard`` is the
optional extra ``omnibench[tensorboard]``).

One event file per run, ``EVENTS_FILE`` in its folder, so ``tensorboard --logdir results/SUITE``
shows every run of the suite under its id. Scalars, against the optimiser step:
``train/loss``, ``train/lr`` and ``train/clips_per_s`` at every step, ``train/epoch_loss`` at the
last step of each epoch, ``eval/<dataset>/<split>/<metric>`` at the run's last step.

Each step appears exactly once, across kills and resumes: the trainer flushes the file to disk
before each checkpoint, and a run that starts (or resumes) rewrites it to hold its training
events up to the checkpoint's step and nothing else (:func:`restart`); steps it lacks there are
filled in from the checkpoint's values. Evaluation scalars replace any earlier ones
(:func:`replace_scalars`). Rewrites replace the file atomically. Nothing here imports
tensorboard until an event is read or written.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple

from omnibench.atomic import atomic_output, fsync_dir
from omnibench.errors import OmniBenchError

TRAIN, EVAL = "train/", "eval/"
FILE_VERSION = "brain.Event:2"
MISSING = (
    "--tensorboard needs the tensorboard package, which is not installed: "
    "pip install 'omnibench[tensorboard]'"
)


class Scalar(NamedTuple):
    """One logged value."""

    tag: str
    step: int
    value: float
    wall_time: float


def require_tensorboard() -> None:
    """A one-line error when the ``tensorboard`` package is not installed."""
    if importlib.util.find_spec("tensorboard") is None:
        raise OmniBenchError(MISSING)


def read_scalars(path: Path) -> list[Scalar]:
    """Every scalar of the event file at ``path``, in file order (none when it does not exist; a
    record torn by a killed writer ends the file)."""
    from tensorboard.backend.event_processing.event_file_loader import (  # noqa: PLC0415
        RawEventFileLoader,
    )
    from tensorboard.compat.proto.event_pb2 import Event  # noqa: PLC0415

    if not path.is_file():
        return []
    out = []
    for raw in RawEventFileLoader(str(path)).Load():
        event = Event.FromString(raw)
        for value in event.summary.value:
            if value.HasField("simple_value"):
                out.append(Scalar(value.tag, event.step, value.simple_value, event.wall_time))
    return out


def _encode(scalars: Iterable[Scalar]) -> list[bytes]:
    """One event per (step, wall time) with its scalars, in order."""
    from tensorboard.compat.proto.event_pb2 import Event  # noqa: PLC0415
    from tensorboard.compat.proto.summary_pb2 import Summary  # noqa: PLC0415

    events: dict[tuple[int, float], list[Any]] = {}
    for scalar in scalars:
        events.setdefault((scalar.step, scalar.wall_time), []).append(
            Summary.Value(tag=scalar.tag, simple_value=scalar.value)
        )
    return [
        Event(wall_time=wall, step=step, summary=Summary(value=values)).SerializeToString()
        for (step, wall), values in events.items()
    ]


def _header() -> bytes:
    from tensorboard.compat.proto.event_pb2 import Event  # noqa: PLC0415

    return Event(wall_time=time.time(), file_version=FILE_VERSION).SerializeToString()


def _write_records(handle: IO[bytes], records: Iterable[bytes]) -> None:
    from tensorboard.summary.writer.record_writer import RecordWriter  # noqa: PLC0415

    writer = RecordWriter(handle)
    for record in records:
        writer.write(record)


def _replace(path: Path, scalars: Iterable[Scalar]) -> None:
    """Make ``path`` hold exactly ``scalars``, in step order (a step that goes back makes
    TensorBoard drop the later ones), replacing the file atomically."""
    ordered = sorted(scalars, key=lambda scalar: scalar.step)
    # named apart from the event file while written: TensorBoard reads every "*tfevents*" file
    with atomic_output(path, binary=True, temp_for=path.with_name("events-rewrite")) as handle:
        _write_records(handle, [_header(), *_encode(ordered)])


def restart(
    path: Path, through: int, missing: Callable[[set[tuple[str, int]]], list[Scalar]]
) -> None:
    """Make ``path`` hold the training scalars of steps 1..``through`` (the checkpoint's) only:
    later ones (steps the run repeats) and evaluation scalars go; ``missing(present)`` gives the
    scalars to add for the (tag, step) pairs not ``present``."""
    kept = [
        scalar
        for scalar in read_scalars(path)
        if scalar.tag.startswith(TRAIN) and 1 <= scalar.step <= through
    ]
    _replace(path, [*kept, *missing({(scalar.tag, scalar.step) for scalar in kept})])


def replace_scalars(path: Path, prefix: str, step: int, values: Mapping[str, float]) -> None:
    """Put ``values`` (tags under ``prefix``) at ``step`` into ``path``, dropping earlier scalars
    under ``prefix``."""
    now = time.time()
    kept = [scalar for scalar in read_scalars(path) if not scalar.tag.startswith(prefix)]
    _replace(path, [*kept, *(Scalar(prefix + t, step, v, now) for t, v in values.items())])


class EventLog:
    """Appends scalars to a run's event file (created when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            _replace(path, [])
        self.handle: IO[bytes] | None = open(path, "ab")  # noqa: SIM115 - closed by close()

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Log ``values`` (tag -> value) at ``step`` and hand them to the operating system."""
        if self.handle is None:
            return
        now = time.time()
        _write_records(self.handle, _encode(Scalar(t, step, v, now) for t, v in values.items()))
        self.handle.flush()

    def sync(self) -> None:
        """Make what was logged durable (before a checkpoint that covers it is written)."""
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            fsync_dir(self.path.parent)

    def close(self) -> None:
        """Sync and close (idempotent)."""
        if self.handle is not None:
            self.sync()
            self.handle.close()
            self.handle = None
