"""The leakage guard: a training list must share no video, and for HMDB51 / UCF101 no source
clip group, with any list the run evaluates on.

Runs before training. A finding refuses the run with one line naming the lists and the counts;
``allow_leakage: true`` in the spec runs anyway, and the record keeps the override and the counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omnibench.data.overlap import compare
from omnibench.data.records import Split
from omnibench.errors import OmniBenchError


class LeakageError(OmniBenchError):
    """Training and evaluation lists overlap."""


def _label(split: Split) -> str:
    return f"{split.dataset}/{split.name}"


def find_leakage(train: Split, evaluations: Sequence[Split]) -> list[dict[str, Any]]:
    """Overlap of each evaluation list with the training list (one entry per distinct evaluation
    list)."""
    train_paths = [record.path for record in train.records]
    seen: set[str] = set()
    findings = []
    for split in evaluations:
        if _label(split) in seen:
            continue
        seen.add(_label(split))
        report = compare(train_paths, [record.path for record in split.records])
        findings.append(
            {
                "train": _label(train),
                "eval": _label(split),
                "train_videos": report.videos_a,
                "eval_videos": report.videos_b,
                "shared_files": report.overlap,
                "group_scheme": report.group_scheme,
                "group_overlap": report.group_overlap,
                "shared_groups": report.shared_groups,
            }
        )
    return findings


def check_leakage(train: Split, evaluations: Sequence[Split], allow: bool) -> list[dict[str, Any]]:
    """:func:`find_leakage`, raising :class:`LeakageError` on any overlap unless ``allow``."""
    findings = find_leakage(train, evaluations)
    bad = [f for f in findings if f["shared_files"] or f["group_overlap"]]
    if bad and not allow:
        parts = "; ".join(
            (
                f"{f['eval']} ({f['eval_videos']} videos): {f['shared_files']} "
                f"shared files, {f['group_overlap']} videos "
                f"from {f['shared_groups']} shared source groups"
            )
            for f in bad
        )
        raise LeakageError(
            f"training list {bad[0]['train']} ({bad[0]['train_videos']} videos) overlaps {parts}; "
            "evaluate on the matching split, or set allow_leakage: true in the spec to run anyway "
            "(the override is recorded)"
        )
    return findings
