"""The evaluation loader (``engine.evaluate.eval_loader``): each rank's shard in order, in
batches of the settings' size, none dropped or padded; its workers; memory pinned for a GPU only."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from omnibench.engine.distributed import DistContext
from omnibench.engine.evaluate import EvalSettings, eval_loader


class Numbered(Dataset):
    """Item i is i (the default collate stacks a batch into a tensor)."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int) -> int:
        return index


@pytest.mark.parametrize(
    ("rank", "batches"), [(0, [[0, 2], [4]]), (1, [[1, 3]])], ids=["rank0", "rank1"]
)
def test_each_rank_loads_its_shard_in_order_in_batches_of_the_settings(
    rank: int, batches: list[list[int]]
) -> None:
    """5 videos over 2 ranks in batches of 2: rank 0 takes 0, 2, 4 and rank 1 takes 1, 3, in
    order, none dropped or padded (the whole dataset in order would be [0, 1], [2, 3], [4]; one
    video a batch, five batches)."""
    loader = eval_loader(Numbered(), DistContext(rank, 2), EvalSettings(batch_size=2), None)
    assert [batch.tolist() for batch in loader] == batches


@pytest.mark.parametrize(("device", "pinned"), [("cuda", True), ("cpu", False), ("meta", False)])
def test_the_loader_pins_memory_for_a_gpu_only_and_runs_the_settings_workers(
    device: str, pinned: bool
) -> None:
    """Built, not iterated: no GPU is needed to see what a loader for one would do."""
    ctx = DistContext(device=torch.device(device))
    loader = eval_loader(Numbered(), ctx, EvalSettings(workers=2), None)
    assert (loader.pin_memory, loader.num_workers, loader.batch_size) == (pinned, 2, 8)
