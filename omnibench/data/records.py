"""The two value types every other module exchanges: one annotated video and one split."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """One annotated video: where it is, its 0-based class id, and the annotation it came from."""

    path: Path
    label: int
    source: str  # "annotation_file:line"


@dataclasses.dataclass(frozen=True)
class Split:
    """The videos of one split of a dataset, with the class names used for text prompts."""

    dataset: str
    name: str
    records: tuple[VideoRecord, ...]
    classnames: tuple[str, ...]
    annotation_files: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def num_classes(self) -> int:
        """Number of classes of the dataset (not only those present in this split)."""
        return len(self.classnames)

    def class_counts(self) -> dict[int, int]:
        """Videos per class id, for every class id of the dataset (0 where absent)."""
        counts = Counter(record.label for record in self.records)
        return {label: counts.get(label, 0) for label in range(self.num_classes)}
