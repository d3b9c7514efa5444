"""Sharding: evaluation shards cover every index once; the training order resumes mid-epoch."""

from __future__ import annotations

import pytest

from omnibench.config.spec import OptimSpec
from omnibench.engine.distributed import (
    DistContext,
    ResumableSampler,
    ShardSampler,
    setup_distributed,
)
from omnibench.engine.trainer import batch_geometry
from omnibench.errors import OmniBenchError


@pytest.mark.parametrize(("length", "world"), [(10, 3), (7, 2), (2, 4), (0, 2)])
def test_eval_shards_are_disjoint_and_cover_everything(length: int, world: int) -> None:
    shards = [list(ShardSampler(length, rank, world)) for rank in range(world)]
    flat = sorted(i for shard in shards for i in shard)
    assert flat == list(range(length))


def test_resumable_sampler_skips_into_the_same_permutation() -> None:
    sampler = ResumableSampler(20, DistContext(), seed=7)
    sampler.set_position(epoch=3, start=0)
    full = list(sampler)
    sampler.set_position(epoch=3, start=6)
    assert list(sampler) == full[6:] and len(sampler) == 14
    sampler.set_position(epoch=4, start=0)
    assert list(sampler) != full and sorted(sampler) == sorted(full)


def test_two_ranks_split_the_single_process_order() -> None:
    single = ResumableSampler(12, DistContext(), seed=1)
    single.set_position(0, 0)
    ranks = [ResumableSampler(12, DistContext(rank=r, world_size=2), seed=1) for r in range(2)]
    for sampler in ranks:
        sampler.set_position(0, 0)
    order = list(single)
    assert list(ranks[0]) == order[0::2] and list(ranks[1]) == order[1::2]


def test_batch_geometry_reaches_the_effective_batch() -> None:
    assert batch_geometry(OptimSpec(batch_size=64, batch_per_device=4), 8) == (4, 2)
    assert batch_geometry(OptimSpec(batch_size=8), 2) == (4, 1)
    assert batch_geometry(OptimSpec(batch_size=8, batch_per_device=2), 1) == (2, 4)
    assert batch_geometry(OptimSpec(batch_size=4, batch_per_device=8), 1) == (
        4,
        1,
    )  # never above the share
    with pytest.raises(
        OmniBenchError,
        match=r"^optim.batch_size 8 is not a multiple of optim.batch_per_device x devices "
        r"\(3 x 1\); set optim.batch_per_device to a divisor$",
    ):
        batch_geometry(OptimSpec(batch_size=8, batch_per_device=3), 1)
    with pytest.raises(OmniBenchError, match=r"\(4 x 2\)"):  # 4 per device x 2 = 8 leaves 4 of 12
        batch_geometry(OptimSpec(batch_size=12, batch_per_device=4), 2)
    with pytest.raises(OmniBenchError, match="batch_per_device"):
        batch_geometry(OptimSpec(batch_size=8), 3)


def test_single_process_without_launcher_environment(monkeypatch) -> None:
    for key in ("RANK", "WORLD_SIZE", "SLURM_NTASKS"):
        monkeypatch.delenv(key, raising=False)
    ctx = setup_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.device.type, ctx.is_main) == (0, 1, "cpu", True)
