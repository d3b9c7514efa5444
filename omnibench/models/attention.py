"""Attention layers written for omnibench (new modules only; CLIP's blocks are reused).

Every layer makes exactly one batched attention call: ``F.scaled_dot_product_attention``
(fvcore counts its matmuls through the handle in :mod:`omnibench.engine.flops`), or, for short
sequences on CUDA (:func:`attend`), two batched matmuls, which fvcore counts as the same number.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omnibench.errors import OmniBenchError


def check_heads(dim: int, heads: int, what: str) -> int:
    """``heads`` if it divides ``dim``, else a one-line error naming the setting."""
    if heads < 1 or dim % heads:
        raise OmniBenchError(f"{what}: {heads} heads do not divide width {dim}")
    return heads


def default_heads(dim: int) -> int:
    """CLIP's convention of 64-wide heads (at least one head; must divide ``dim``)."""
    heads = max(1, dim // 64)
    while dim % heads:
        heads -= 1
    return heads


SHORT_SEQUENCE = 32  # up to this many keys, attend() on CUDA uses plain batched matmuls


def matmul_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d) v over (..., L, d) as two batched matmuls and a softmax (one call
    each)."""
    scores = torch.matmul(q * q.shape[-1] ** -0.5, k.transpose(-2, -1))
    return torch.matmul(scores.softmax(dim=-1), v)


def uses_matmul(q: torch.Tensor, k: torch.Tensor) -> bool:
    """Whether :func:`attend` takes the batched-matmul path: CUDA and at most ``SHORT_SEQUENCE``
    keys (never under tracing, so that a FLOP count files the matmuls under attention on every
    device)."""
    return q.is_cuda and k.shape[-2] <= SHORT_SEQUENCE and not torch.jit.is_tracing()


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d) v over (..., L, d): batched matmuls for short sequences on CUDA, else
    SDPA.

    Attention over a few frames (PTA: T <= 32 keys at every token location) is almost no
    arithmetic, and a fused GPU kernel costs more than it: on an H100, bf16, ViT-B/16 at
    batch 32, SDPA's cuDNN kernel took 0.38 ms per PTA block, and avoiding it saved ~3 ms per
    training step. On CPU, SDPA's fused kernel is the faster one (forward + backward over
    (B·N, 3, 8, 64) on one thread: 36 ms against 49 ms for the matmuls), so CPU keeps it.
    """
    return (
        matmul_attention(q, k, v) if uses_matmul(q, k) else F.scaled_dot_product_attention(q, k, v)
    )


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, L, D) -> (N, heads, L, D / heads)."""
    return x.unflatten(-1, (heads, -1)).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(N, heads, L, d) -> (N, L, heads * d)."""
    return x.transpose(1, 2).flatten(2)


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over the second axis of (N, L, D): fused qkv, one SDPA call, output
    projection."""

    def __init__(self, dim: int, heads: int, what: str = "attention") -> None:
        super().__init__()
        self.heads = check_heads(dim, heads, what)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(x).chunk(3, dim=-1))
        return self.out(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class MultiHeadCrossAttention(nn.Module):
    """Queries from ``x`` (N, Lq, D), keys and values from ``context`` (N, Lk, D).

    ``qkv_bias=False`` drops the biases of the q, k and v projections (X-CLIP's prompt
    generator has none); the output projection always has one.
    """

    def __init__(
        self, dim: int, heads: int, what: str = "cross-attention", qkv_bias: bool = True
    ) -> None:
        super().__init__()
        self.heads = check_heads(dim, heads, what)
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q = split_heads(self.q(x), self.heads)
        k, v = (split_heads(t, self.heads) for t in self.kv(context).chunk(2, dim=-1))
        return self.out(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class FeedForward(nn.Sequential):
    """CLIP's MLP: Linear(D, r·D) -> activation -> Linear(r·D, D); ``ratio`` r may be a fraction
    (r·D whole)."""

    def __init__(self, dim: int, ratio: float = 4, activation: type[nn.Module] = nn.GELU) -> None:
        hidden = int(round(ratio * dim))
        super().__init__(nn.Linear(dim, hidden), activation(), nn.Linear(hidden, dim))


def block_attention(
    attn: nn.MultiheadAttention, x: torch.Tensor, key_bias: torch.Tensor | None = None
) -> torch.Tensor:
    """A (frozen) open_clip block's ``nn.MultiheadAttention`` weights applied through one SDPA call.

    ``key_bias`` (heads, L) is an additive logit bias per head and key (e.g. the SPG prompt gate).
    """
    q, k, v = (
        split_heads(t, attn.num_heads)
        for t in F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, -1)
    )
    out = (
        F.scaled_dot_product_attention(q, k, v)
        if key_bias is None
        else attend_with_key_bias(q, k, v, key_bias)
    )
    return attn.out_proj(merge_heads(out))


KEY_BIAS_CHANNELS = (
    8  # the bias channel, padded: fused SDPA kernels want head dims in multiples of 8
)


def attend_with_key_bias(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_bias: torch.Tensor
) -> torch.Tensor:
    """softmax(q kᵀ / √d + b) v over (N, heads, L, d) with a per-key bias ``b`` (heads, L),
    mask-free.

    The bias rides in an extra channel: q' = [q, 1, 0…], k' = [k, b·√d, 0…], so that
    q' k'ᵀ / √d = q kᵀ / √d + b exactly. A float mask that needs a gradient rules out SDPA's
    flash and cuDNN kernels on GPUs and makes autograd reduce a full (N, heads, L, L) bias
    gradient; here the gradient of b is that of one key channel. On a 2-core CPU, fp32,
    OmniCLIP ViT-B/16, 8 frames, batch 2 at 224 px: training step 8.9 s against 11.0 s with
    the mask, inference 4.0 s against 4.5 s (no difference at 112 px). Under tracing (fvcore's
    FLOP count) the mask form runs, so counts stay the model's arithmetic.
    """
    bias = key_bias.to(q.dtype)
    if torch.jit.is_tracing():
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias[:, None, :])
    scale = q.shape[-1] ** -0.5
    lead = q.shape[:-1]
    zeros = q.new_zeros(*lead, KEY_BIAS_CHANNELS - 1)
    q = torch.cat([q, q.new_ones(*lead, 1), zeros], dim=-1)
    k = torch.cat(
        [k, (bias / scale)[None, :, :, None].expand(k.shape[0], -1, -1, 1), zeros], dim=-1
    )
    v = torch.cat([v, v.new_zeros(*v.shape[:-1], KEY_BIAS_CHANNELS)], dim=-1)
    return F.scaled_dot_product_attention(q, k, v, scale=scale)[..., :-KEY_BIAS_CHANNELS]


def init_trunc_normal(module: nn.Module, std: float = 0.02) -> None:
    """Truncated-normal weights and zero biases for every ``nn.Linear`` in ``module`` (X-CLIP's
    init)."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.trunc_normal_(layer.weight, std=std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def init_as_torch_multihead(attn: MultiHeadSelfAttention) -> None:
    """The initialisation ``nn.MultiheadAttention`` gives its weights, applied to ``attn``.

    Xavier-uniform fused q/k/v weight (3D, D) and zero biases; the output projection keeps
    ``nn.Linear``'s own initialisation with a zero bias.
    """
    nn.init.xavier_uniform_(attn.qkv.weight)
    nn.init.zeros_(attn.qkv.bias)
    attn.out.reset_parameters()
    nn.init.zeros_(attn.out.bias)
