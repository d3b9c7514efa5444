"""Dataset adapters: each reads the annotation files users download and names its classes.

Registered names: ``hmdb51``, ``ucf101``, ``k400``, ``k600``, ``ssv2``, ``list`` (the generic
X-CLIP / ViFi-CLIP list format) and ``synthetic`` (the embedded motion benchmark).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from omnibench.data import formats
from omnibench.data.records import Split, VideoRecord
from omnibench.data.roots import DataLocation, check_location, load_config, locate, require_dir
from omnibench.data.synth import (
    DIRECTION_CLASSES,
    DIRECTIONS_VIDEOS_PER_CLASS,
    SYNTH_CONFIG_FILE,
    SynthConfig,
    ensure_synthetic,
)
from omnibench.errors import OmniBenchError, UnknownNameError
from omnibench.registry import Registry, did_you_mean

Rows = Sequence[tuple[str, int, str]]  # (relative video path, label, "file:line")
# The label ids every HMDB51 codebase uses (X-CLIP and ViFi-CLIP label files): alphabetical,
# except "kick ball" before "kick" and "sword exercise" before "sword".
HMDB51_FOLDERS = (
    "brush_hair cartwheel catch chew clap climb climb_stairs "
    "dive draw_sword dribble drink eat fall_floor fencing "
    "flic_flac golf handstand hit hug jump kick_ball kick "
    "kiss laugh pick pour pullup punch push pushup ride_bike "
    "ride_horse run shake_hands shoot_ball shoot_bow shoot_gun "
    "sit situp smile smoke somersault stand swing_baseball "
    "sword_exercise sword talk throw turn walk wave"
).split()


class DatasetAdapter(ABC):
    """Reads one dataset's splits. Subclasses implement ``split_names`` and ``_load``."""

    name: str = ""
    num_splits: ClassVar[int] = 1
    # False where omnibench's own labels say left/right (synthetic). SSv2 flips as OmniCLIP's
    # Table 1 and ViFi-CLIP's pipeline do, though some of its classes name a direction;
    # data.hflip: false turns it off (docs/FIDELITY.md).
    allows_hflip: ClassVar[bool] = True
    video_dirs: ClassVar[tuple[str, ...]] = ()  # sub-folders of the root that may hold the videos

    def __init__(
        self,
        root: Path,
        videos: Path | None = None,
        setting: str = "the root argument",
        name: str = "",
    ) -> None:
        self.name = name or self.name
        self.setting = setting
        self.root = require_dir(Path(root), f"data root of '{self.name}'", setting)
        self.videos = Path(videos) if videos else self._default_videos()
        self._cache: dict[str, Split] = {}

    def _default_videos(self) -> Path:
        return next((self.root / d for d in self.video_dirs if (self.root / d).is_dir()), self.root)

    @abstractmethod
    def split_names(self) -> list[str]:
        """Names accepted by :meth:`load_split`."""

    @abstractmethod
    def _load(self, name: str) -> Split:
        """Parse split ``name`` (already checked to be one of :meth:`split_names`)."""

    def companion_files(self) -> list[Path]:
        """Files besides the annotation files that reading the root needs (``prepare`` copies
        them)."""
        return []

    def load_split(self, name: str) -> Split:
        """The records and class names of split ``name``."""
        if name not in self._cache:
            names = self.split_names()
            if name not in names:
                raise UnknownNameError(
                    f"unknown split '{name}' of "
                    f"{self.name}{did_you_mean(name, names)}; known: {', '.join(names)}"
                )
            self._cache[name] = self._load(name)
        return self._cache[name]

    def _check_k(self, k: int) -> None:
        if not 1 <= k <= self.num_splits:
            raise OmniBenchError(f"{self.name} has split numbers 1..{self.num_splits}, got {k}")

    def train_split(self, k: int = 1) -> str:
        """Name of the k-th official training split."""
        self._check_k(k)
        return f"train{k}" if self.num_splits > 1 else "train"

    def test_split(self, k: int = 1) -> str:
        """Name of the k-th official test split."""
        self._check_k(k)
        return f"test{k}" if self.num_splits > 1 else "val"

    def _split(
        self, name: str, rows: Rows, classnames: Sequence[str], files: Sequence[Path]
    ) -> Split:
        records = tuple(
            VideoRecord(self.videos / relpath, label, source) for relpath, label, source in rows
        )
        return Split(self.name, name, records, tuple(classnames), tuple(files))


DATASETS: Registry[type[DatasetAdapter]] = Registry("dataset")


@DATASETS.register("hmdb51")
class HMDB51(DatasetAdapter):
    """``testTrainMulti_7030_splits/<class>_test_split<k>.txt`` (1 train, 2 test); videos
    ``<class>/``."""

    name = "hmdb51"
    num_splits = 3
    video_dirs = ("videos", "hmdb51_org")

    def _annotations(self) -> Path:
        return require_dir(
            self.root / "testTrainMulti_7030_splits", "HMDB51 split folder", self.setting
        )

    def folders(self) -> list[str]:
        """Class folders in the usual label-id order (sorted names for a non-standard class set)."""
        files = self._annotations().glob("*_test_split1.txt")
        folders = sorted(f.name[: -len("_test_split1.txt")] for f in files)
        if not folders:
            raise OmniBenchError(
                f"no *_test_split1.txt files in {self._annotations()} (change {self.setting})"
            )
        return list(HMDB51_FOLDERS) if sorted(HMDB51_FOLDERS) == folders else folders

    def split_names(self) -> list[str]:
        return [f"{part}{k}" for k in range(1, 4) for part in ("train", "test")]

    def _load(self, name: str) -> Split:
        k, wanted = name[-1], 1 if name.startswith("train") else 2
        folders, rows, files = self.folders(), [], []
        for label, folder in enumerate(folders):
            path = formats.require_file(
                self._annotations() / f"{folder}_test_split{k}.txt", self.setting
            )
            rows += [
                (f"{folder}/{v}", lab, src)
                for v, lab, src in formats.parse_hmdb_split_file(path, label, wanted)
            ]
            files.append(path)
        return self._split(name, rows, [f.replace("_", " ") for f in folders], files)


@DATASETS.register("ucf101")
class UCF101(DatasetAdapter):
    """``ucfTrainTestlist/{classInd,trainlist0k,testlist0k}.txt``; videos ``<Class>/v_*.avi``."""

    name = "ucf101"
    num_splits = 3
    video_dirs = ("UCF-101", "videos")

    def split_names(self) -> list[str]:
        return [f"{part}{k}" for k in range(1, 4) for part in ("train", "test")]

    def _load(self, name: str) -> Split:
        folder = require_dir(
            self.root / "ucfTrainTestlist", "UCF101 ucfTrainTestlist folder", self.setting
        )
        class_index = formats.require_file(folder / "classInd.txt", self.setting)
        classes = formats.parse_ucf_class_index(class_index)
        path = formats.require_file(folder / f"{name[:-1]}list0{name[-1]}.txt", self.setting)
        rows = formats.parse_ucf_list(path, classes)
        return self._split(
            name, rows, [formats.camel_to_words(c) for c in classes], [class_index, path]
        )


class Kinetics(DatasetAdapter):
    """Official CSVs ``{train,val}.csv`` (in the root or ``annotations/``); videos
    ``<split>/[<label>/]<id>_<s>_<e>.mp4``."""

    csv_names: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": ("train.csv",),
        "val": ("val.csv", "validate.csv"),
    }

    def split_names(self) -> list[str]:
        return ["train", "val"]

    def _csv(self, split: str) -> Path:
        folders = (self.root, self.root / "annotations")
        return formats.first_file(
            [f / n for f in folders for n in self.csv_names[split]], self.setting
        )

    def classnames(self) -> tuple[str, ...]:
        """Sorted labels of the training CSV (of the validation CSV when there is no training
        CSV)."""
        try:
            path = self._csv("train")
        except formats.AnnotationError:
            path = self._csv("val")
        return tuple(sorted({label for label, _, _ in formats.parse_kinetics_csv(path)}))

    def _load(self, name: str) -> Split:
        path, classes = self._csv(name), self.classnames()
        index = {label: i for i, label in enumerate(classes)}
        split_dir = next((d for d in (name, "validate") if (self.videos / d).is_dir()), name)
        rows = []
        for label, filename, source in formats.parse_kinetics_csv(path):
            if label not in index:
                raise formats.AnnotationError(
                    f"{source}: unknown label '{label}' (not among the training CSV's classes)"
                )
            rows.append(
                (f"{split_dir}/{self._class_dir(split_dir, label)}{filename}", index[label], source)
            )
        return self._split(name, rows, classes, [path])

    def _class_dir(self, split_dir: str, label: str) -> str:
        for folder in (label, label.replace(" ", "_")):
            if (self.videos / split_dir / folder).is_dir():
                return folder + "/"
        return ""


@DATASETS.register("k400")
class Kinetics400(Kinetics):
    """Kinetics-400."""

    name = "k400"


@DATASETS.register("k600")
class Kinetics600(Kinetics):
    """Kinetics-600."""

    name = "k600"


@DATASETS.register("ssv2")
class SomethingSomethingV2(DatasetAdapter):
    """``labels.json`` + ``train.json`` / ``validation.json`` (also
    ``something-something-v2-*.json``); videos ``<id>.webm``."""

    name = "ssv2"
    video_dirs = ("20bn-something-something-v2", "videos")

    def split_names(self) -> list[str]:
        return ["train", "val"]

    def _json(self, stem: str) -> Path:
        names = (f"{stem}.json", f"something-something-v2-{stem}.json")
        return formats.first_file(
            [f / n for f in (self.root, self.root / "annotations") for n in names], self.setting
        )

    def _load(self, name: str) -> Split:
        labels = self._json("labels")
        split = self._json("train" if name == "train" else "validation")
        classes = formats.parse_ssv2_labels(labels)
        return self._split(name, formats.parse_ssv2_split(split, classes), classes, [labels, split])


@DATASETS.register("list")
class ListDataset(DatasetAdapter):
    """A folder of ``relpath label`` list files (split = file stem) and an ``id,name`` labels
    CSV."""

    name = "list"

    def labels_file(self) -> Path:
        """``labels.csv``, or the folder's only ``*.csv``."""
        if (self.root / "labels.csv").is_file():
            return self.root / "labels.csv"
        found = sorted(self.root.glob("*.csv"))
        if len(found) != 1:
            detail = "none" if not found else ", ".join(p.name for p in found)
            raise OmniBenchError(
                f"{self.root}: need labels.csv or exactly one *.csv labels file, found {detail}"
            )
        return found[0]

    def split_names(self) -> list[str]:
        names = sorted(path.stem for path in self.root.glob("*.txt"))
        if not names:
            raise OmniBenchError(f"no *.txt list files in {self.root} (change {self.setting})")
        return names

    def _load(self, name: str) -> Split:
        labels, path = self.labels_file(), self.root / f"{name}.txt"
        classes = formats.parse_labels_csv(labels)
        return self._split(
            name, formats.parse_list_file(path, len(classes)), classes, [labels, path]
        )

    def _first(self, candidates: Sequence[str], what: str) -> str:
        names = self.split_names()
        found = next((c for c in candidates if c in names), None)
        if found is None:
            raise OmniBenchError(
                f"no {what} list among {', '.join(names)} in "
                f"{self.root}; expected one of {', '.join(candidates)}"
            )
        return found

    def train_split(self, k: int = 1) -> str:
        self._check_k(k)
        return self._first(["train", f"train{k}"], "training")

    def test_split(self, k: int = 1) -> str:
        self._check_k(k)
        return self._first([f"test{k}", f"val{k}", "test", "val", "validation"], "test")


@DATASETS.register("synthetic")
class SyntheticDataset(ListDataset):
    """The synthetic motion benchmark; generated (seed 0) at its root on first use."""

    name = "synthetic"
    num_splits = 3
    allows_hflip = False

    config: ClassVar[SynthConfig] = SynthConfig()

    def __init__(
        self,
        root: Path,
        videos: Path | None = None,
        setting: str = "the root argument",
        name: str = "",
    ) -> None:
        check_location(self.name, DataLocation(Path(root), videos, setting))
        ensure_synthetic(Path(root), self.config)
        super().__init__(root, videos, setting, name)

    def companion_files(self) -> list[Path]:
        return [self.root / SYNTH_CONFIG_FILE]

    def train_split(self, k: int = 1) -> str:
        self._check_k(k)
        return "train"

    def test_split(self, k: int = 1) -> str:
        self._check_k(k)
        return f"test{k}"


@DATASETS.register("synthetic-directions")
class SyntheticDirections(SyntheticDataset):
    """Left / right / up / down only, 192 videos per class: tiny temporal models learn it on CPU."""

    name = "synthetic-directions"
    config = SynthConfig(classes=DIRECTION_CLASSES, videos_per_class=DIRECTIONS_VIDEOS_PER_CLASS)


def get_dataset(
    name: str, root: Path | None = None, *, data_root: Path | None = None
) -> DatasetAdapter:
    """The adapter of dataset ``name``; ``root`` is its own folder, ``data_root`` the --data-root
    parent."""
    configured = load_config()
    if name not in DATASETS and name not in configured:
        raise UnknownNameError(DATASETS.unknown_message(name))
    if root is not None:
        location = DataLocation(
            Path(root),
            None,
            "the root argument",
            configured[name].format if name in configured else None,
        )
    else:
        location = locate(name, data_root)
    adapter = DATASETS.get(location.format or name)
    return adapter(location.root, location.videos, location.setting, name=name)
