"""Video data: annotation formats, dataset adapters, sampling, transforms, decord reading,
the synthetic motion benchmark and split overlap.

The parts without torch or numpy load with the package, so that ``validate``, ``status`` and
``--dry-run`` start fast; frame sampling (numpy), transforms, video reading and record checks
(torch, torchvision, decord) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnibench.data.datasets import DATASETS, DatasetAdapter, get_dataset
from omnibench.data.overlap import OverlapReport, compare, compare_lists
from omnibench.data.records import Split, VideoRecord
from omnibench.data.roots import DataLocation, locate, resolve_root
from omnibench.data.synth import MOTIONS, SynthConfig, ensure_synthetic, generate_synthetic
from omnibench.registry import lazy_exports

if TYPE_CHECKING:
    from omnibench.data.check import check_records
    from omnibench.data.readable import BrokenVideoError
    from omnibench.data.sampling import (
        sample_test_indices,
        sample_train_indices,
        spatial_crop_offsets,
    )
    from omnibench.data.transforms import VideoTransform, build_transform
    from omnibench.data.video import VideoClipDataset, collate_clips, read_frames

_ON_FIRST_USE = {
    "check_records": "check",
    "VideoTransform": "transforms",
    "build_transform": "transforms",
    "BrokenVideoError": "readable",
    "sample_test_indices": "sampling",
    "sample_train_indices": "sampling",
    "spatial_crop_offsets": "sampling",
    "VideoClipDataset": "video",
    "collate_clips": "video",
    "read_frames": "video",
}


__getattr__ = lazy_exports(__name__, _ON_FIRST_USE)  # the torch side, imported on first use


__all__ = [
    "DATASETS",
    "MOTIONS",
    "BrokenVideoError",
    "DataLocation",
    "DatasetAdapter",
    "OverlapReport",
    "Split",
    "SynthConfig",
    "VideoClipDataset",
    "VideoRecord",
    "VideoTransform",
    "build_transform",
    "check_records",
    "collate_clips",
    "compare",
    "compare_lists",
    "ensure_synthetic",
    "generate_synthetic",
    "get_dataset",
    "locate",
    "read_frames",
    "resolve_root",
    "sample_test_indices",
    "sample_train_indices",
    "spatial_crop_offsets",
]
