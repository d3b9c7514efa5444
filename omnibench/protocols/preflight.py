"""Before a run trains: every split it uses lists videos that exist and open, within the spec's
``max_skipped``.

A list that names ``.avi`` files where the disk holds ``.mp4`` would otherwise train on nothing
and evaluate to ``nan``; a third of the videos missing, or a test video this user may not read,
would be found only after hours of training. Each video is probed from its first bytes and its
container's top-level structure (:mod:`omnibench.data.probe`: missing, unreadable, empty, a
truncated MP4 or AVI), with a thread pool (network filesystems answer slowly); a file in doubt
is opened by the decoder. A video that cannot be opened counts like a missing one: a run whose
share of them exceeds ``max_skipped`` fails at once; within it, they are skipped and counted as
broken.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from omnibench.config.spec import RunSpec
from omnibench.data import Split, VideoRecord
from omnibench.data.probe import NO_CONTAINER, video_problem
from omnibench.data.readable import MISSING
from omnibench.store.acceptance import UnusableRunError, share_text, too_many_skipped

STAT_THREADS = 32


def _probe(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a video (None: it can): from its first bytes and its
    container's structure; a container in doubt is opened by the decoder, which decides."""
    problem, doubt = video_problem(path)
    if problem is not None or doubt is None:
        return problem
    from omnibench.data.video import BrokenVideoError, open_video  # noqa: PLC0415 (torch)

    try:
        open_video(path)
    except BrokenVideoError as error:
        decoder = str(error).removeprefix(f"{path}: ")
        return decoder if doubt == NO_CONTAINER else f"cannot open: {doubt}"
    return None


def unopenable_videos(split: Split) -> list[tuple[VideoRecord, str]]:
    """``(record, why)`` for each video of ``split`` that is missing or cannot be opened, in list
    order."""
    with ThreadPoolExecutor(max_workers=min(STAT_THREADS, max(1, len(split)))) as pool:
        problems = list(pool.map(_probe, (r.path for r in split.records)))
    return [(record, problem) for record, problem in zip(split.records, problems) if problem]


def unsearchable_folder(folder: Path) -> Path | None:
    """The first folder from the root down to ``folder`` that exists but this user may not enter."""
    for current in (*reversed(folder.parents), folder):
        if not os.path.isdir(current):
            return None
        if not os.access(current, os.X_OK):
            return current
    return None


def look_alike(path: Path) -> str:
    """What the disk holds instead of ``path``: same name, other extension, or the missing
    folder."""
    blocked = unsearchable_folder(path.parent)
    if blocked is not None:
        return f"permission denied: folder {blocked} cannot be entered by this user"
    if not path.parent.is_dir():
        return f"folder {path.parent} does not exist"
    others = sorted(p.name for p in path.parent.glob(f"{path.stem}.*") if p != path)
    if others:
        return (
            f"the folder has {', '.join(others[:3])}: the list names "
            f"'{path.suffix}', the disk '{Path(others[0]).suffix}'"
        )
    return "no file of that name in its folder"


def check_split_files(split: Split, spec: RunSpec) -> None:
    """Fail (one line: split, counts, first missing or unreadable file, where it is listed) when
    ``split`` is unusable."""
    where = f"{split.dataset}/{split.name}"
    files = ", ".join(str(p) for p in split.annotation_files) or "its list"
    if not split.records:
        raise UnusableRunError(f"{where}: no videos listed in {files}")
    broken = unopenable_videos(split)
    if not broken:
        return
    first, why = broken[0]
    reason = look_alike(first.path) if why == MISSING else why
    detail = f"{first.path} (listed at {first.source}; {reason})"
    missing_only = all(problem == MISSING for _, problem in broken)
    what = "missing" if missing_only else "missing or unreadable"
    if len(broken) == len(split):
        verb = "exists" if missing_only else "can be opened"
        raise UnusableRunError(
            f"{where}: none of the {len(split)} videos listed {verb}; first: {detail}"
        )
    if spec.strict:
        raise UnusableRunError(
            f"{where}: {share_text(len(broken), len(split))} listed videos are {what} "
            f"and the spec is strict; first: {detail}"
        )
    problem = too_many_skipped(where, len(broken), len(split), spec.max_skipped, detail, what)
    if problem:
        raise UnusableRunError(problem)
