"""Video models on open_clip backbones: OmniCLIP, X-CLIP, ViFi-CLIP (+ VL prompting), vanilla CLIP.

Importing this package is cheap: it loads every model's torch-free declaration, its one
catalogue entry (each ``*_config.py`` here: name, label, options, the papers' defaults,
implementation; :mod:`omnibench.models.declaration`). The implementations (torch, open_clip)
load on first use of :data:`MODELS`, :func:`build_model`, :class:`VideoCLIPModel` or
:func:`validate_model_options`; every module that imports open_clip imports ``omnibench.compat``
first.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from omnibench.models.declaration import DECLARED, describe_models, model_options_class
from omnibench.registry import lazy_exports

for _module in pkgutil.iter_modules(__path__):
    if _module.name.endswith("_config"):  # a model's declaration
        importlib.import_module(f"{__name__}.{_module.name}")

__getattr__ = lazy_exports(
    __name__,
    {
        "MODELS": "registry",
        "build_model": "registry",
        "validate_model_options": "registry",
        "VideoCLIPModel": "base",
    },
)


def input_size(model: Any) -> int:
    """The frame resolution ``model`` (a :class:`VideoCLIPModel`) expects."""
    return int(model.image_size)


__all__ = [
    "DECLARED",
    "MODELS",
    "VideoCLIPModel",
    "build_model",
    "describe_models",
    "input_size",
    "model_options_class",
    "validate_model_options",
]
