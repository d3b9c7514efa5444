"""Runtime options: how a run is executed (device, loader workers, data root).

They do not change a run's result, so they are not part of :class:`~omnibench.spec.RunSpec`
and not part of its hash.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class RuntimeOptions:
    """Where and how to execute runs."""

    device: str = "auto"  # auto | cpu | cuda
    workers: int = 2  # data-loader worker processes per rank
    data_root: Path | None = None  # overrides OMNIBENCH_DATA and the datasets.yaml
    progress: bool | None = None  # rich progress; None: only when attached to a terminal
