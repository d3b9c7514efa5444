"""Decode every frame of every video of a split, in several processes, and list the broken ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from omnibench.data.records import VideoRecord
from omnibench.data.video import BrokenVideoError, decode_frames, open_video

CHUNK = 32  # frames decoded per get_batch call


def check_video(path: Path) -> str | None:
    """None if every frame of ``path`` decodes, else a one-line reason."""
    try:
        reader = open_video(path)
        frames = len(reader)
        for start in range(0, frames, CHUNK):
            decode_frames(reader, path, range(start, min(frames, start + CHUNK)))
    except BrokenVideoError as error:
        return str(error)
    return None


def check_records(
    records: Sequence[VideoRecord], workers: int = 4, on_checked: Callable[[], None] | None = None
) -> list[tuple[VideoRecord, str]]:
    """``(record, reason)`` for each video that does not decode completely, in list order."""
    paths = [record.path for record in records]
    if workers <= 1:
        return _collect(records, map(check_video, paths), on_checked)
    with ProcessPoolExecutor(workers) as pool:
        return _collect(records, pool.map(check_video, paths, chunksize=4), on_checked)


def _collect(
    records: Sequence[VideoRecord],
    reasons: Iterable[str | None],
    on_checked: Callable[[], None] | None,
) -> list[tuple[VideoRecord, str]]:
    broken = []
    for record, reason in zip(records, reasons):
        if reason is not None:
            broken.append((record, reason))
        if on_checked is not None:
            on_checked()
    return broken
