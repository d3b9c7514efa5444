"""torch.profiler tables of one inference batch or training step: where the time goes, by op."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from omnibench.bench.measure import synchronize

ROWS = 25


def profile_to(path: Path, fn: Callable[[], None], device: torch.device) -> None:
    """Run ``fn`` once under the profiler; write its ops by self time, then grouped by input
    shape."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities, record_shapes=True) as prof:
        fn()
        synchronize(device)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    by_op = prof.key_averages().table(sort_by=sort, row_limit=ROWS)
    by_shape = prof.key_averages(group_by_input_shape=True).table(sort_by=sort, row_limit=ROWS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"{path.stem}: ops by {sort}\n{by_op}\n\nby input shape\n{by_shape}\n", encoding="utf-8"
    )
