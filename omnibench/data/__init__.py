"""Video data: annotation formats, dataset adapters, sampling, transforms, decord reading,
the synthetic motion benchmark and split overlap.

``omnibench.compat`` is imported first: torchvision (used by the transforms) needs it on
machines where its C++ extension cannot load.
"""

import omnibench.compat  # noqa: F401  (its import runs the step; must precede torchvision)

from omnibench.data.check import check_records
from omnibench.data.datasets import DATASETS, DatasetAdapter, get_dataset
from omnibench.data.overlap import OverlapReport, compare, compare_lists
from omnibench.data.records import Split, VideoRecord
from omnibench.data.roots import DataLocation, locate, resolve_root
from omnibench.data.sampling import sample_test_indices, sample_train_indices, spatial_crop_offsets
from omnibench.data.synth import MOTIONS, SynthConfig, ensure_synthetic, generate_synthetic
from omnibench.data.transforms import VideoTransform, build_transform
from omnibench.data.video import BrokenVideoError, VideoClipDataset, collate_clips, read_frames

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
