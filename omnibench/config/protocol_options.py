"""Options of each protocol (``spec.protocol_options``), validated with ``spec.validate_options``.

Kept free of torch so suites can be checked quickly. ``None`` split names mean the
dataset's default: the first ``train*`` split for training, the first ``test*`` split
(else ``val``) for evaluation, i.e. split 1 of HMDB51 / UCF101 as in the papers.
"""

from __future__ import annotations

import dataclasses

from omnibench.config.spec import SpecError


def _positive(value: int, key: str) -> None:
    if value < 1:
        raise SpecError(f"protocol_options.{key}: must be >= 1, got {value}")


@dataclasses.dataclass(frozen=True)
class SupervisedOptions:
    """Train on a dataset's training split, evaluate the last epoch on its test split."""

    train_split: str | None = None
    eval_split: str | None = None


@dataclasses.dataclass(frozen=True)
class FewShotOptions:
    """K videos per class drawn from the training split (seed ``data_seed``) or read from a list
    file."""

    shots: int = 16
    train_split: str | None = None
    eval_split: str | None = None
    shots_file: str | None = None  # ViFi-CLIP style "name label" list (train1_few_shot_K.txt)

    def __post_init__(self) -> None:
        _positive(self.shots, "shots")


@dataclasses.dataclass(frozen=True)
class EvalOnlyOptions:
    """Evaluate without training on each target's test splits with its full class list."""

    targets: tuple[str, ...] = ()  # () = the spec's dataset
    splits: tuple[str, ...] = ()  # () = every test* split of a target (else val)
    half_classes: bool = False  # also evaluate on random halves of the classes
    half_class_repeats: int = 10
    novel_targets: tuple[str, ...] = (
        "k600",
    )  # targets evaluated on the classes absent from novel_reference
    novel_reference: str = "k400"
    subsets: int = 3  # ... in this many seeded random subsets
    subset_classes: int = 160  # ... of this many classes (X-CLIP supp. §3.4, ViFi-CLIP app. D)
    weights_from: str | None = (
        None  # "suite/run_id": a finished run of the same store lends its trained weights
    )

    def __post_init__(self) -> None:
        for key in ("half_class_repeats", "subsets", "subset_classes"):
            _positive(getattr(self, key), key)


@dataclasses.dataclass(frozen=True)
class ZeroShotOptions(EvalOnlyOptions):
    """Train on the spec's dataset (K400), then evaluate on unseen targets as
    :class:`EvalOnlyOptions`."""

    targets: tuple[str, ...] = ("hmdb51", "ucf101")
    train_split: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weights_from is not None:
            raise SpecError(
                "protocol_options.weights_from: only eval_only runs evaluate another run's weights"
            )


@dataclasses.dataclass(frozen=True)
class BaseToNovelOptions:
    """ViFi-CLIP base-to-novel: K shots of the base (most frequent) half of the classes."""

    shots: int = 16
    train_split: str | None = None
    eval_split: str | None = None
    shots_file: str | None = None  # ViFi-CLIP fs_base_s{1,2,3}_train.txt
    base_classes_file: str | None = (
        None  # an "id,name" CSV naming the base classes (ViFi-CLIP *_base_labels.csv)
    )

    def __post_init__(self) -> None:
        _positive(self.shots, "shots")
