"""Video data: annotation formats, dataset adapters, sampling, transforms, decord reading,
the synthetic motion benchmark and split overlap.

``omnibench.compat`` is imported first: torchvision (used by the transforms) needs it on
machines where its C++ extension cannot load.
"""
from omnibench.compat import ensure_torchvision_ops

ensure_torchvision_ops()

from omnibench.data.check import check_records  # noqa: E402
from omnibench.data.datasets import DATASETS, DatasetAdapter, get_dataset  # noqa: E402
from omnibench.data.overlap import OverlapReport, compare, compare_lists  # noqa: E402
from omnibench.data.records import Split, VideoRecord  # noqa: E402
from omnibench.data.roots import DataLocation, locate, resolve_root  # noqa: E402
from omnibench.data.sampling import sample_test_indices, sample_train_indices, spatial_crop_offsets  # noqa: E402
from omnibench.data.synth import MOTIONS, SynthConfig, ensure_synthetic, generate_synthetic  # noqa: E402
from omnibench.data.transforms import VideoTransform, build_transform  # noqa: E402
from omnibench.data.video import BrokenVideoError, VideoClipDataset, collate_clips, read_frames  # noqa: E402

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
