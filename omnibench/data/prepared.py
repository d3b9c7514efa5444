"""A prepared root: where ``omnibench data prepare`` writes each file, and the marker that says a
root holds prepared videos (source, settings), read by runs for their records. Torch-free.

Layout: ``OUT/<dataset>/`` mirrors the dataset's root as its adapter reads it: the annotation
files at the same relative paths, the videos at the same relative paths under the adapter's
video folder (a video folder kept outside the root, ``videos:`` in datasets.yaml, moves to the
adapter's first default video folder inside it), with the same file names. So
``--data-root OUT`` reads the prepared copy with every adapter.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from omnibench.data.datasets import DatasetAdapter
from omnibench.data.readable import VIDEO_SUFFIXES
from omnibench.data.records import VideoRecord
from omnibench.errors import OmniBenchError

MARKER_FILE = "omnibench-prepared.json"  # the source and settings of a prepared root
LOG_FILE = "omnibench-prepared.jsonl"  # one line per video prepared (or found broken)


@dataclasses.dataclass(frozen=True)
class VideoJob:
    """One video to prepare: its source, where it goes, and the annotation line that lists it."""

    source: Path
    target: Path
    key: str  # the target's path relative to the prepared root (its key in the log)
    record: VideoRecord


@dataclasses.dataclass(frozen=True)
class PreparePlan:
    """Everything one prepare writes: the videos, the annotation files to copy, and where."""

    name: str
    source_root: Path
    out_root: Path
    jobs: tuple[VideoJob, ...]
    files: tuple[tuple[Path, Path], ...]  # (annotation file, its copy)


def _inside(path: Path, root: Path, what: str) -> str:
    relative = os.path.relpath(path, root)
    if relative.startswith(".."):
        raise OmniBenchError(f"prepare: {what} {path} is outside {root}; cannot mirror its path")
    return relative


def video_folder(adapter: DatasetAdapter) -> str:
    """The adapter's video folder relative to its root (a default one when it lies outside)."""
    if os.path.relpath(adapter.videos, adapter.root).startswith(".."):
        return adapter.video_dirs[0] if adapter.video_dirs else ""
    return os.path.relpath(adapter.videos, adapter.root)


def plan_dataset(
    adapter: DatasetAdapter, records: list[VideoRecord], files: list[Path], out: Path, name: str
) -> PreparePlan:
    """Where each of ``records``' videos and each annotation file goes under ``out/<name>``."""
    root = Path(out) / name
    folder = root / video_folder(adapter)
    jobs = []
    for record in records:
        target = folder / _inside(record.path, adapter.videos, "video")
        jobs.append(VideoJob(record.path, target, os.path.relpath(target, root), record))
    copies = tuple(
        (path, root / _inside(path, adapter.root, "annotation file"))
        for path in dict.fromkeys(files)
    )
    return PreparePlan(name, adapter.root, root, tuple(jobs), copies)


def plan_folder(folder: Path, out: Path) -> PreparePlan:
    """Every video file under ``folder`` (no annotations) to ``out/<folder name>``, paths kept."""
    folder = Path(folder)
    videos = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
    )
    if not videos:
        raise OmniBenchError(
            f"prepare: {folder} holds no list files (*.txt) and no videos "
            f"({', '.join(VIDEO_SUFFIXES)})"
        )
    root = Path(out) / folder.name
    jobs = tuple(
        VideoJob(
            p, root / p.relative_to(folder), str(p.relative_to(folder)), VideoRecord(p, 0, str(p))
        )
        for p in videos
    )
    return PreparePlan(folder.name, folder, root, jobs, ())


def read_marker(root: Path) -> dict[str, Any] | None:
    """The marker of a prepared root (None where ``root`` holds no prepared videos)."""
    path = Path(root) / MARKER_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise OmniBenchError(f"{path}: unreadable prepare marker ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
        raise OmniBenchError(f"{path}: not a prepare marker (no 'settings')")
    return data


def prepared_summary(root: Path) -> dict[str, Any] | None:
    """What a run records about a prepared root: source, short side, keyframe interval, codec,
    quality, and whether the prepare finished (None for original videos)."""
    marker = read_marker(root)
    if marker is None:
        return None
    settings = marker["settings"]
    keys = ("short_side", "keyframe_interval", "crf", "codec")
    return {
        "source": marker.get("source"),
        **{key: settings.get(key) for key in keys},
        "complete": bool(marker.get("complete")),
    }


def describe(prepared: dict[str, Any]) -> str:
    """``"prepared from /data/hmdb51: short side 320, keyframe every 8 frames"``."""
    return (
        f"prepared from {prepared.get('source')}: short side {prepared.get('short_side')}, "
        f"keyframe every {prepared.get('keyframe_interval')} frames"
    )
