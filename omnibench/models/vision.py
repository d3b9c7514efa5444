"""Pieces of open_clip's ``VisionTransformer`` reused by the video encoders (no re-implementation:
these call the tower's own conv1, embeddings, ln_post and proj, and each block's own layers).
"""

from __future__ import annotations

from collections.abc import Callable

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

import torch
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

from omnibench.models.attention import block_attention


def embed_patches(visual: VisionTransformer, frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) images -> (N, 1 + K, D) class + patch tokens with positional embeddings (before
    ln_pre)."""
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
    branch: Callable[[torch.Tensor], torch.Tensor] | None = None,
    branch_beside_attention: bool = False,
) -> torch.Tensor:
    """One CLIP block on (N, L, D) tokens with its own weights.

    ``bias``: additive attention-logit bias per head and key (heads, L). ``branch``: a parallel
    module fed the block's ``ln_1`` output; its result is added beside the whole block
    (OmniCLIP's block-parallel PTA, Eq. 4) or, with ``branch_beside_attention``, beside the
    attention sub-layer only.
    """
    normed = block.ln_1(x)
    h = x + block.ls_1(block_attention(block.attn, normed, bias))
    extra = branch(normed) if branch is not None else None
    if extra is not None and branch_beside_attention:
        h = h + extra
    out = h + block.ls_2(block.mlp(block.ln_2(h)))
    return out + extra if extra is not None and not branch_beside_attention else out


def grid_size(visual: VisionTransformer) -> tuple[int, int]:
    """The patch grid (H/P, W/P)."""
    return int(visual.grid_size[0]), int(visual.grid_size[1])
