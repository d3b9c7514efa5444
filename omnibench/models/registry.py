"""The model registry, built from the models' catalogue entries
(:mod:`omnibench.models.declaration`).

Each declared model's ``implementation`` is a :class:`~omnibench.models.base.VideoCLIPModel`
subclass whose constructor takes ``(clip, tokenizer, frames, options)``; ``options`` is an
instance of the options dataclass its declaration names, validated from ``ModelSpec.options``.
Importing this module imports every implementation (torch, open_clip).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

from omnibench.config.spec import ModelSpec, validate_options
from omnibench.models.declaration import DECLARED, ModelDeclaration
from omnibench.registry import Registry, load

if TYPE_CHECKING:
    from omnibench.models.base import VideoCLIPModel


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model: its class, options dataclass and one-line description."""

    name: str
    cls: type
    options: type
    description: str


def _entry(declaration: ModelDeclaration) -> ModelEntry:
    """The registered model of one catalogue entry, its implementation imported."""
    cls = load(declaration.implementation)
    cls.registry_name = declaration.name
    return ModelEntry(declaration.name, cls, declaration.options, declaration.description)


MODELS: Registry[ModelEntry] = Registry("model")
for _name in DECLARED.names():
    MODELS.register(_name)(_entry(DECLARED.get(_name)))


def validate_model_options(spec: ModelSpec, where: str = "<spec>") -> Any:
    """``spec.options`` checked against the model's options dataclass (did-you-mean on unknown
    keys)."""
    entry = MODELS.get(spec.name)
    return validate_options(entry.options, spec.options, where=f"{where}: model.options")


def build_model(
    spec: ModelSpec,
    frames: int,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
) -> VideoCLIPModel:
    """Build the model named by ``spec`` for clips of ``frames`` frames, on ``device``.

    ``spec.pretrained`` None gives random weights (tests, demo); ``image_size`` overrides
    the ``input_size`` option and the backbone's native resolution.
    """
    from omnibench.models.backbone import load_clip  # noqa: PLC0415

    entry = MODELS.get(spec.name)
    options = validate_model_options(spec, where=f"model '{spec.name}'")
    size = image_size if image_size is not None else options.input_size
    backbone = load_clip(
        spec.backbone, spec.pretrained, image_size=size, activation=options.activation
    )
    model = entry.cls(backbone.clip, backbone.tokenizer, frames, options)
    model.backbone_name = spec.backbone
    model.weights = backbone.weights
    return model.to(device)
