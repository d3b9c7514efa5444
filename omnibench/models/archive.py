"""OpenAI's TorchScript archives (``ViT-B-16.pt`` as the ``clip`` package caches it): reading one,
the activation its modules name, and its weights for an open_clip model."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from omnibench.errors import OmniBenchError

OPENAI_ARCHIVE_EXTRAS = ("input_resolution", "context_length", "vocab_size")  # not weights


def load_archive(path: Path) -> torch.jit.ScriptModule:
    """The TorchScript module in ``path``, on the CPU (a one-line error if it cannot be read)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # torch.jit.load: still how OpenAI's files load
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as err:  # noqa: BLE001 - any reading failure becomes one user-facing line
        raise OmniBenchError(
            f"cannot read TorchScript archive {path}: {' '.join(str(err).split())[:160]}"
        ) from None


def archive_activation(archive: torch.jit.ScriptModule) -> str | None:
    """``quick_gelu`` / ``gelu`` from the class names of the archive's modules; None if it has
    neither."""
    names = {module.original_name for _, module in archive.named_modules()}
    if "QuickGELU" in names:
        return "quick_gelu"
    return "gelu" if "GELU" in names else None


def archive_state_dict(
    archive: torch.jit.ScriptModule, model: nn.Module
) -> dict[str, torch.Tensor]:
    """The archive's weights for ``model``: without OpenAI's non-weight entries (resolution, context
    length, vocabulary) and without what ``model`` keeps as non-persistent buffers (e.g.
    ``attn_mask``: an archive stores every buffer)."""
    transient = set(dict(model.named_buffers())) - set(model.state_dict())
    skip = transient.union(OPENAI_ARCHIVE_EXTRAS)
    return {key: value for key, value in archive.state_dict().items() if key not in skip}
