"""Runtime and launch options: how runs are executed (device, loader workers, data root; executor,
Slurm profile, parallelism).

They do not change a run's result, so they are not part of :class:`~omnibench.config.spec.RunSpec`
and not part of its hash.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from pathlib import Path

from omnibench.errors import OmniBenchError

DEVICES = re.compile(r"auto|cpu|cuda(:\d+)?")
# How the loader decodes: decord (the default), or PyAV seeking to keyframes (the same pixels;
# faster on videos with short keyframe intervals, docs/BENCHMARKS.md "Preparing videos").
DECODERS = ("decord", "pyav")


def check_device(device: str) -> str:
    """``device`` if it is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, else a one-line error."""
    if not DEVICES.fullmatch(device):
        raise OmniBenchError(
            f"--device {device}: not a device; use auto, cpu, cuda or cuda:N (N: a GPU index)"
        )
    return device


@dataclasses.dataclass(frozen=True)
class RuntimeOptions:
    """Where and how to execute runs."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    workers: int = 2  # data-loader worker processes per rank
    data_root: Path | None = None  # overrides OMNIBENCH_DATA and the datasets.yaml
    progress: bool | None = None  # rich progress; None: only when attached to a terminal
    decoder: str = DECODERS[0]  # how loader workers decode (the same pixels either way)
    tensorboard: bool = False  # TensorBoard events in each run's folder (store.tb_events)

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.decoder not in DECODERS:
            raise OmniBenchError(
                f"--decoder {self.decoder}: not a decoder; one of {', '.join(DECODERS)}"
            )


# not StrEnum (UP042): StrEnum is Python 3.11+; requires-python allows 3.10
class Executor(str, enum.Enum):  # noqa: UP042
    """Where runs execute: this process, parallel local processes, or a Slurm job array."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    INLINE = "inline"
    LOCAL = "local"
    SLURM = "slurm"


@dataclasses.dataclass(frozen=True)
class LaunchOptions:
    """How one invocation executes its runs, from the command line to the executor."""

    executor: Executor = Executor.INLINE
    runtime: RuntimeOptions = dataclasses.field(default_factory=RuntimeOptions)
    profile: str | None = None  # Slurm resource profile (slurm/<name>.yaml); local: its limits
    max_parallel: int = 0  # runs at once; < 1: the profile's array_parallelism, or half the CPUs

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "executor", Executor(self.executor))
        except ValueError:
            raise OmniBenchError(
                f"unknown executor '{self.executor}'; one of {', '.join(Executor)}"
            ) from None
