"""Video models on open_clip backbones: OmniCLIP, X-CLIP, ViFi-CLIP (+ VL prompting), vanilla CLIP.

``omnibench.compat`` runs first: open_clip imports torchvision, which needs it on machines
where torchvision's C++ extension cannot load.
"""
import omnibench.compat  # noqa: F401  (its import runs the step; must precede torchvision)

from omnibench.models.base import VideoCLIPModel
from omnibench.models.registry import (
    MODELS, build_model, describe_models, model_options_class, register_model, validate_model_options,
)
from omnibench.models import omniclip, vanilla, vificlip, vlprompt, xclip  # noqa: F401  (registration)


def input_size(model: VideoCLIPModel) -> int:
    """The frame resolution ``model`` expects."""
    return model.image_size


__all__ = [
    "MODELS",
    "VideoCLIPModel",
    "build_model",
    "describe_models",
    "input_size",
    "model_options_class",
    "register_model",
    "validate_model_options",
]
