"""Pieces of open_clip's ``VisionTransformer`` reused by the video encoders (no re-implementation:
these call the tower's own conv1, embeddings, ln_post and proj, and each block's own layers).
"""
from __future__ import annotations

import torch
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

from omnibench.models.attention import block_attention


def embed_patches(visual: VisionTransformer, frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) images -> (N, 1 + K, D) class + patch tokens with positional embeddings (before ln_pre)."""
    x = visual.conv1(frames).flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    return torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)


def class_embedding_out(visual: VisionTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """(N, L, D) last-layer tokens -> (N, E): ln_post of the class token, then proj."""
    pooled = visual.ln_post(tokens[:, 0])
    return pooled @ visual.proj if visual.proj is not None else pooled


def block_forward(
    block: ResidualAttentionBlock,
    x: torch.Tensor,
    bias: torch.Tensor | None = None,
    attention_branch: torch.Tensor | None = None,
) -> torch.Tensor:
    """One CLIP block on (N, L, D) tokens with its own weights.

    ``bias``: additive attention-logit bias; ``attention_branch``: a residual added beside the
    attention sub-layer (OmniCLIP's attention-parallel variant).
    """
    h = x + block.ls_1(block_attention(block.attn, block.ln_1(x), bias))
    if attention_branch is not None:
        h = h + attention_branch
    return h + block.ls_2(block.mlp(block.ln_2(h)))


def grid_size(visual: VisionTransformer) -> tuple[int, int]:
    """The patch grid (H/P, W/P)."""
    return int(visual.grid_size[0]), int(visual.grid_size[1])
