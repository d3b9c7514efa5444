"""torch.distributed set-up from torchrun's or Slurm's environment, and sharding helpers.

- torchrun (or any launcher that exports ``RANK``/``WORLD_SIZE``): ``env://``.
- Slurm tasks (``srun``, submitit jobs with several tasks): submitit's
  ``TorchDistributedEnvironment`` exports the same variables from ``SLURM_*``.
NCCL on GPU, gloo on CPU. Evaluation uses :class:`ShardSampler` (no padding, no
drop_last) and :func:`gather_objects`, so every evaluation video is counted exactly once.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Iterator
from typing import Any, cast

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from omnibench.errors import OmniBenchError


@dataclasses.dataclass(frozen=True)
class DistContext:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # True when :func:`setup_distributed` created the process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def require_device(preference: str, world_size: int = 1) -> None:
    """A one-line error, before anything runs, when ``preference`` names a GPU this machine
    lacks."""
    if not preference.startswith("cuda"):
        return
    if not torch.cuda.is_available():
        build = (
            "without CUDA"
            if torch.version.cuda is None
            else f"with CUDA {torch.version.cuda}, but no GPU is visible"
        )
        raise OmniBenchError(
            f"--device {preference}: CUDA is not available "
            f"here (torch {torch.__version__} {build}); "
            "use --device cpu, or auto"
        )
    index = int(preference.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise OmniBenchError(
            f"--device {preference}: only {torch.cuda.device_count()} GPU(s) visible "
            "(CUDA_VISIBLE_DEVICES counts from 0)"
        )
    if ":" in preference and world_size > 1:
        raise OmniBenchError(
            f"--device {preference}: with {world_size} processes "
            "each takes its local GPU; use --device cuda"
        )


def resolve_device(preference: str, local_rank: int = 0, world_size: int = 1) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` picks the local rank's GPU, ``cuda:N``
    GPU N."""
    require_device(preference, world_size)
    use_cuda = preference.startswith("cuda") or (preference == "auto" and torch.cuda.is_available())
    if use_cuda:
        index = int(preference.partition(":")[2] or local_rank)
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device("cpu")


def _export_slurm_env() -> None:
    """Turn a multi-task Slurm allocation into torch's env:// variables (submitit's helper)."""
    # submitit only for a multi-task Slurm allocation
    from submitit.helpers import TorchDistributedEnvironment  # noqa: PLC0415

    os.environ.setdefault(
        "SUBMITIT_EXECUTOR", "slurm"
    )  # plain srun: select submitit's Slurm environment
    TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def setup_distributed(device_preference: str = "auto") -> DistContext:
    """Join (or create) the process group described by the environment; single process otherwise."""
    if "RANK" not in os.environ and int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        _export_slurm_env()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    _rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_preference, local_rank, world)
    if world == 1:
        return DistContext(device=device)
    owns = not dist.is_initialized()
    if owns:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, device, owns)


def teardown_distributed(ctx: DistContext) -> None:
    """Destroy the process group if :func:`setup_distributed` created it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op in a single process)."""
    if ctx.distributed:
        dist.barrier()


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_mean(value: float, ctx: DistContext) -> float:
    """Mean of a scalar over ranks."""
    if not ctx.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    return tensor.item() / ctx.world_size


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...`` of a dataset: disjoint shards, no padding, nothing
    dropped."""

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class ResumableSampler(Sampler[int]):
    """A seeded per-epoch shuffle sharded over ranks (``DistributedSampler``) that can skip
    the first ``start`` samples of the epoch, so a resumed run sees the rest of the same order."""

    def __init__(self, length: int, ctx: DistContext, seed: int) -> None:
        from torch.utils.data import Dataset, DistributedSampler  # noqa: PLC0415

        indices = cast(
            "Dataset[int]", range(length)
        )  # it only takes the length (its stub asks for a Dataset)
        self.base: DistributedSampler[int] = DistributedSampler(
            indices,
            num_replicas=ctx.world_size,
            rank=ctx.rank,
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        """Select the epoch's permutation and skip its first ``start`` samples on this rank."""
        self.base.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.base)[self.start :])

    def __len__(self) -> int:
        return len(self.base) - self.start
