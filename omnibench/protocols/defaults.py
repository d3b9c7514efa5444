"""The papers' hyper-parameters per protocol, dataset and model, as spec defaults.

A suite (or the CLI) merges these *under* the values it sets, so every run's spec (and
therefore its ``run_id``) holds the numbers actually used, and any of them can be
overridden through ``optim.*``, ``data.*`` or ``protocol_options.*``:

    spec = RunSpec.from_dict(apply_defaults({"protocol": "few_shot", "dataset": "hmdb51"}))

Sources (../shared/papers, ../shared/reference/CONFIG_NOTES.md):
- OmniCLIP Table 1 (supervised: batch, LR, min LR, epochs, weight decay per dataset; warmup 5;
  8 frames; 4x3 test views, §4.1); §4: few-shot batch 8, 32 frames; zero-shot: K400, 32 frames,
  10 epochs. Values the paper does not state for few-shot / zero-shot / base-to-novel are taken
  from the setting it says it follows (X-CLIP: 50 few-shot epochs) and from its Table 1 LR.
- X-CLIP supplementary Table 1 (LR 8e-6 / 2e-6 / 8e-6, min LR = LR/100, batch 256 / 64 / 256,
  epochs 30 / 50 / 10, weight decay 0.001, 10x LR for new modules).
- ViFi-CLIP appendix B and its configs (supervised: batch 512, LR 2.2e-5, 16 frames, 4x3 views;
  few-shot and base-to-novel: batch 64, LR 2e-6, 50 / 11 epochs; zero-shot: 256, 8e-6, 10).
- ``batch_per_device``: the repositories' per-GPU batches (8 at 8 frames, 4 at 16-32 frames), with
  gradient accumulation up to the effective ``batch_size`` on however many GPUs a run gets.
This module imports no torch.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

Patch = dict[str, dict[str, Any]]

# OmniCLIP Table 1 (supervised), per dataset.
_OMNICLIP_SUPERVISED: dict[str, dict[str, Any]] = {
    "k400": {"batch_size": 256, "lr": 2e-3, "min_lr": 2e-5, "epochs": 50, "weight_decay": 0.003},
    "ssv2": {"batch_size": 256, "lr": 3.5e-3, "min_lr": 3.5e-5, "epochs": 50, "weight_decay": 0.01},
    "hmdb51": {"batch_size": 32, "lr": 2e-3, "min_lr": 2e-5, "epochs": 30, "weight_decay": 0.003},
    "ucf101": {"batch_size": 32, "lr": 2e-3, "min_lr": 2e-5, "epochs": 30, "weight_decay": 0.003},
}
_MULTI_VIEW = {"test_clips": 4, "test_crops": 3}

# protocol -> model family -> {"optim": ..., "data": ...}
_BY_MODEL: dict[str, dict[str, Patch]] = {
    "supervised": {
        "xclip": {"optim": {"batch_size": 256, "batch_per_device": 8, "lr": 8e-6, "epochs": 30, "weight_decay": 0.001,
                            "new_module_lr_mult": 10.0}, "data": {"frames": 8, **_MULTI_VIEW}},
        "vificlip": {"optim": {"batch_size": 512, "batch_per_device": 4, "lr": 2.2e-5, "epochs": 30,
                               "weight_decay": 0.001},
                     "data": {"frames": 16, **_MULTI_VIEW}},
    },
    "few_shot": {
        "omniclip": {"optim": {"batch_size": 8, "lr": 2e-3, "min_lr": 2e-5, "epochs": 50, "weight_decay": 0.003},
                     "data": {"frames": 32}},
        "xclip": {"optim": {"batch_size": 64, "batch_per_device": 4, "lr": 2e-6, "epochs": 50, "weight_decay": 0.001,
                            "new_module_lr_mult": 10.0}, "data": {"frames": 32}},
        "vificlip": {"optim": {"batch_size": 64, "batch_per_device": 4, "lr": 2e-6, "epochs": 50, "weight_decay": 0.001},
                     "data": {"frames": 32}},
    },
    "zero_shot": {
        "omniclip": {"optim": {"batch_size": 256, "batch_per_device": 4, "lr": 2e-3, "min_lr": 2e-5, "epochs": 10,
                                "weight_decay": 0.003},
                     "data": {"frames": 32}},
        "xclip": {"optim": {"batch_size": 256, "batch_per_device": 4, "lr": 8e-6, "epochs": 10, "weight_decay": 0.001,
                            "new_module_lr_mult": 10.0}, "data": {"frames": 32}},
        "vificlip": {"optim": {"batch_size": 256, "batch_per_device": 4, "lr": 8e-6, "epochs": 10, "weight_decay": 0.001},
                     "data": {"frames": 32}},
    },
    "base_to_novel": {
        "omniclip": {"optim": {"batch_size": 8, "lr": 2e-3, "min_lr": 2e-5, "epochs": 11, "weight_decay": 0.003},
                     "data": {"frames": 32}},
        "xclip": {"optim": {"batch_size": 64, "batch_per_device": 4, "lr": 2e-6, "epochs": 11, "weight_decay": 0.001,
                            "new_module_lr_mult": 10.0}, "data": {"frames": 32}},
        "vificlip": {"optim": {"batch_size": 64, "batch_per_device": 4, "lr": 2e-6, "epochs": 11, "weight_decay": 0.001},
                     "data": {"frames": 32}},
    },
    "eval_only": {"omniclip": {"optim": {"epochs": 0}, "data": {"frames": 32}}},
}
_IMAGENET_NORM = {"xclip", "vificlip"}  # both repositories normalise with ImageNet statistics


def _family(model: str) -> str:
    """Models without their own entry take OmniCLIP's (e.g. vanilla CLIP, VL prompting)."""
    return model if model in {"xclip", "vificlip"} else "omniclip"


def protocol_defaults(protocol: str, dataset: str, model: str = "omniclip") -> Patch:
    """Nested ``{"optim": {...}, "data": {...}}`` defaults for one run (empty for unknown protocols)."""
    family = _family(model)
    table = _BY_MODEL.get(protocol, {})
    patch = copy.deepcopy(table.get(family) or table.get("omniclip") or {"optim": {}, "data": {}})
    if protocol == "supervised" and family == "omniclip":
        row = _OMNICLIP_SUPERVISED.get(dataset, _OMNICLIP_SUPERVISED["k400"])
        patch = {"optim": {**row, "batch_per_device": 8}, "data": {"frames": 8, **_MULTI_VIEW}}
    patch["optim"].setdefault("warmup_epochs", 5.0)
    if family in _IMAGENET_NORM:
        patch["data"]["normalization"] = "imagenet"
    if protocol == "eval_only":
        patch["optim"]["epochs"] = 0
    return patch


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def apply_defaults(partial: Mapping[str, Any]) -> dict[str, Any]:
    """``partial`` (plain nested spec data) with the paper defaults filled in beneath it."""
    protocol, dataset = str(partial.get("protocol", "")), str(partial.get("dataset", ""))
    model = partial.get("model", {}).get("name", "omniclip") if isinstance(partial.get("model"), Mapping) else "omniclip"
    return _merge(protocol_defaults(protocol, dataset, str(model)), partial)


def flat_defaults(protocol: str, dataset: str, model: str = "omniclip") -> dict[str, Any]:
    """The same defaults as dotted spec paths (``{"optim.lr": 2e-3, ...}``), for path-based loaders."""
    patch = protocol_defaults(protocol, dataset, model)
    return {f"{section}.{key}": value for section, values in patch.items() for key, value in values.items()}
