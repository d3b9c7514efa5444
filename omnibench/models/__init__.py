"""Video models on open_clip backbones: OmniCLIP, X-CLIP, ViFi-CLIP (+ VL prompting), vanilla CLIP.

Importing this package is cheap: it loads each model's torch-free declaration (``*_config.py``:
options, description, the papers' defaults per protocol; :mod:`omnibench.models.declaration`).
The implementations (torch, open_clip) load on first use of :data:`MODELS`, :func:`build_model`,
:class:`VideoCLIPModel`, :func:`register_model` or :func:`validate_model_options`; every module
that imports open_clip imports ``omnibench.compat`` first.
"""

from __future__ import annotations

import importlib
from typing import Any

from omnibench.models import (  # noqa: F401  (declarations)
    omniclip_config,
    vanilla_config,
    vificlip_config,
    vlprompt_config,
    xclip_config,
)
from omnibench.models.declaration import DECLARED, describe_models, model_options_class

_IMPLEMENTED = {
    "MODELS": "registry",
    "build_model": "registry",
    "register_model": "registry",
    "validate_model_options": "registry",
    "VideoCLIPModel": "base",
}
_IMPLEMENTATIONS = ("omniclip", "vanilla", "vificlip", "vlprompt", "xclip")


def __getattr__(name: str) -> Any:
    """The torch side, imported (with every model's registration) on first use."""
    if name not in _IMPLEMENTED:
        raise AttributeError(f"module 'omnibench.models' has no attribute '{name}'")
    for module in _IMPLEMENTATIONS:
        importlib.import_module(f"omnibench.models.{module}")
    return getattr(importlib.import_module(f"omnibench.models.{_IMPLEMENTED[name]}"), name)


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
    "register_model",
    "validate_model_options",
]
