"""Before a run trains: every split it uses lists videos that exist, within the spec's
``max_skipped``.

A list that names ``.avi`` files where the disk holds ``.mp4`` would otherwise train on nothing
and evaluate to ``nan``; a third of the videos missing would be found only after hours of
training. Existence is checked with a thread pool (network filesystems answer ``stat`` slowly).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from omnibench.config.spec import RunSpec
from omnibench.data import Split, VideoRecord
from omnibench.execution.acceptance import UnusableRunError, share_text, too_many_skipped

STAT_THREADS = 32


def missing_videos(split: Split) -> list[VideoRecord]:
    """The records of ``split`` whose video file does not exist, in list order."""
    with ThreadPoolExecutor(max_workers=min(STAT_THREADS, max(1, len(split)))) as pool:
        present = list(pool.map(os.path.isfile, (r.path for r in split.records)))
    return [record for record, ok in zip(split.records, present) if not ok]


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
    """Fail (one line: split, counts, first missing file, where it is listed) when ``split`` is
    unusable."""
    where = f"{split.dataset}/{split.name}"
    files = ", ".join(str(p) for p in split.annotation_files) or "its list"
    if not split.records:
        raise UnusableRunError(f"{where}: no videos listed in {files}")
    missing = missing_videos(split)
    if not missing:
        return
    first = missing[0]
    detail = f"{first.path} (listed at {first.source}; {look_alike(first.path)})"
    if len(missing) == len(split):
        raise UnusableRunError(
            f"{where}: none of the {len(split)} videos listed exists; first: {detail}"
        )
    if spec.strict:
        raise UnusableRunError(
            f"{where}: {share_text(len(missing), len(split))} listed videos are missing "
            f"and the spec is strict; first: {detail}"
        )
    problem = too_many_skipped(where, len(missing), len(split), spec.max_skipped, detail, "missing")
    if problem:
        raise UnusableRunError(problem)
