"""Data-path speed: decode + augment clips/s of one loader worker against raw decord decoding.

Both sides read the SAME frame indices of the SAME files: the training dataset draws them from
``item_seed(seed, epoch, index)`` and the raw side replays that draw, then only calls
``VideoReader.get_batch`` (one decoding thread, as the dataset's reader). Both run with one
torch thread, as a ``DataLoader`` worker does, timed in turn. The worker's augmentation is the
spatial part and the draw of each clip's colour map; the colour step itself runs on the
model's device and is timed there, per clip of a collated batch. Without ``--videos`` the input
is a small set of generated H.264 videos whose short side equals the transform's, so nothing
is upscaled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from omnibench.bench.measure import interleaved_median_seconds, median_seconds
from omnibench.data.readable import VIDEO_SUFFIXES
from omnibench.errors import OmniBenchError

if TYPE_CHECKING:
    from omnibench.data import VideoClipDataset

MAX_VIDEOS = 32  # enough for a stable per-clip rate, few enough to stay quick
SYNTH_VIDEOS = 12
SYNTH_FRAMES = 64


@dataclasses.dataclass
class LoaderResult:
    """Per-worker data-path rates and what they imply for each model."""

    source: str
    videos: int
    frames: int
    input_size: int
    short_side: int
    raw_clips_per_s: float
    loader_clips_per_s: float
    ratio: float  # loader / raw decode
    color_device: str  # where the colour step ran (the models' device)
    color_ms_per_clip: float  # colour jitter + normalisation of a collated batch, per clip
    workers: dict[str, dict[str, int | None]] = dataclasses.field(default_factory=dict)


def short_side_for(input_size: int) -> int:
    """The resize short side that keeps X-CLIP's 256:224 ratio."""
    return math.ceil(input_size * 256 / 224)


def workers_needed(model_clips_per_s: float | None, loader_clips_per_s: float) -> int | None:
    """Loader workers that keep a model consuming ``model_clips_per_s`` fed."""
    if model_clips_per_s is None:
        return None
    return max(1, math.ceil(model_clips_per_s / loader_clips_per_s))


def find_videos(directory: Path) -> list[Path]:
    """Up to :data:`MAX_VIDEOS` video files under ``directory`` (sorted, recursive)."""
    if not directory.is_dir():
        raise OmniBenchError(f"--videos {directory}: not a directory")
    paths = sorted(
        p for p in directory.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
    )
    if not paths:
        raise OmniBenchError(
            f"--videos {directory}: no video files ({', '.join(VIDEO_SUFFIXES)}) found"
        )
    return paths[:MAX_VIDEOS]


@contextlib.contextmanager
def bench_videos(directory: Path | None, short_side: int) -> Iterator[tuple[list[Path], str]]:
    """The videos to read (from ``directory``, or generated into a temporary one) and a
    description."""
    if directory is not None:
        yield find_videos(directory), str(directory)
        return
    from omnibench.data import MOTIONS, SynthConfig, generate_synthetic  # noqa: PLC0415

    size = short_side + short_side % 2
    config = SynthConfig(
        classes=tuple(MOTIONS)[:2],
        videos_per_class=SYNTH_VIDEOS // 2,
        frames=SYNTH_FRAMES,
        size=size,
    )
    with tempfile.TemporaryDirectory(prefix="omnibench-bench-") as tmp:
        root = generate_synthetic(Path(tmp) / "videos", config)
        yield (
            sorted(root.rglob("*.mp4")),
            f"synthetic H.264, {SYNTH_VIDEOS} videos of {SYNTH_FRAMES} frames at {size}x{size}",
        )


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the body with one torch thread, like a DataLoader worker process."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def bench_loader(
    videos: Sequence[Path],
    source: str,
    shape: tuple[int, int],
    device: torch.device,
    repeats: int,
    warmup: int,
) -> LoaderResult:
    """Median clips/s of the training dataset (decode + augment) and of raw decord on its indices.

    ``shape`` is (frames, input size); the colour step runs on ``device`` over a batch of all
    videos.
    """
    from omnibench.data import VideoClipDataset, VideoRecord, build_transform  # noqa: PLC0415

    frames, input_size = shape
    short_side = short_side_for(input_size)
    records = [VideoRecord(path=p, label=0, source=str(p)) for p in videos]
    dataset = VideoClipDataset(
        records, frames, train=True, transform=build_transform(True, input_size, short_side)
    )
    indices = [dataset_indices(dataset, i) for i in range(len(dataset))]
    cpu = torch.device("cpu")
    with one_thread():
        loader_s, raw_s = interleaved_median_seconds(
            [lambda: read_all(dataset), lambda: decode_all(videos, indices)],
            cpu,
            repeats,
            max(warmup, 1),
        )
    loader_rate, raw_rate = len(videos) / loader_s, len(videos) / raw_s
    return LoaderResult(
        source=source,
        videos=len(videos),
        frames=frames,
        input_size=input_size,
        short_side=short_side,
        raw_clips_per_s=raw_rate,
        loader_clips_per_s=loader_rate,
        ratio=loader_rate / raw_rate,
        color_device=str(device),
        color_ms_per_clip=color_ms_per_clip(dataset, device, repeats, warmup),
    )


def color_ms_per_clip(
    dataset: VideoClipDataset, device: torch.device, repeats: int, warmup: int
) -> float:
    """Milliseconds per clip of the colour step on ``device``, over one collated batch of the
    dataset."""
    from omnibench.data import collate_clips  # noqa: PLC0415
    from omnibench.data.color import apply_color  # noqa: PLC0415

    batch = collate_clips([dataset[i] for i in range(len(dataset))])
    video, maps = batch["video"][:, 0].to(device), batch["color"][:, 0].to(device)
    seconds = median_seconds(lambda: apply_color(video, maps), device, repeats, max(warmup, 1))
    return seconds / len(video) * 1e3


def dataset_indices(dataset: VideoClipDataset, index: int) -> list[int]:
    """The frame indices the training dataset samples for item ``index`` in its current epoch."""
    from omnibench.data import sample_train_indices  # noqa: PLC0415
    from omnibench.data.video import item_seed, open_video  # noqa: PLC0415

    seed = item_seed(dataset.seed, dataset.epoch, index)
    num_frames = len(open_video(dataset.records[index].path))
    return sample_train_indices(num_frames, dataset.frames, np.random.default_rng(seed))


def read_all(dataset: VideoClipDataset) -> None:
    """Every item of ``dataset`` (a broken video is an error: the bench needs all of them)."""
    for index in range(len(dataset)):
        item = dataset[index]
        if "broken" in item:
            raise OmniBenchError(f"loader benchmark: {item['broken']}")


def decode_all(videos: Sequence[Path], indices: Sequence[Sequence[int]]) -> None:
    """The frames ``indices`` of each video, raw, with decord (one thread)."""
    import decord  # noqa: PLC0415

    for path, frame_indices in zip(videos, indices):
        reader = decord.VideoReader(str(path), num_threads=1)
        reader.get_batch(sorted(set(frame_indices))).asnumpy()
