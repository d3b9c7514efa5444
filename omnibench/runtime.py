"""Runtime options: how a run is executed (device, loader workers, data root).

They do not change a run's result, so they are not part of :class:`~omnibench.spec.RunSpec`
and not part of its hash.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from omnibench.errors import OmniBenchError

DEVICES = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(device: str) -> str:
    """``device`` if it is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, else a one-line error."""
    if not DEVICES.fullmatch(device):
        raise OmniBenchError(f"--device {device}: not a device; use auto, cpu, cuda or cuda:N (N: a GPU index)")
    return device


@dataclasses.dataclass(frozen=True)
class RuntimeOptions:
    """Where and how to execute runs."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    workers: int = 2  # data-loader worker processes per rank
    data_root: Path | None = None  # overrides OMNIBENCH_DATA and the datasets.yaml
    progress: bool | None = None  # rich progress; None: only when attached to a terminal

    def __post_init__(self) -> None:
        check_device(self.device)
