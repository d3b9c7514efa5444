"""The loader on a source and on its prepared copy, side by side (``omnibench bench --prepared``).

Without ``--videos`` the source is generated at a real download's resolution and keyframe
spacing (:mod:`omnibench.bench.hires`: 1280x720, 300 frames, a keyframe every 250); the copy is
what ``omnibench data prepare`` makes of it with its defaults. Both are read by the same
training dataset (same frames, same crop, same seeded frame indices: prepare keeps every
frame), and each input is also decoded raw, by decord and by PyAV seeking to keyframes
(:mod:`omnibench.data.pyav_reader`), all timed in turn within every repeat, one torch thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from omnibench.bench.hires import ClipSpec, write_clip
from omnibench.bench.loader import (
    dataset_indices,
    decode_all,
    find_videos,
    one_thread,
    read_all,
    short_side_for,
)
from omnibench.bench.measure import interleaved_median_seconds

HIRES_VIDEOS = 4  # 1280x720 clips of 300 frames: a stable rate, ~1 min to generate on 2 cores
Inputs = list[tuple[str, list[Path]]]  # (label, videos), the source first


@dataclasses.dataclass
class InputResult:
    """One input's per-worker rates (same frames and crop as every other input of the run)."""

    label: str
    videos: int
    size: str  # "1280x720" (of the first video)
    keyframe_interval: float | None  # median frames between keyframes
    loader_clips_per_s: float  # decord decode + augment (the training dataset)
    pyav_loader_clips_per_s: float  # the same with ``decoder="pyav"`` (``--decoder pyav``)
    decord_clips_per_s: float  # raw decord get_batch of the same frames
    pyav_clips_per_s: float  # raw PyAV decode of the same frames, seeking to keyframes
    speedup: float  # loader clips/s over the source's (the first input)
    workers: dict[str, dict[str, int | None]] = dataclasses.field(default_factory=dict)


def _geometry(path: Path) -> tuple[str, float | None]:
    import decord  # noqa: PLC0415

    reader = decord.VideoReader(str(path), num_threads=1)
    height, width = reader[0].shape[:2]
    keys = list(reader.get_key_indices())
    gaps = [b - a for a, b in zip(keys, keys[1:])]
    return f"{width}x{height}", (statistics.median(gaps) if gaps else None)


@contextlib.contextmanager
def prepared_inputs(videos: Path | None) -> Iterator[Inputs]:
    """The source (``videos``, or generated 720p clips) and its copy by ``data prepare``."""
    from omnibench.data.encode import EncodeSettings  # noqa: PLC0415
    from omnibench.data.prepare import run_prepare  # noqa: PLC0415
    from omnibench.data.prepared import plan_folder  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="omnibench-bench-") as tmp:
        label = f"source: {videos}"
        if videos is None:
            spec, videos = ClipSpec(), Path(tmp) / "source"
            label = f"source: generated H.264, {spec.frames} frames"
            for number in range(HIRES_VIDEOS):
                write_clip(videos / f"clip{number}.mp4", spec, seed=number)
        plan = plan_folder(videos, Path(tmp) / "prepared")
        plan = dataclasses.replace(plan, jobs=plan.jobs[: len(find_videos(videos))])
        settings = EncodeSettings()
        summary = run_prepare(plan, settings, workers=min(4, os.cpu_count() or 1))
        broken = {record.path for record, _ in summary.broken}
        jobs = [job for job in plan.jobs if job.source not in broken]
        yield [
            (label, [job.source for job in jobs]),
            (
                f"prepared (short side {settings.short_side}, keyframe every "
                f"{settings.keyframe_interval})",
                [job.target for job in jobs],
            ),
        ]


def _pyav_all(videos: Sequence[Path], indices: Sequence[Sequence[int]]) -> None:
    from omnibench.data.pyav_reader import KeyframeSeekReader  # noqa: PLC0415

    for path, frame_indices in zip(videos, indices):
        reader = KeyframeSeekReader(path)
        try:
            reader.get_batch(frame_indices)
        finally:
            reader.close()


def bench_inputs(
    inputs: Inputs, shape: tuple[int, int], repeats: int, warmup: int
) -> list[InputResult]:
    """Median per-worker clips/s of each input through the loader (decord, then PyAV), raw decord
    and raw PyAV."""
    from omnibench.data import VideoClipDataset, VideoRecord, build_transform  # noqa: PLC0415

    frames, input_size = shape
    transform = build_transform(True, input_size, short_side_for(input_size))
    calls: list[Callable[[], None]] = []
    for _, videos in inputs:
        records = [VideoRecord(path=p, label=0, source=str(p)) for p in videos]
        dataset = VideoClipDataset(records, frames, train=True, transform=transform)
        indices = [dataset_indices(dataset, i) for i in range(len(dataset))]
        pyav = VideoClipDataset(records, frames, train=True, transform=transform, decoder="pyav")
        calls += [
            functools.partial(read_all, dataset),
            functools.partial(read_all, pyav),
            functools.partial(decode_all, videos, indices),
            functools.partial(_pyav_all, videos, indices),
        ]
    with one_thread():
        seconds = interleaved_median_seconds(calls, torch.device("cpu"), repeats, max(warmup, 1))
    results, base = [], len(inputs[0][1]) / seconds[0]
    for number, (label, videos) in enumerate(inputs):
        loader, pyav_loader, decord_raw, pyav_raw = (
            len(videos) / s for s in seconds[4 * number : 4 * number + 4]
        )
        size, keyframes = _geometry(videos[0])
        results.append(
            InputResult(
                label,
                len(videos),
                size,
                keyframes,
                loader,
                pyav_loader,
                decord_raw,
                pyav_raw,
                loader / base,
            )
        )
    return results
