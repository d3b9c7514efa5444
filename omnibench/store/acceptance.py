"""What counts as done: a run record omnibench stands behind, on the data the run read.

A run is *done* when its ``record.json`` exists, :func:`record_problems` finds nothing wrong
with it (some videos trained on and evaluated, every metric finite, no split with a larger share
of broken videos than the spec's ``max_skipped``) and :func:`changed_files` finds every
annotation file it read unchanged (sha256). A record with problems is never written by a run
(it fails instead); one written by an older omnibench counts as failed. A record whose files
changed, or that another revision of its model or protocol (or other option defaults) computed
(:mod:`omnibench.store.revisions`), is *stale*: ``omnibench run`` reruns it. Nothing here
imports torch.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omnibench.config.spec import DEFAULT_MAX_SKIPPED
from omnibench.errors import OmniBenchError
from omnibench.store.revisions import stale_reason
from omnibench.store.states import RunState


class UnusableRunError(OmniBenchError):
    """A run whose result omnibench cannot stand behind (no videos, too many broken, a non-finite
    metric)."""


@dataclasses.dataclass(frozen=True)
class Skipped:
    """Broken (skipped) videos of a run: training and evaluation, each of how many listed."""

    train: int = 0
    train_listed: int | None = None  # None: not recorded (records of older omnibench versions)
    eval: int = 0
    eval_listed: int = 0

    def __bool__(self) -> bool:
        return bool(self.train or self.eval)

    def text(self) -> str:
        """``"2/16 eval, 3/40 train"`` (only the parts with skipped videos)."""
        parts = [f"{self.eval}/{self.eval_listed} eval"] if self.eval else []
        if self.train:
            parts.append(
                f"{self.train}/{self.train_listed if self.train_listed is not None else '?'} train"
            )
        return ", ".join(parts)


def skipped(record: Mapping[str, Any] | None) -> Skipped:
    """The record's skipped videos (zeros for None)."""
    if not record:
        return Skipped()
    counts = record.get("skipped_videos") or {}
    evaluations = record.get("evaluations") or ()
    listed = sum(int(e.get("videos", 0)) + int(e.get("skipped", 0)) for e in evaluations)
    train = record.get("train") or {}
    return Skipped(
        int(counts.get("train", 0)), train.get("videos"), int(counts.get("eval", 0)), listed
    )


def share_text(count: int, listed: int) -> str:
    """``"2 of 16 (12.5%)"``."""
    return (
        f"{count} of {listed} ({100 * count / listed:.3g}%)" if listed else f"{count} of {listed}"
    )


def too_many_skipped(
    where: str,
    count: int,
    listed: int,
    limit: float,
    first: str | None = None,
    what: str = "skipped as broken",
) -> str | None:
    """The problem line when ``count`` of ``listed`` videos of ``where`` exceed the share ``limit``,
    else None."""
    if listed == 0 or count / listed <= limit:
        return None
    example = f"; first: {first}" if first else ""
    return (
        f"{where}: {share_text(count, listed)} videos {what}, more than max_skipped "
        f"{100 * limit:.3g}%{example}; fix the data or raise max_skipped in the suite"
    )


RECORD_SECTIONS = {  # what readers of a record use, and the JSON type each must have when present
    "spec": dict,
    "seeds": dict,
    "files": dict,
    "cost": dict,
    "skipped_videos": dict,
    "classes": list,
    "evaluations": list,
    "classes_per_dataset": dict,
}


def record_shape_problem(record: Mapping[str, Any], run_id: str | None = None) -> str | None:
    """Why ``record`` is not a run record at all (None: it is one): no run id, no numeric metrics,
    a section of the wrong type, another run's id. Such a file is *corrupt*, never done."""
    if not isinstance(record.get("run_id"), str):
        return "not a run record (no 'run_id')"
    if run_id is not None and record["run_id"] != run_id:
        return f"the record of run {record['run_id']}, not of run {run_id}"
    metrics = record.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return "not a run record (no 'metrics' mapping)"
    if not all(_is_number(v) for v in metrics.values()):
        return "not a run record ('metrics' holds values that are not numbers)"
    for key, kind in RECORD_SECTIONS.items():
        if record.get(key) is not None and not isinstance(record[key], kind):
            return f"not a run record ('{key}' is not a {'list' if kind is list else 'mapping'})"
    train = record.get("train")
    if train is not None and not isinstance(train, dict):
        return "not a run record ('train' is not a mapping)"
    counted = {
        "evaluations": (record.get("evaluations") or [], ("videos", "skipped", "nonfinite")),
        "train": ([train] if train else [], ("videos", "clips", "epochs")),
        "train.history": ((train or {}).get("history") or [], ("loss", "epoch")),
        "skipped_videos": ([record.get("skipped_videos") or {}], ("train", "eval")),
    }
    for where, (entries, fields) in counted.items():
        if not isinstance(entries, list) or not all(_counts(e, fields) for e in entries):
            return f"not a run record ('{where}' holds a value that is not a number)"
    return None


def _counts(entry: Any, fields: tuple[str, ...]) -> bool:
    """``entry`` is a mapping whose ``fields``, where present and set, are numbers."""
    return isinstance(entry, dict) and all(
        entry.get(f) is None or _is_number(entry[f]) for f in fields
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def record_problems(record: Mapping[str, Any]) -> list[str]:
    """Why a record's numbers cannot be stood behind (empty: none), most fundamental first."""
    limit = float((record.get("spec") or {}).get("max_skipped", DEFAULT_MAX_SKIPPED))
    return [
        *_train_problems(record, limit),
        *_eval_problems(record, limit),
        *_metric_problems(record),
    ]


def _train_problems(record: Mapping[str, Any], limit: float) -> list[str]:
    train = record.get("train") or {}
    if not train or not train.get("epochs"):
        return []
    where = f"training split {train.get('split', '')}".rstrip()
    count, listed = skipped(record).train, train.get("videos")
    if train.get("clips") == 0:
        return [
            f"{where}: trained on 0 videos ({share_text(count, listed or 0)} "
            "skipped as broken; see log.txt)"
        ]
    problems = [too_many_skipped(where, count, listed, limit, "see log.txt") if listed else None]
    diverged = [e for e in train.get("history") or () if not math.isfinite(e.get("loss", 0.0))]
    if diverged:
        problems.append(
            f"{where}: training diverged, loss {diverged[0]['loss']} "
            f"in epoch {diverged[0].get('epoch')}; "
            "lower optim.lr or use fp32"
        )
    return [p for p in problems if p]


def _eval_problems(record: Mapping[str, Any], limit: float) -> list[str]:
    problems = []
    for evaluation in record.get("evaluations") or ():
        where = f"{evaluation.get('dataset')}/{evaluation.get('split')}"
        videos, count = int(evaluation.get("videos", 0)), int(evaluation.get("skipped", 0))
        first = evaluation.get("first_skipped")
        if videos == 0:
            problems.append(
                f"{where}: 0 videos evaluated ({share_text(count, count)} skipped as broken"
                f"{f'; first: {first}' if first else ''})"
            )
        elif problem := too_many_skipped(where, count, videos + count, limit, first):
            problems.append(problem)
        if evaluation.get("nonfinite"):
            problems.append(
                f"{where}: the model's scores are not finite "
                f"for {evaluation['nonfinite']} of {videos} "
                "videos (a diverged model)"
            )
    return problems


def _metric_problems(record: Mapping[str, Any]) -> list[str]:
    metrics = record.get("metrics") or {}
    bad = [k for k, v in metrics.items() if isinstance(v, (int, float)) and not math.isfinite(v)]
    return [f"metric {', '.join(bad)} is not a number ({metrics[bad[0]]})"] if bad else []


def check_record(record: Mapping[str, Any]) -> None:
    """Raise :class:`UnusableRunError` with the first problem of ``record`` (see
    :func:`record_problems`)."""
    problems = record_problems(record)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise UnusableRunError(f"run {record.get('run_id')}: {problems[0]}{more}")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


# Cached by a call, not a decorator: mutation testing skips decorated functions.
_cached_digest = functools.lru_cache(maxsize=4096)(_digest)


def current_digest(path: str) -> str | None:
    """sha256 of the file at ``path`` now (None when it is not there); cached by size and mtime."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _cached_digest(path, stat.st_size, stat.st_mtime_ns)


def changed_files(files: Mapping[str, str]) -> list[str]:
    """The annotation files a run read (``record["files"]``: path -> sha256) whose content differs
    now (a file that is gone cannot be checked)."""
    changed = []
    for path, digest in files.items():
        now = current_digest(path)
        if now is not None and now != digest:
            changed.append(path)
    return changed


def record_verdict(record: Mapping[str, Any]) -> tuple[str, str | None]:
    """What the record alone says: ``("done", None)``, ``("failed", problem)`` or ``("stale",
    why)`` when another model or protocol revision or other option defaults computed it. It
    depends on the record and omnibench's code only (the store's index keeps it)."""
    problems = record_problems(record)
    if problems:
        return RunState.FAILED, f"record.json unusable: {problems[0]}"
    computed_elsewise = stale_reason(record)
    if computed_elsewise:
        return RunState.STALE, computed_elsewise
    return RunState.DONE, None


def files_verdict(files: Mapping[str, str]) -> tuple[str, str | None]:
    """``("stale", which files changed)`` when annotation files a run read have changed since,
    else ``("done", None)``."""
    changed = changed_files(files)
    if changed:
        return (
            RunState.STALE,
            f"annotation file(s) changed since the run: {', '.join(Path(p).name for p in changed)}",
        )
    return RunState.DONE, None


def verdict(record: Mapping[str, Any]) -> tuple[str, str | None]:
    """``("done", None)``, ``("failed", problem)`` or ``("stale", why)`` for a stored record: stale
    when another model or protocol revision or other option defaults computed it
    (:func:`record_verdict`), or when annotation files it read changed (:func:`files_verdict`)."""
    state, reason = record_verdict(record)
    if state != RunState.DONE:
        return state, reason
    return files_verdict(record.get("files") or {})
