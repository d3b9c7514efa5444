"""Reading clips with decord from mp4 files written here; broken videos are skipped or fatal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from omnibench.data import (
    BrokenVideoError,
    VideoClipDataset,
    VideoRecord,
    build_transform,
    collate_clips,
    read_frames,
)
from omnibench.data.color import apply_color
from omnibench.data.mp4 import write_mp4

FRAMES = 12


def _ramp_video(path: Path, frames: int = FRAMES) -> np.ndarray:
    """Frame t is a flat grey of brightness 20 * t, so decoded frames identify their index."""
    video = np.repeat(np.arange(frames, dtype=np.uint8)[:, None, None, None] * 20, 48, axis=1)
    video = np.ascontiguousarray(np.broadcast_to(video, (frames, 48, 64, 3)))
    write_mp4(path, video, fps=8)
    return video


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    _ramp_video(root / "good.mp4")
    _ramp_video(root / "short.mp4", frames=3)
    good = (root / "good.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (root / "corrupt.mp4").write_bytes(bytes(range(256)) * 8)
    (root / "empty.mp4").write_bytes(b"")
    return {p.stem: p for p in root.iterdir()} | {"missing": root / "missing.mp4"}


def test_mp4_written_then_decoded(videos: dict[str, Path]) -> None:
    frames = read_frames(videos["good"], [0, 5, 11, 5])
    assert frames.shape == (4, 3, 48, 64) and frames.dtype == torch.uint8
    brightness = frames.float().mean(dim=(1, 2, 3))
    assert torch.allclose(brightness, torch.tensor([0.0, 100.0, 220.0, 100.0]), atol=3)


def _records(videos: dict[str, Path], *names: str) -> list[VideoRecord]:
    return [VideoRecord(videos[name], i % 2, f"list.txt:{i + 1}") for i, name in enumerate(names)]


def test_test_clips_multi_view(videos: dict[str, Path]) -> None:
    dataset = VideoClipDataset(
        _records(videos, "good", "short"),
        4,
        False,
        build_transform(False, 16, 16),
        clips=2,
        crops=3,
    )
    item = dataset[0]
    assert item["video"].shape == (6, 4, 3, 16, 16) and item["label"] == 0 and item["index"] == 0
    # clip 1 samples frames [0, 3, 6, 9] + 1: brighter than clip 0, crops of one clip agree (flat
    # frames)
    assert item["video"].dtype == torch.uint8 and item["color"].shape == (6, 3, 9)
    means = apply_color(item["video"], item["color"]).mean(dim=(2, 3, 4))
    assert torch.allclose(means[0], means[2], atol=1e-4) and (means[3] > means[0]).all()
    assert dataset[1]["video"].shape == (6, 4, 3, 16, 16)  # 3-frame video: indices repeat


def test_training_clips_are_reproducible_per_epoch(videos: dict[str, Path]) -> None:
    dataset = VideoClipDataset(
        _records(videos, "good") * 4, 4, True, build_transform(True, 16, 20), seed=7
    )
    first = [_finished(dataset[i]) for i in range(4)]
    assert first[0].shape == (1, 4, 3, 16, 16) and first[0].dtype == torch.float32
    assert all(torch.equal(a, _finished(dataset[i])) for i, a in enumerate(first))
    assert not all(torch.equal(a, b) for a, b in zip(first, first[1:]))  # items differ
    dataset.set_epoch(1)
    assert not all(torch.equal(a, _finished(dataset[i])) for i, a in enumerate(first))
    dataset.set_epoch(0)
    batch = next(iter(DataLoader(dataset, batch_size=4, num_workers=2, collate_fn=collate_clips)))
    # a colour map per frame
    assert batch["video"].dtype == torch.uint8 and batch["color"].shape == (4, 1, 4, 3, 9)
    assert torch.equal(_finished(batch), torch.stack(first))  # worker processes see the same clips


def _finished(item: dict) -> torch.Tensor:
    """The float clips a model sees: the item's uint8 views through their colour maps."""
    return apply_color(item["video"], item["color"])


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing", "missing video file"),
        ("empty", "empty (zero-byte)"),
        ("corrupt", "cannot open"),
        ("truncated", "cannot open"),
    ],
)
def test_broken_video_is_skipped_and_reported(
    videos: dict[str, Path], name: str, reason: str
) -> None:
    records = _records(videos, "good", name, "good")
    dataset = VideoClipDataset(records, 4, False, build_transform(False, 16, 16))
    item = dataset[1]
    assert item["index"] == 1 and reason in item["broken"] and "\n" not in item["broken"]
    batch = collate_clips([dataset[i] for i in range(3)])
    assert batch["video"].shape == (2, 1, 4, 3, 16, 16)
    assert batch["index"].tolist() == [0, 2] and batch["label"].tolist() == [0, 0]
    assert [index for index, _ in batch["broken"]] == [1]


def test_strict_mode_raises(videos: dict[str, Path]) -> None:
    dataset = VideoClipDataset(
        _records(videos, "good", "corrupt"), 4, False, build_transform(False, 16, 16), strict=True
    )
    with pytest.raises(
        BrokenVideoError, match=r"corrupt.mp4: cannot open.*\(listed at list.txt:2\)"
    ):
        dataset[1]


def test_batch_of_only_broken_videos(videos: dict[str, Path]) -> None:
    dataset = VideoClipDataset(
        _records(videos, "missing", "empty"), 4, True, build_transform(True, 16, 20)
    )
    batch = collate_clips([dataset[0], dataset[1]])
    assert (
        batch["video"].shape[0] == 0 and batch["label"].shape == (0,) and len(batch["broken"]) == 2
    )


def test_training_reads_one_view() -> None:
    with pytest.raises(ValueError):
        VideoClipDataset([], 4, True, build_transform(True, 16, 20), clips=2)
