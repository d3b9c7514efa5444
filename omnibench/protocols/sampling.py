"""Seeded draws of the protocols: K shots per class, class subsets, base/novel halves.

Every draw is a pure function of (data seed, class) or (data seed, draw number), so the
same seed gives the same videos on any machine, and drawing K=16 does not depend on
having drawn K=2 first (each class has one seeded permutation; K shots are its first K,
so smaller K are nested in larger K).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from omnibench.data.formats import parse_list_line, read_lines
from omnibench.data.overlap import video_name
from omnibench.data.records import Split, VideoRecord
from omnibench.errors import OmniBenchError, where


def _rng(*parts: int) -> np.random.Generator:
    return np.random.default_rng([int(p) for p in parts])


def _with_records(
    split: Split, name: str, records: Sequence[VideoRecord], files: Sequence[Path] = ()
) -> Split:
    return Split(
        split.dataset,
        name,
        tuple(records),
        split.classnames,
        tuple(split.annotation_files) + tuple(files),
    )


def _by_class(split: Split) -> dict[int, list[int]]:
    by_class: dict[int, list[int]] = defaultdict(list)
    for position, record in enumerate(split.records):
        by_class[record.label].append(position)
    return by_class


def too_few_videos(split: Split, shots: int) -> str | None:
    """Why ``shots`` videos cannot be drawn from every class of ``split`` (None: they can)."""
    by_class = _by_class(split)
    short = [(c, len(by_class[c])) for c in range(split.num_classes) if len(by_class[c]) < shots]
    if not short:
        return None
    label, count = short[0]
    return (
        f"{split.dataset}/{split.name}: {len(short)} of its "
        f"{split.num_classes} classes have fewer than {shots} "
        f"videos (e.g. '{split.classnames[label]}' has {count}); lower protocol_options.shots"
    )


def sample_k_shot(split: Split, shots: int, seed: int) -> Split:
    """Exactly ``shots`` videos of every class of ``split``: the first ``shots`` of a permutation
    seeded by (seed, class)."""
    problem = too_few_videos(split, shots)
    if problem is not None:
        raise OmniBenchError(problem)
    by_class = _by_class(split)
    chosen = sorted(
        by_class[c][i]
        for c in range(split.num_classes)
        for i in _rng(seed, c).permutation(len(by_class[c]))[:shots]
    )
    return _with_records(
        split, f"{split.name}-{shots}shot-seed{seed}", [split.records[i] for i in chosen]
    )


def limit_per_class(split: Split, limit: int) -> Split:
    """At most ``limit`` videos of every class, the first ones in list order (``--limit``: smoke
    runs)."""
    seen: dict[int, int] = defaultdict(int)
    kept = []
    for record in split.records:
        seen[record.label] += 1
        if seen[record.label] <= limit:
            kept.append(record)
    return Split(split.dataset, split.name, tuple(kept), split.classnames, split.annotation_files)


def read_shot_list(path: Path, split: Split) -> Split:
    """The videos of ``split`` named in a ViFi-CLIP style list (``name label`` lines), matched by
    file name.

    Labels come from ``split`` (the list's own ids may follow another class order).
    """
    by_name = {record.path.name: record for record in split.records}
    records = []
    for line, text in read_lines(path):
        name = video_name(parse_list_line(text, path, line)[0])
        if name not in by_name:
            raise OmniBenchError(
                f"{where(path, line)}: video '{name}' is not in {split.dataset}/{split.name}"
            )
        records.append(by_name[name])
    if not records:
        raise OmniBenchError(f"{path}: the shot list is empty")
    return _with_records(split, f"{split.name}-list-{path.stem}", records, [path])


def restrict_classes(split: Split, classes: Sequence[int], suffix: str) -> Split:
    """The videos of ``classes`` only, relabelled 0..len(classes)-1 in the given order, with their
    names."""
    position = {label: i for i, label in enumerate(classes)}
    records = tuple(
        VideoRecord(r.path, position[r.label], r.source)
        for r in split.records
        if r.label in position
    )
    names = tuple(split.classnames[c] for c in classes)
    return Split(split.dataset, f"{split.name}/{suffix}", records, names, split.annotation_files)


def sample_class_subsets(
    candidates: Sequence[int], subsets: int, size: int, seed: int
) -> list[tuple[int, ...]]:
    """``subsets`` random subsets of ``size`` classes from ``candidates``; subset ``s`` seeded by
    (seed, s)."""
    if size > len(candidates):
        raise OmniBenchError(
            f"cannot draw {size} classes from {len(candidates)}; "
            "lower protocol_options.subset_classes"
        )
    pool = np.asarray(sorted(candidates))
    return [
        tuple(sorted(pool[_rng(seed, s).choice(len(pool), size, replace=False)].tolist()))
        for s in range(subsets)
    ]


def normalize_classname(name: str) -> str:
    """Case, underscores and extra spaces ignored (K400 vs K600 spellings)."""
    return " ".join(name.replace("_", " ").lower().split())


def novel_classes(classnames: Sequence[str], reference: Sequence[str]) -> list[int]:
    """Ids of ``classnames`` absent from ``reference`` (e.g. the 220 K600 classes outside K400)."""
    known = {normalize_classname(n) for n in reference}
    return [i for i, name in enumerate(classnames) if normalize_classname(name) not in known]


def base_novel_classes(class_counts: dict[int, int]) -> tuple[list[int], list[int]]:
    """ViFi-CLIP's split: the most frequent ceil(C/2) classes are base (ties: lower id first), the
    rest novel."""
    order = sorted(class_counts, key=lambda c: (-class_counts[c], c))
    half = math.ceil(len(order) / 2)
    return sorted(order[:half]), sorted(order[half:])


def classes_named(split: Split, names: Sequence[str], source: str) -> list[int]:
    """Class ids of ``names`` in ``split`` (normalised names); unknown names are an error naming
    ``source``."""
    ids = {normalize_classname(n): i for i, n in enumerate(split.classnames)}
    missing = [n for n in names if normalize_classname(n) not in ids]
    if missing:
        raise OmniBenchError(
            f"{source}: {len(missing)} classes are not "
            f"classes of {split.dataset} (e.g. '{missing[0]}')"
        )
    return sorted(ids[normalize_classname(n)] for n in names)
