"""``omnibench data prepare``: re-encode a dataset's videos in several processes, resumably.

A video is *done* when the prepared root's log (``omnibench-prepared.jsonl``) has a line for it
whose source size and modification time are the source's now, and its prepared file exists
with the size that line gives. Each video is encoded under a temporary name and renamed into
place only when complete and read back by decord with the source's frame count; its log line
is appended after the rename. So a killed prepare leaves no half-written file under a real
name, and the next call redoes only what has no line (temporary leftovers of dead writers are
removed). A source that changed since its line (size or mtime) is prepared again. A broken
source is logged as such and not retried while it stays unchanged. The marker
(``omnibench-prepared.json``) holds the source and settings: a root is prepared one way only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from omnibench.atomic import atomic_write_json, remove_leftovers, temp_path
from omnibench.data.encode import DecodeError, EncodeSettings, reencode
from omnibench.data.prepared import LOG_FILE, MARKER_FILE, PreparePlan, VideoJob, read_marker
from omnibench.data.readable import BrokenVideoError, check_readable
from omnibench.data.records import VideoRecord
from omnibench.errors import OmniBenchError

IN_FLIGHT_PER_WORKER = 2  # jobs queued per process: enough to keep each busy


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One video's result: its log line (``entry``) and, for a broken source, the reason."""

    entry: dict[str, Any]
    broken: str | None = None


@dataclasses.dataclass
class PrepareSummary:
    """What one call did: videos listed, already done, prepared now (of which sources changed),
    and the broken sources with their reasons."""

    listed: int
    already: int = 0
    prepared: int = 0
    changed: int = 0
    broken: list[tuple[VideoRecord, str]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Counts and the broken sources (annotation line, path, reason)."""
        return {
            "listed": self.listed,
            "already": self.already,
            "prepared": self.prepared,
            "changed": self.changed,
            "broken": [
                {"source": r.source, "path": str(r.path), "reason": why} for r, why in self.broken
            ],
        }


def _stamp(path: Path) -> dict[str, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return {"source_bytes": status.st_size, "source_mtime_ns": status.st_mtime_ns}


def prepare_video(job: VideoJob, settings: EncodeSettings) -> Outcome:
    """Re-encode one video into place (in a worker process); a broken source gives its reason."""
    stamp = _stamp(job.source)
    try:
        check_readable(job.source)
        job.target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(job.target)
        try:
            video = reencode(job.source, tmp, settings)
            _verify(tmp, video.frames, job.source)
            _fsync(tmp)
            os.replace(tmp, job.target)
        finally:
            tmp.unlink(missing_ok=True)
    except (BrokenVideoError, DecodeError) as error:
        return Outcome({"video": job.key, **(stamp or {}), "broken": str(error)}, str(error))
    except OSError as error:
        raise OmniBenchError(
            f"prepare: cannot write {job.target}: {error.strerror or error}"
        ) from None
    entry = {"video": job.key, **(stamp or {}), **dataclasses.asdict(video)}
    return Outcome(entry | {"bytes": job.target.stat().st_size})


def _verify(path: Path, frames: int, source: Path) -> None:
    """decord, the loader's reader, must count exactly the frames written."""
    import decord  # noqa: PLC0415

    counted = len(decord.VideoReader(str(path), num_threads=1))
    if counted != frames:
        raise OmniBenchError(
            f"prepare: {source}: decord counts {counted} frames in the prepared copy, {frames} "
            "were written"
        )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_log(root: Path) -> dict[str, dict[str, Any]]:
    """The last log line of each video (a line cut short by a kill is ignored)."""
    entries: dict[str, dict[str, Any]] = {}
    try:
        lines = (root / LOG_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return entries
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "video" in entry:
            entries[str(entry["video"])] = entry
    return entries


def _state(job: VideoJob, entry: dict[str, Any] | None) -> str:
    """``done``, ``broken`` (unchanged broken source), ``changed`` or ``new``."""
    if entry is None:
        return "new"
    stamp = _stamp(job.source)
    if stamp is None or any(entry.get(k) != v for k, v in stamp.items()):
        return "changed" if stamp is not None else "new"
    if "broken" in entry:
        return "broken"
    try:
        return "done" if job.target.stat().st_size == entry.get("bytes") else "new"
    except OSError:
        return "new"


def check_marker(plan: PreparePlan, settings: EncodeSettings) -> dict[str, Any]:
    """The marker to keep at the prepared root; refuses a root prepared from another source or
    with other settings."""
    wanted = {"source": str(plan.source_root), "dataset": plan.name, "settings": settings.to_dict()}
    found = read_marker(plan.out_root)
    if found is not None and any(found.get(k) != v for k, v in wanted.items()):
        raise OmniBenchError(
            f"prepare: {plan.out_root} holds videos prepared from {found.get('source')} with "
            f"{found.get('settings')}; choose another --out, or the same source and settings"
        )
    return {**(found or {}), **wanted}


def copy_files(plan: PreparePlan) -> None:
    """The annotation files, copied to their mirrored paths when missing or different."""
    for source, target in plan.files:
        if not target.is_file() or target.read_bytes() != source.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_path(target)
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)


def _results(
    jobs: list[VideoJob], settings: EncodeSettings, workers: int
) -> Iterator[tuple[VideoJob, Outcome]]:
    """Outcomes as they finish, at most ``IN_FLIGHT_PER_WORKER`` jobs queued per process."""
    if workers <= 1:
        yield from ((job, prepare_video(job, settings)) for job in jobs)
        return
    with ProcessPoolExecutor(workers) as pool:
        queue, running = iter(jobs), {}  # type: ignore[var-annotated]
        try:
            while True:
                while len(running) < workers * IN_FLIGHT_PER_WORKER:
                    job = next(queue, None)
                    if job is None:
                        break
                    running[pool.submit(prepare_video, job, settings)] = job
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()
        finally:
            for future in running:
                future.cancel()


def run_prepare(
    plan: PreparePlan,
    settings: EncodeSettings,
    workers: int = 1,
    on_outcome: Callable[[PrepareSummary], None] | None = None,
    on_start: Callable[[PrepareSummary, int], None] | None = None,
) -> PrepareSummary:
    """Prepare every video of ``plan`` that is not done; ``on_start(summary, todo)`` once the
    done ones are counted, ``on_outcome(summary)`` after each video."""
    marker = check_marker(plan, settings)
    summary, todo = _triage(plan)
    plan.out_root.mkdir(parents=True, exist_ok=True)
    copy_files(plan)
    if on_start is not None:
        on_start(summary, len(todo))
    if not todo and marker.get("complete"):
        return summary  # nothing to do: nothing written
    atomic_write_json(plan.out_root / MARKER_FILE, {**marker, "complete": False})
    for folder in {job.target.parent for job in todo}:
        remove_leftovers(folder)
    _prepare_all(plan.out_root / LOG_FILE, _results(todo, settings, workers), summary, on_outcome)
    order = {job.record: number for number, job in enumerate(plan.jobs)}
    summary.broken.sort(key=lambda item: order[item[0]])
    counts = {"listed": summary.listed, "broken": len(summary.broken), "updated": time.time()}
    atomic_write_json(plan.out_root / MARKER_FILE, {**marker, "complete": True, **counts})
    return summary


def _prepare_all(
    log_path: Path,
    results: Iterator[tuple[VideoJob, Outcome]],
    summary: PrepareSummary,
    on_outcome: Callable[[PrepareSummary], None] | None,
) -> None:
    """Log each outcome (after its file is in place) and count it into ``summary``."""
    with open(log_path, "a", encoding="utf-8") as log:
        for job, outcome in results:
            log.write(json.dumps(outcome.entry, sort_keys=True) + "\n")
            log.flush()
            if outcome.broken is not None:
                summary.broken.append((job.record, outcome.broken))
            else:
                summary.prepared += 1
            if on_outcome is not None:
                on_outcome(summary)


def _triage(plan: PreparePlan) -> tuple[PrepareSummary, list[VideoJob]]:
    """The summary so far (done and unchanged-broken videos) and the jobs left to do."""
    entries, summary, todo = read_log(plan.out_root), PrepareSummary(len(plan.jobs)), []
    for job in plan.jobs:
        state = _state(job, entries.get(job.key))
        if state == "done":
            summary.already += 1
        elif state == "broken":
            summary.broken.append((job.record, str(entries[job.key]["broken"])))
        else:
            summary.changed += state == "changed"
            todo.append(job)
    return summary, todo
