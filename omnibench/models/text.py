"""Text side: prompt templates, the frozen-text feature cache, X-CLIP's video-specific prompts."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

import torch
from open_clip.transformer import QuickGELU
from torch import nn

from omnibench.errors import OmniBenchError
from omnibench.models.attention import (
    FeedForward,
    MultiHeadCrossAttention,
    default_heads,
    init_trunc_normal,
)


def format_prompts(template: str, classnames: Sequence[str]) -> list[str]:
    """``template`` filled with each class name (underscores read as spaces)."""
    if "{}" not in template:
        raise OmniBenchError(f"text template '{template}' has no '{{}}' for the class name")
    return [template.format(name.replace("_", " ")) for name in classnames]


class FeatureCache:
    """A small LRU cache of text features; a plain attribute, so never part of a state_dict.

    Keys include the ``_version`` counters of the text parameters: any in-place change
    (optimiser step, ``load_state_dict``) makes old entries unreachable.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, torch.Tensor] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The cached value for ``key``, computing (without autograd) and storing it if absent."""
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        with torch.no_grad():
            value = compute().detach()
        self.entries[key] = value
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Drop every entry."""
        self.entries.clear()


class PromptGeneratorLayer(nn.Module):
    """One block of X-CLIP Eq. 10: text queries attend to video tokens, then an FFN.

    As released: no biases in the q, k, v projections, QuickGELU in the FFN.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn = MultiHeadCrossAttention(
            dim, heads, what="prompt generator", qkv_bias=False
        )
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, activation=QuickGELU)

    def forward(self, text: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        text = text + self.cross_attn(self.norm1(text), video)
        return text + self.mlp(self.norm2(text))


class VideoSpecificPrompt(nn.Module):
    """X-CLIP's video-specific prompting (Eq. 10): ĉ = c + α·c̃, α a learnable vector (init 0.1).

    The video context z̄ is the last layer's patch tokens, layer-normed, projected to the
    joint space and averaged over time. Initialisation as released: the projection is drawn
    from N(0, 1), every other linear layer truncated-normal (std 0.02) with zero biases.
    """

    def __init__(
        self,
        dim: int,
        vision_width: int,
        layers: int = 2,
        alpha: float = 0.1,
        heads: int | None = None,
    ) -> None:
        super().__init__()
        self.visual_ln = nn.LayerNorm(vision_width)
        self.visual_proj = nn.Linear(vision_width, dim, bias=False)
        self.norm = nn.LayerNorm(dim)
        heads = heads or default_heads(dim)
        self.layers = nn.ModuleList(PromptGeneratorLayer(dim, heads) for _ in range(layers))
        self.alpha = nn.Parameter(torch.full((dim,), alpha))
        init_trunc_normal(self)
        nn.init.normal_(self.visual_proj.weight, std=1.0)

    def video_context(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, K, D) last-layer patch tokens -> (B, K, E) z̄ (projection after the time mean: it
        is linear)."""
        return self.visual_proj(self.visual_ln(tokens).mean(dim=1))

    def forward(self, text: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """(C, E) class embeddings and (B, K, E) video context -> (B, C, E) video-specific
        embeddings."""
        prompts = text.to(context.dtype).unsqueeze(0).expand(context.shape[0], -1, -1)
        video = self.norm(context)
        for layer in self.layers:
            prompts = layer(prompts, video)
        return text.unsqueeze(0) + self.alpha * prompts
