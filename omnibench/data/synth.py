"""The synthetic motion benchmark: the class of a video lives only in how an object moves.

Every class comes with its time-reversed twin (left/right, up/down, growing/shrinking,
clockwise/anticlockwise, fading in/out), and everything a single frame shows (shape, colours,
background texture, where the path is centred, size, orientation, speed) is drawn at random
per video from distributions shared by the twins. The bag of frames of a video is therefore
equally likely under its class and its twin: a model that averages frames cannot beat 50 %
top-1 on the default classes (chance 10 %), while a temporal model can reach 100 %.

Videos are real H.264 mp4 files; annotations use the generic list format (``train.txt``,
``test1.txt`` .. ``test3.txt`` with ``relpath label`` lines, ``labels.csv`` with ``id,name``).
Output is deterministic for a seed: same annotation bytes, same video bytes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from omnibench.atomic import remove_leftovers, temp_path
from omnibench.data.synth_config import DEFAULT_CLASSES as DEFAULT_CLASSES  # what to generate
from omnibench.data.synth_config import DIRECTION_CLASSES as DIRECTION_CLASSES
from omnibench.data.synth_config import DIRECTIONS_VIDEOS_PER_CLASS as DIRECTIONS_VIDEOS_PER_CLASS
from omnibench.data.synth_config import MOTIONS as MOTIONS
from omnibench.data.synth_config import TEST_SPLITS as TEST_SPLITS
from omnibench.data.synth_config import SynthConfig as SynthConfig
from omnibench.errors import OmniBenchError

SYNTH_CONFIG_FILE = "synth.json"  # the generator settings, written last with the lists


def split_of(video: int, videos_per_class: int) -> str:
    """Which list the ``video``-th video of a class goes to: first half train, then test1..3 in
    turn."""
    train = videos_per_class // 2
    return "train" if video < train else f"test{1 + (video - train) % TEST_SPLITS}"


def slug(classname: str) -> str:
    """File-system name of a class phrase."""
    return classname.replace(" ", "_")


def video_relpath(config: SynthConfig, label: int, video: int) -> str:
    """Path of a video relative to the benchmark root."""
    name = slug(config.classes[label])
    return f"videos/{name}/{name}_{video:03d}.mp4"


def _write_one(args: tuple[SynthConfig, Path, int, int]) -> None:
    from omnibench.data.mp4 import write_mp4  # noqa: PLC0415 (numpy, PIL: off the CLI's start)
    from omnibench.data.synth_frames import render_video  # noqa: PLC0415

    config, out, label, video = args
    write_mp4(
        out / video_relpath(config, label, video), render_video(config, label, video), config.fps
    )


def _write_annotations(config: SynthConfig, out: Path) -> None:
    lists: dict[str, list[str]] = {
        "train": [],
        **{f"test{k}": [] for k in range(1, TEST_SPLITS + 1)},
    }
    for label in range(len(config.classes)):
        for video in range(config.videos_per_class):
            lists[split_of(video, config.videos_per_class)].append(
                f"{video_relpath(config, label, video)} {label}\n"
            )
    for name, lines in lists.items():
        (out / f"{name}.txt").write_text("".join(lines), encoding="utf-8")
    labels = "".join(f"{label},{name}\n" for label, name in enumerate(config.classes))
    (out / "labels.csv").write_text("id,name\n" + labels, encoding="utf-8")
    (out / SYNTH_CONFIG_FILE).write_text(
        json.dumps(dataclasses.asdict(config), sort_keys=True, indent=1) + "\n"
    )


def _check_readable(path: Path, config: SynthConfig) -> None:
    """decord's batch reader fails on a few tiny frame sizes (e.g. 16, 24, 48, 72 px): refuse
    them."""
    from omnibench.data.video import BrokenVideoError, read_frames  # noqa: PLC0415

    try:
        shape = tuple(read_frames(path, [0, 1]).shape)
    except BrokenVideoError:
        raise OmniBenchError(
            f"decord cannot batch-read {config.size}x{config.size} "
            "videos; choose another --size (e.g. 64)"
        ) from None
    if shape != (2, 3, config.size, config.size):
        raise OmniBenchError(
            f"decord reads {config.size}x{config.size} frames as {shape}; choose another --size"
        )


def generate_synthetic(out: Path, config: SynthConfig = SynthConfig(), workers: int = 1) -> Path:
    """Write the benchmark into ``out`` (must not exist or be empty); atomic: temp dir + rename."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise OmniBenchError(f"{out} is not empty; choose another --out or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out.parent)  # what a killed generator left
    tmp = temp_path(out)
    # not mkdtemp: the benchmark's folders follow the umask (0700 would hide them from others)
    tmp.mkdir()
    try:
        jobs = [
            (config, tmp, label, v)
            for label in range(len(config.classes))
            for v in range(config.videos_per_class)
        ]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                list(pool.map(_write_one, jobs, chunksize=8))
        else:
            for job in jobs:
                _write_one(job)
        _check_readable(tmp / video_relpath(config, 0, 0), config)
        _write_annotations(config, tmp)
        os.replace(tmp, out)  # replaces an empty ``out``; fails if another process got there first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def is_complete(root: Path) -> bool:
    """Whether ``root`` holds a finished benchmark (annotations are written last, then renamed)."""
    return all(
        (root / name).is_file()
        for name in ("labels.csv", "train.txt", "test1.txt", SYNTH_CONFIG_FILE)
    )


def ensure_synthetic(root: Path, config: SynthConfig = SynthConfig()) -> Path:
    """Generate the benchmark at ``root`` unless it is there; safe when several processes race."""
    root = Path(root)
    if is_complete(root):
        return root
    if root.exists() and any(root.iterdir()):
        raise OmniBenchError(
            f"synthetic data root {root} exists but holds no labels.csv/train.txt; remove it"
        )
    print(
        f"omnibench: generating the synthetic benchmark into {root} (first use: "
        f"{len(config.classes) * config.videos_per_class} videos)",
        file=sys.stderr,
        flush=True,
    )
    try:
        generate_synthetic(root, config, workers=1)
    except (OSError, OmniBenchError):
        if not is_complete(root):  # lost a race only if the winner finished
            raise
    return root
