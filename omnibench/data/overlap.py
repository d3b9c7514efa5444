"""Overlap between a training list and an evaluation list (the leakage check).

Exact overlap counts file names present in both lists. Group overlap counts evaluation
videos cut from the same source as some training video: UCF101 names clips
``v_<Class>_g<NN>_c<MM>`` (group ``NN`` = one source video), HMDB51 names them
``<source title>_<class>_<body>_<camera>_<people>_<view>_<quality>_<n>`` (same prefix =
same source clip). The official splits keep groups apart; random re-splits often do not.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from omnibench.data.formats import read_lines

UCF_NAME = re.compile(r"^v_(?P<cls>[A-Za-z0-9]+)_g(?P<group>\d+)_c\d+$")
HMDB_NAME = re.compile(
    r"^(?P<source>.+)_[fhlu]_(?:cm|nm)_np\d+_(?:fr|ba|le|ri)_(?:bad|med|goo)_\d+$"
)


@dataclasses.dataclass(frozen=True)
class OverlapReport:
    """Exact and source-group overlap of an evaluation list (B) with a training list (A)."""

    videos_a: int
    videos_b: int
    overlap: int  # distinct file names in both lists
    shared_files: tuple[str, ...]
    group_scheme: str | None  # "ucf101", "hmdb51" or None when names follow neither
    group_overlap: int  # videos of B whose source group also has a video in A
    shared_groups: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (``overlap`` = exact file matches)."""
        return dataclasses.asdict(self) | {"shared_files": list(self.shared_files)}


def video_name(entry: str) -> str:
    """File name of a list entry (``Class/v_x.avi 3`` or ``v_x.avi``), without folders."""
    parts = entry.rsplit(maxsplit=1)
    path = parts[0] if len(parts) == 2 and parts[1].lstrip("-").isdigit() else entry
    return PurePosixPath(path.replace("\\", "/")).name


def source_group(name: str) -> tuple[str, str] | None:
    """``(scheme, group)`` for a UCF101 or HMDB51 clip name, else None."""
    stem = PurePosixPath(name).stem
    if match := UCF_NAME.match(stem):
        return "ucf101", f"{match['cls']}_g{int(match['group']):02d}"
    if match := HMDB_NAME.match(stem):
        return "hmdb51", match["source"]
    return None


def read_list_names(path: Path) -> list[str]:
    """Video file names of a list file (any format whose first field is the video path)."""
    return [video_name(text) for _, text in read_lines(path)]


def compare(names_a: Iterable[str | Path], names_b: Iterable[str | Path]) -> OverlapReport:
    """Overlap of evaluation videos ``names_b`` with training videos ``names_a`` (paths or
    names)."""
    a = [PurePosixPath(str(n)).name for n in names_a]
    b = [PurePosixPath(str(n)).name for n in names_b]
    shared = sorted(set(a) & set(b))
    groups_a = {g for g in map(source_group, a) if g is not None}
    groups_b = [source_group(name) for name in b]
    hits = [g for g in groups_b if g is not None and g in groups_a]
    schemes = {g[0] for g in groups_b if g is not None} | {g[0] for g in groups_a}
    return OverlapReport(
        videos_a=len(set(a)),
        videos_b=len(set(b)),
        overlap=len(shared),
        shared_files=tuple(shared),
        group_scheme=schemes.pop() if len(schemes) == 1 else None,
        group_overlap=len(hits),
        shared_groups=len(set(hits)),
    )


def compare_lists(list_a: Path, list_b: Path) -> OverlapReport:
    """:func:`compare` on two list files."""
    return compare(read_list_names(list_a), read_list_names(list_b))
