"""open_clip backbones: loading by name with a pretrained tag or a local file (state dict or
TorchScript).

The tiny ``omnibench-*`` configs in ``configs/`` are registered through open_clip's own
config mechanism (``open_clip.add_model_config``), so ``open_clip.create_model`` and
``open_clip.get_tokenizer`` know them like any built-in architecture.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

import open_clip
from open_clip.model import CLIP, resize_pos_embed
from open_clip.transformer import QuickGELU, ResidualAttentionBlock, VisionTransformer
from torch import nn

from omnibench.errors import OmniBenchError
from omnibench.models.archive import archive_activation, archive_state_dict, load_archive
from omnibench.models.catalogue import CONFIG_DIR, pretrained_cfg, pretrained_tags
from omnibench.models.weights import (
    WeightsInfo,
    agree,
    check_weights_file,
    file_activation,
    is_torchscript,
    offline_hint,
    published_tag,
    random_init_activation,
)
from omnibench.registry import did_you_mean


@functools.cache
def register_tiny_configs() -> tuple[str, ...]:
    """Add ``configs/*.json`` to open_clip's model configs; return their names."""
    open_clip.add_model_config(CONFIG_DIR)
    return tuple(sorted(path.stem for path in CONFIG_DIR.glob("*.json")))


class Backbone(NamedTuple):
    """A loaded open_clip CLIP, its tokenizer and what the run record says about its weights."""

    clip: CLIP
    tokenizer: Any
    weights: WeightsInfo


def load_clip(
    backbone: str,
    pretrained: str | None,
    image_size: int | None = None,
    activation: str | None = None,
) -> Backbone:
    """The open_clip CLIP model, its tokenizer and :class:`WeightsInfo`.

    ``pretrained``: None (random init), an open_clip tag such as ``openai`` (hub or its
    cache), or a local file (state dict, safetensors or TorchScript archive). ``activation``
    (``quick_gelu`` / ``gelu``) states the blocks' activation where the weights do not
    (:mod:`omnibench.models.weights`). Every failure is one :class:`OmniBenchError` line.
    """
    register_tiny_configs()
    known = open_clip.list_models()
    if backbone not in known:
        hint = did_you_mean(backbone, known)
        raise OmniBenchError(f"unknown backbone '{backbone}'{hint}; see open_clip.list_models()")
    kwargs: dict[str, Any] = {} if image_size is None else {"force_image_size": image_size}
    clip, kind, source = _load(backbone, pretrained, activation, kwargs)
    if not isinstance(clip, CLIP):
        raise OmniBenchError(
            f"backbone '{backbone}' is not a plain CLIP "
            "model (custom text towers are not supported)"
        )
    check_vision_tower(clip.visual, backbone)
    path = Path(pretrained).expanduser() if pretrained is not None else None
    published = published_tag(backbone, path) if path is not None and path.is_file() else None
    weights = WeightsInfo(pretrained, kind, module_activation(clip), source, published)
    return Backbone(clip.float().eval(), tokenizer_for(backbone), weights)


def _load(
    backbone: str, pretrained: str | None, activation: str | None, kwargs: dict[str, Any]
) -> tuple[nn.Module, str, str]:
    """(model, kind of source, how the activation is known) for each kind of ``pretrained``."""
    if pretrained is None:
        chosen, source = random_init_activation(backbone, activation)
        return _create(backbone, chosen, kwargs), "random init", source
    path = Path(pretrained).expanduser()
    if path.is_file() and is_torchscript(path):
        return _load_archive(backbone, path, activation, kwargs)
    if path.is_file():
        check_weights_file(path)
        chosen, source = file_activation(backbone, path, activation)
        return (
            _load_file(backbone, path, _create(backbone, chosen, kwargs)),
            "state-dict file",
            source,
        )
    return _load_tag(backbone, pretrained, activation, kwargs)


@functools.cache
def tokenizer_for(backbone: str) -> Any:
    """open_clip's tokenizer for ``backbone`` (stateless, so one instance is shared)."""
    return open_clip.get_tokenizer(backbone)


@contextlib.contextmanager
def _quiet(level: int = logging.WARNING) -> Iterator[None]:
    """Silence open_clip's root-logger messages up to ``level`` (we raise our own one-line
    errors)."""
    logging.disable(level)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _create(backbone: str, activation: str, kwargs: dict[str, Any]) -> nn.Module:
    """A randomly initialised ``backbone`` whose blocks use ``activation``."""
    with _quiet():  # open_clip logs a warning for every random-init model
        return open_clip.create_model(
            backbone, pretrained=None, quick_gelu=activation == "quick_gelu", **kwargs
        )


def _load_archive(
    backbone: str, path: Path, activation: str | None, kwargs: dict[str, Any]
) -> tuple[nn.Module, str, str]:
    """A TorchScript archive (OpenAI's ``ViT-B-16.pt``): its activation is read from its modules."""
    archive = load_archive(path)
    found = archive_activation(archive)
    if found is None:
        chosen, source = file_activation(backbone, path, activation)
    else:
        chosen, source = (
            agree(found, f"TorchScript archive {path}", backbone, activation),
            "TorchScript archive modules",
        )
    clip = _create(backbone, chosen, kwargs)
    state = archive_state_dict(archive, clip)
    try:
        resize_pos_embed(state, clip)
        clip.load_state_dict(state, strict=True)
    except Exception as err:  # noqa: BLE001 - shape / key mismatches become one line
        raise OmniBenchError(
            f"cannot load TorchScript archive {path} into backbone '{backbone}': {_one_line(err)}"
        ) from None
    return clip, "TorchScript archive", source


def _load_file(backbone: str, path: Path, clip: nn.Module) -> nn.Module:
    """A state dict (``torch.save`` / safetensors, open_clip or OpenAI keys) loaded strictly into
    ``clip``."""
    try:
        with _quiet(logging.ERROR):
            open_clip.load_checkpoint(clip, str(path))
    except Exception as err:  # noqa: BLE001 - any loading failure becomes one user-facing line
        raise OmniBenchError(
            f"cannot load checkpoint file {path} into backbone '{backbone}': {_one_line(err)}"
        ) from None
    return clip


def _load_tag(
    backbone: str, tag: str, activation: str | None, kwargs: dict[str, Any]
) -> tuple[nn.Module, str, str]:
    """An open_clip pretrained tag, from its Hugging Face / URL cache; activation from open_clip's
    registry."""
    tags = pretrained_tags(backbone)
    if tag not in tags:
        raise OmniBenchError(
            f"model.pretrained '{tag}' is neither a file nor a known open_clip tag for '{backbone}'"
            f"{did_you_mean(tag, tags)}; known tags: {', '.join(tags) or 'none'}"
        )
    quick_gelu = bool(pretrained_cfg(backbone, tag).get("quick_gelu", False))
    agree("quick_gelu" if quick_gelu else "gelu", f"open_clip's tag '{tag}'", backbone, activation)
    try:
        with _quiet(logging.ERROR):
            clip = open_clip.create_model(
                backbone, pretrained=tag, force_quick_gelu=quick_gelu, **kwargs
            )
    except Exception as err:  # noqa: BLE001 - download / cache failures
        raise OmniBenchError(
            f"cannot load CLIP weights for backbone '{backbone}' with pretrained tag '{tag}' "
            "(not in the open_clip / Hugging Face cache and no "
            f"network: {_one_line(err)}); {offline_hint(backbone, tag)}"
        ) from None
    return clip, "open_clip tag", f"open_clip pretrained registry ({backbone}, {tag})"


def module_activation(clip: nn.Module) -> str:
    """The activation that the built model's blocks actually use."""
    kinds = {type(m) for m in clip.modules() if isinstance(m, (QuickGELU, nn.GELU))}
    if kinds == {QuickGELU}:
        return "quick_gelu"
    if kinds == {nn.GELU}:
        return "gelu"
    raise OmniBenchError(
        "backbone blocks mix or lack GELU / QuickGELU "
        f"activations: {sorted(k.__name__ for k in kinds)}"
    )


def _one_line(err: Exception, limit: int = 160) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_vision_tower(visual: Any, backbone: str) -> None:
    """The video encoders reuse a plain open_clip ViT: class token pooling, default blocks."""
    plain = (
        isinstance(visual, VisionTransformer)
        and visual.attn_pool is None
        and visual.pool_type == "tok"
        and visual.transformer.batch_first
        and all(isinstance(block, ResidualAttentionBlock) for block in visual.transformer.resblocks)
    )
    if not plain:
        raise OmniBenchError(
            f"backbone '{backbone}' is not a plain ViT with class-token pooling; "
            "use ViT-B-32, ViT-B-16, ViT-L-14 or an omnibench-tiny-* config"
        )


def tiny_backbones() -> tuple[str, ...]:
    """Names of the small configs shipped with omnibench (tests and the demo)."""
    return register_tiny_configs()
