"""Reading clips with decord: only the sampled frames are decoded (``VideoReader.get_batch``).

A broken video (missing, empty, corrupt, truncated) is logged and comes out of the dataset as
``{"index": i, "broken": reason}``; :func:`collate_clips` drops it from the batch and lists it
under ``"broken"`` so the caller can count it. With ``strict=True`` it raises
:class:`BrokenVideoError` instead.

Training randomness (frame offsets, crops, flips, colour) is drawn from a generator seeded by
``(seed, epoch, index)``: a resumed run sees exactly the clips an uninterrupted one would.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from omnibench.config.runtime import DECODERS
from omnibench.data.color import COLUMNS
from omnibench.data.readable import BrokenVideoError, check_readable
from omnibench.data.records import VideoRecord
from omnibench.data.sampling import sample_test_indices, sample_train_indices
from omnibench.data.transforms import from_hwc, to_hwc

log = logging.getLogger("omnibench.data")
DEFAULT_DECODER = DECODERS[0]
_DECORD_PREFIX = re.compile(
    r"\[[\d:]+\]\s*\S+:\d+:\s*"
)  # "[18:55:00] src/video/video_reader.cc:486: "


def _reason(error: BaseException, path: Path) -> str:
    """The meaningful part of a decord error (its message repeats the path and C++ locations)."""
    lines = [line for line in str(error).splitlines() if line.strip() and "Stack trace" not in line]
    text = _DECORD_PREFIX.sub(" ", lines[0] if lines else type(error).__name__)
    text = (
        text.replace(f"Error reading {path}...", "").replace(f"{path}, ", "").replace(str(path), "")
    )
    return " ".join(text.split())[:200] or "not a readable video (corrupt or truncated)"


def open_video(path: Path, decoder: str = DEFAULT_DECODER) -> Any:
    """Open ``path`` with decord (or PyAV seeking to keyframes: ``decoder="pyav"``), one decoding
    thread; raise ``BrokenVideoError`` with a short reason."""
    import decord  # noqa: PLC0415

    decord.logging.set_level(
        decord.logging.QUIET
    )  # errors are reported here, not by ffmpeg on stderr
    check_readable(path)
    if decoder == "pyav":
        return _open_pyav(path)
    try:
        reader = decord.VideoReader(str(path), num_threads=1)
    except Exception as error:  # decord raises RuntimeError or its own DECORDError
        raise BrokenVideoError(f"{path}: cannot open: {_reason(error, path)}") from None
    if len(reader) == 0:
        raise BrokenVideoError(f"{path}: no decodable frames")
    return reader


def _open_pyav(path: Path) -> Any:
    from omnibench.data.pyav_reader import KeyframeSeekReader  # noqa: PLC0415

    try:
        reader = KeyframeSeekReader(path)
    except Exception as error:  # PyAV's FFmpegError, or no video stream
        raise BrokenVideoError(f"{path}: cannot open: {_reason(error, path)}") from None
    if len(reader) == 0:
        raise BrokenVideoError(f"{path}: no decodable frames")
    return reader


def read_frames(path: Path, indices: Sequence[int]) -> torch.Tensor:
    """Decode the frames at ``indices`` of ``path`` as a uint8 tensor
    ``(len(indices), 3, H, W)``."""
    reader = open_video(path)
    return decode_frames(reader, path, indices)


def decode_frames(reader: Any, path: Path, indices: Sequence[int]) -> torch.Tensor:
    """Frames ``indices`` of an open reader as uint8 ``(len(indices), 3, H, W)``; each frame decoded
    once.

    The result is a channels-last view of decord's ``(T, H, W, 3)`` array (no copy): torch's
    uint8 antialiased resize is fastest on that layout.
    """
    indices = list(indices)
    unique = sorted(set(indices))
    try:
        batch = reader.get_batch(unique)
        batch = batch if isinstance(batch, np.ndarray) else batch.asnumpy()
    except Exception as error:
        raise BrokenVideoError(f"{path}: cannot decode frames: {_reason(error, path)}") from None
    if indices != unique:  # repeated frames (videos shorter than the clip) or unsorted indices
        position = {frame: row for row, frame in enumerate(unique)}
        batch = batch[[position[i] for i in indices]]
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed that depends only on (seed, epoch, index)."""
    return int(np.random.default_rng([seed, epoch, index]).integers(2**63 - 1))


class VideoClipDataset(Dataset):
    """Clips of ``frames`` frames: ``{"video", "color", "label", "index"}``, V = clips x crops
    views.

    ``"video"`` is uint8 ``(V, T, 3, S, S)``, ``"color"`` the views' colour maps, one per frame
    ``(V, T, 3, 9)``.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        frames: int,
        train: bool,
        transform: Callable[..., tuple[torch.Tensor, torch.Tensor]],
        clips: int = 1,
        crops: int = 1,
        strict: bool = False,
        seed: int = 0,
        decoder: str = DEFAULT_DECODER,
    ) -> None:
        if train and (clips, crops) != (1, 1):
            raise ValueError("training reads one clip and one crop per video")
        self.records = tuple(records)
        self.frames, self.train, self.transform = frames, train, transform
        self.clips, self.crops, self.strict, self.seed = clips, crops, strict, seed
        self.decoder = decoder
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the training randomness of ``epoch`` (call before iterating each epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        try:
            video, colors = self._load(record, index)
        except BrokenVideoError as error:
            if self.strict:
                raise BrokenVideoError(f"{error} (listed at {record.source})") from None
            log.warning("skipping broken video %s (listed at %s)", error, record.source)
            return {"index": index, "broken": str(error)}
        return {"video": video, "color": colors, "label": record.label, "index": index}

    def _load(self, record: VideoRecord, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        reader = open_video(record.path, self.decoder)
        if not self.train:
            views = sample_test_indices(len(reader), self.frames, self.clips)
            frames = decode_frames(reader, record.path, [i for view in views for i in view])
            parts = [self.transform(clip, crops=self.crops) for clip in frames.split(self.frames)]
            return from_hwc(torch.cat([to_hwc(clip) for clip, _ in parts])), torch.cat(
                [maps for _, maps in parts]
            )
        seed = item_seed(self.seed, self.epoch, index)
        indices = sample_train_indices(len(reader), self.frames, np.random.default_rng(seed))
        frames = decode_frames(reader, record.path, indices)
        with torch.random.fork_rng(devices=[]):
            # CPU generator only: torch.manual_seed would also queue lazy CUDA/XPU seeding, each
            # capturing a stack trace (~1 ms per item), and leak a CUDA seed out of fork_rng.
            torch.default_generator.manual_seed(seed)
            return self.transform(frames)


def collate_clips(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch dataset items, dropping broken ones (listed as ``(index, reason)`` under ``"broken"``).

    ``"video"`` (B, V, T, 3, S, S) stays uint8 and channels-last; ``"color"`` (B, V, T, 3, 9) holds
    each view's colour map (:func:`omnibench.data.color.apply_color` finishes both on the device).
    """
    good = [item for item in items if "broken" not in item]
    broken = [(int(item["index"]), str(item["broken"])) for item in items if "broken" in item]
    if good:
        video = from_hwc(torch.stack([to_hwc(item["video"]) for item in good]))
        colors = torch.stack([item["color"] for item in good])
    else:
        video, colors = (
            torch.empty((0, 0, 0, 3, 0, 0), dtype=torch.uint8),
            torch.empty((0, 0, 3, COLUMNS)),
        )
    return {
        "video": video,
        "color": colors,
        "label": torch.tensor([int(item["label"]) for item in good], dtype=torch.long),
        "index": torch.tensor([int(item["index"]) for item in good], dtype=torch.long),
        "broken": broken,
    }
