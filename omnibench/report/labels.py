"""Display labels: model names, datasets, metrics and OmniCLIP ablation options as the papers print
them.

Row labels of the ablation tables are built from OmniCLIP's option values (``use_pta``,
``use_spg``, ``ratio``, ``pooling``, ``projector``, ``pta_blocks``, ``combination``), so
``ratio: 0.25`` reads "1/4" and ``pta_blocks: [1, 2, 3]`` reads "1-3" (1-based, as the paper
counts blocks), matching the published rows in ``published.yaml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from omnibench.models.declaration import DECLARED

DATASET_LABELS = {
    "k400": "K400",
    "k400-tiny": "K400-tiny",
    "k600": "K600",
    "ssv2": "SSv2",
    "hmdb51": "HMDB51",
    "ucf101": "UCF101",
    "synthetic": "Synthetic",
}
_DATASET_ALIASES = {
    "kinetics400": "k400",
    "kinetics": "k400",
    "k400": "k400",
    "kinetics400tiny": "k400-tiny",
    "k400tiny": "k400-tiny",
    "tinykinetics": "k400-tiny",
    "kinetics600": "k600",
    "k600": "k600",
    "ssv2": "ssv2",
    "somethingsomethingv2": "ssv2",
    "sthsthv2": "ssv2",
    "sthv2": "ssv2",
    "hmdb51": "hmdb51",
    "hmdb": "hmdb51",
    "ucf101": "ucf101",
    "ucf": "ucf101",
}
PRETRAINED_LABELS = {"openai": "CLIP-400M"}
PROTOCOL_LABELS = {
    "supervised": "Supervised",
    "few_shot": "Few-shot",
    "zero_shot": "Zero-shot",
    "eval_only": "No training",
    "base_to_novel": "Base-to-novel",
}
# OmniCLIP switches (Tables 7, 9, 11) by the words their option names contain.
_SWITCH_NAMES = {"pta": "PTA", "spg": "SPG"}
_POOLING = {"avg": "Avg.", "mean": "Avg.", "average": "Avg.", "max": "Max."}
_TUNES = {"both": "", "image": "image-FT", "text": "text-FT"}  # ViFi-CLIP variants (its Tables 1-4)
_COMBINATIONS = {
    "cascade": "Cascade",
    "attention_parallel": "Attention parallel",
    "attn_parallel": "Attention parallel",
    "block_parallel": "Block parallel",
    "parallel": "Block parallel",
}
CHECK, CROSS, DASH, PLUS_MINUS, TIMES, MINUS = "✓", "✗", "–", "±", "×", "−"
WITHIN_NOISE = "≈"  # a difference whose interval contains 0


def plural(count: int, noun: str) -> str:
    """``1 run``, ``3 runs``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def canonical_dataset(name: Any) -> Any:
    """The canonical short name of a dataset (``Kinetics-400`` -> ``k400``); unknown names
    unchanged."""
    if not isinstance(name, str):
        return name
    return _DATASET_ALIASES.get(re.sub(r"[^a-z0-9]", "", name.lower()), name)


def is_dataset_path(path: str) -> bool:
    """True for spec paths that hold a dataset name (``dataset``, ``eval.dataset``, ...)."""
    return path.rsplit(".", 1)[-1].endswith("dataset")


def canonical_value(path: str, value: Any) -> Any:
    """A hashable, comparable form of a spec value: datasets canonical, lists as tuples, ints for
    whole floats."""
    if isinstance(value, (list, tuple)):
        return tuple(canonical_value(path, v) for v in value)
    if is_dataset_path(path):
        return canonical_dataset(value)
    if (
        isinstance(value, float)
        and not math.isnan(value)
        and value.is_integer()
        and "ratio" not in path
    ):
        return int(value)
    return value


def model_label(name: str) -> str:
    """Display name of a registered model (``xclip`` -> "X-CLIP")."""
    return DECLARED.get(name).label if name in DECLARED else name


def dataset_label(name: Any) -> str:
    """Display name of a dataset (``hmdb51`` -> "HMDB51")."""
    canonical = canonical_dataset(name)
    return DATASET_LABELS.get(canonical, str(canonical))


def backbone_label(name: str) -> str:
    """open_clip model names as the papers print them: ``ViT-B-16`` -> "ViT-B/16"."""
    return re.sub(r"^(ViT-[A-Za-z]+)-(\d+)", r"\1/\2", name)


def pretrained_label(tag: Any) -> str:
    """The pre-training column: ``openai`` is CLIP's 400M image-text pairs."""
    if tag is None or (isinstance(tag, float) and math.isnan(tag)):
        return "none"
    return PRETRAINED_LABELS.get(str(tag), str(tag))


def fraction_label(value: float) -> str:
    """``0.25`` -> "1/4", ``1.0`` -> "1" (Table 8)."""
    return str(Fraction(value).limit_denominator(64))


def blocks_label(indices: Sequence[int]) -> str:
    """1-based block indices as ranges: ``(1, 2, 3)`` -> "1-3", ``(1, 2, 7)`` -> "1-2, 7"; empty ->
    "none" (Table 10)."""
    numbers = sorted(int(i) for i in indices)
    if not numbers:
        return "none"
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def value_label(path: str, value: Any) -> str:
    """How one spec value reads in a row label or column header."""
    key = path.rsplit(".", 1)[-1].lower()
    if value is None or (
        isinstance(value, float) and math.isnan(value)
    ):  # not set: the model's default
        return "all" if "blocks" in key else ""
    if path == "model.name":
        return model_label(str(value))
    if path == "protocol":
        return PROTOCOL_LABELS.get(str(value), str(value))
    if is_dataset_path(path):
        return dataset_label(value)
    if "shots" in key:
        return f"K={value}"
    if path == "model.backbone":
        return backbone_label(str(value))
    if path == "data.frames":
        return f"{value}f"
    return _option_label(key, value)


def _option_label(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return _switch_label(key, value)
    if "ratio" in key and isinstance(value, (int, float)):
        return fraction_label(float(value))
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return blocks_label(value)
    if isinstance(value, str):
        lowered = value.lower().replace("-", "_")
        if "pool" in key and lowered in _POOLING:
            return _POOLING[lowered]
        if key == "tune" and lowered in _TUNES:
            return _TUNES[lowered]
        if lowered in _COMBINATIONS:
            return _COMBINATIONS[lowered]
        return value
    return f"{value:g}" if isinstance(value, float) else str(value)


def _switch_label(key: str, on: bool) -> str:
    if "projector" in key:
        return "+ Projector" if on else ""
    name = next((label for word, label in _SWITCH_NAMES.items() if word in key), key)
    return f"{name} {CHECK if on else CROSS}"


def row_label(paths: Sequence[str], values: Sequence[Any]) -> str:
    """A row's label from its spec values, e.g. ``("omniclip",)`` -> "OmniCLIP", ``(True, False)``
    -> "PTA ✓ SPG ✗"."""
    parts = [value_label(path, value) for path, value in zip(paths, values)]
    return " ".join(part for part in parts if part) or "default"


def normalize_label(label: str) -> str:
    """Labels compared case- and spacing-insensitively ("Attention Parallel" == "attention
    parallel")."""
    return " ".join(label.casefold().split())
