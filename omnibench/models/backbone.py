"""open_clip backbones: loading by name with a pretrained tag or a local checkpoint file.

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
from typing import Any

import open_clip
from open_clip.model import CLIP
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean

CONFIG_DIR = Path(__file__).parent / "configs"


@functools.cache
def register_tiny_configs() -> tuple[str, ...]:
    """Add ``configs/*.json`` to open_clip's model configs; return their names."""
    open_clip.add_model_config(CONFIG_DIR)
    return tuple(sorted(path.stem for path in CONFIG_DIR.glob("*.json")))


def load_clip(backbone: str, pretrained: str | None, image_size: int | None = None) -> tuple[CLIP, Any]:
    """The open_clip CLIP model and its tokenizer.

    ``pretrained``: None (random init), an open_clip tag such as ``openai`` (hub or its
    cache), or a local checkpoint file. Every failure is one :class:`OmniBenchError` line.
    """
    register_tiny_configs()
    known = open_clip.list_models()
    if backbone not in known:
        hint = did_you_mean(backbone, known)
        raise OmniBenchError(f"unknown backbone '{backbone}'{hint}; see open_clip.list_models()")
    kwargs: dict[str, Any] = {} if image_size is None else {"force_image_size": image_size}
    if pretrained is None:
        with _quiet():  # open_clip logs a warning for every random-init model
            clip = open_clip.create_model(backbone, pretrained=None, **kwargs)
    elif Path(pretrained).expanduser().is_file():
        clip = _load_file(backbone, Path(pretrained).expanduser(), kwargs)
    else:
        clip = _load_tag(backbone, pretrained, kwargs)
    if not isinstance(clip, CLIP):
        raise OmniBenchError(f"backbone '{backbone}' is not a plain CLIP model (custom text towers are not supported)")
    check_vision_tower(clip.visual, backbone)
    return clip.float().eval(), tokenizer_for(backbone)


@functools.cache
def tokenizer_for(backbone: str) -> Any:
    """open_clip's tokenizer for ``backbone`` (stateless, so one instance is shared)."""
    return open_clip.get_tokenizer(backbone)


@contextlib.contextmanager
def _quiet(level: int = logging.WARNING) -> Iterator[None]:
    """Silence open_clip's root-logger messages up to ``level`` (we raise our own one-line errors)."""
    logging.disable(level)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _load_file(backbone: str, path: Path, kwargs: dict[str, Any]) -> CLIP:
    try:
        with _quiet(logging.ERROR):
            return open_clip.create_model(backbone, pretrained=str(path), **kwargs)
    except Exception as err:  # noqa: BLE001 - any loading failure becomes one user-facing line
        cause = _one_line(err)
        raise OmniBenchError(
            f"cannot load checkpoint file {path} into backbone '{backbone}': {cause} "
            "(OpenAI weights need a '-quickgelu' backbone name, e.g. ViT-B-16-quickgelu)"
        ) from None


def _load_tag(backbone: str, tag: str, kwargs: dict[str, Any]) -> CLIP:
    tags = open_clip.list_pretrained_tags_by_model(backbone)
    if tag not in tags:
        raise OmniBenchError(
            f"model.pretrained '{tag}' is neither a file nor a known open_clip tag for '{backbone}'"
            f"{did_you_mean(tag, tags)}; known tags: {', '.join(tags) or 'none'}"
        )
    quick_gelu = bool(open_clip.get_pretrained_cfg(backbone, tag).get("quick_gelu", False))
    try:
        with _quiet(logging.ERROR):
            return open_clip.create_model(backbone, pretrained=tag, force_quick_gelu=quick_gelu, **kwargs)
    except Exception as err:  # noqa: BLE001 - download / cache failures
        cause = _one_line(err)
        raise OmniBenchError(
            f"cannot load CLIP weights for backbone '{backbone}' with pretrained tag '{tag}' "
            f"(not in the open_clip / Hugging Face cache and no network: {cause}); "
            f"pass a local checkpoint file instead, e.g. model.pretrained: /path/to/{backbone}-{tag}.pt"
        ) from None


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
