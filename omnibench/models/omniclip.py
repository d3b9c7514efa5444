"""OmniCLIP (Liu, Li, Yu; §3): frozen CLIP ViT blocks + temporal encoding (Eq. 1), self-prompt
generator (Eq. 6), parallel temporal adapters (Eq. 3, 4, 7), an attention head (Eq. 5) and
X-CLIP-style video-specific text prompts. Defaults are the paper's best settings (Tables 7-11);
docs/FIDELITY.md lists every choice against the paper.

Design choices the paper leaves open, documented here:

* ``prompt_source``: Eq. 6 writes R^i = Projector(Avg(V^i)), but §3.1 generates R^0 = SPG(V^0)
  once and concatenates it to the input. The default ``"input"`` follows §3.1 (prompts made
  once, then carried through the blocks like any token); ``"per_block"`` regenerates them
  from every block's input with the same SPG, replacing the previous ones.
* The prompts are concatenated to the tokens (§3.1) and take part in every frozen attention
  from the first step. ``prompt_gate`` (omnibench's own extension, off by default) hides them
  behind a learnable per-block, per-head gate that starts closed
  (:class:`~omnibench.models.adapters.PromptGate`).
* TE is zero and every adapter's Up projection is zero, so an untrained OmniCLIP without SPG
  (or with the closed gate) has frozen CLIP's frame features.
* ``projector_form`` / ``head_form``: ``"literal"`` (default; Eq. 6 and 5 as written, random
  at init) or ``"residual"`` (the pooled tokens plus a zero-initialised MLP; the frame mean plus
  a zero-initialised attention, so the untrained head is CLIP's frame mean), see
  :class:`~omnibench.models.adapters.SelfPromptGenerator` and
  :class:`~omnibench.models.adapters.TemporalAttentionHead`.
* SSv2 runs use a fixed classifier (§4.1): OmniCLIP's SSv2 defaults turn ``text_prompts`` off.
* TE is added with PE before ``ln_pre``; SPG pools the ``ln_pre`` output (the blocks' input V^0).
* Prompts are dropped before the class token is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

import torch
from open_clip.model import CLIP
from torch import nn

from omnibench.errors import OmniBenchError
from omnibench.models.adapters import (
    CascadeAdapter,
    ParallelTemporalAdapter,
    PromptGate,
    SelfPromptGenerator,
    TemporalAttentionHead,
)
from omnibench.models.attention import default_heads
from omnibench.models.base import VideoCLIPModel
from omnibench.models.omniclip_config import OmniCLIPOptions
from omnibench.models.text import VideoSpecificPrompt
from omnibench.models.vision import block_forward, class_embedding_out, embed_patches, grid_size

TRAINABLE = (
    "temporal_embedding",
    "adapters.",
    "spg.",
    "prompt_gate.",
    "head.",
    "prompt_generator.",
)


def adapter_blocks(chosen: Sequence[int] | None, blocks: int) -> tuple[int, ...]:
    """1-based block indices carrying an adapter, checked against the backbone's depth."""
    if chosen is None:
        return tuple(range(1, blocks + 1))
    bad = [i for i in chosen if not 1 <= i <= blocks]
    if bad:
        raise OmniBenchError(
            f"model.options.pta_blocks {list(bad)} outside 1..{blocks} (the backbone's blocks)"
        )
    return tuple(sorted(set(chosen)))


class OmniCLIP(VideoCLIPModel):
    """OmniCLIP's video encoder on a frozen open_clip ViT; trainable: TE, SPG (+ the optional gate),
    PTAs and α, head, text prompt generator."""

    component_labels = {
        "adapters": "PTA (temporal adapters)",
        "spg": "SPG (self-prompt generator)",
        "head": "head (Eq. 5)",
        "prompt_generator": "video-specific text prompts",
    }

    def __init__(self, clip: CLIP, tokenizer: Any, frames: int, options: OmniCLIPOptions) -> None:
        super().__init__(clip, tokenizer, frames, options.template)
        self.options = options
        visual = clip.visual
        width, depth = visual.transformer.width, len(visual.transformer.resblocks)
        self.temporal_embedding = nn.Parameter(torch.zeros(frames, width))
        self.adapters = nn.ModuleDict(
            {
                str(i): self._make_adapter(width, grid_size(visual))
                for i in adapter_blocks(options.pta_blocks, depth)
            }
            if options.use_pta
            else {}
        )
        self.spg, self.prompt_gate = None, None
        if options.use_spg:
            self.spg = SelfPromptGenerator(
                width, grid_size(visual), options.pooling, options.projector, options.projector_form
            )
            if options.prompt_gate:
                self.prompt_gate = PromptGate(depth, visual.transformer.resblocks[0].attn.num_heads)
        heads = options.head_heads or default_heads(self.embed_dim)
        self.head = TemporalAttentionHead(self.embed_dim, heads, options.head_form)
        self.prompt_generator = (
            VideoSpecificPrompt(self.embed_dim, width, options.prompt_layers, options.prompt_alpha)
            if options.text_prompts
            else None
        )
        self.freeze_except(TRAINABLE)

    def _make_adapter(self, width: int, grid: tuple[int, int]) -> nn.Module:
        if self.options.combination == "cascade":
            return CascadeAdapter(width, self.options.ratio, grid)
        return ParallelTemporalAdapter(width, self.options.ratio, self.options.pta_heads)

    def new_parameter_names(self) -> set[str]:
        return {name for name, _ in self.named_parameters() if name.startswith(TRAINABLE)}

    # -- video encoder ----------------------------------------------------------------------
    def encode_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) -> last-layer (B·T, 1 + K, D) class and patch tokens (prompts
        dropped)."""
        batch, frames = self.check_frame_count(video, "temporal encoding")
        visual = self.clip.visual
        x = embed_patches(visual, video.flatten(0, 1)).unflatten(0, (batch, frames))
        x = visual.ln_pre((x + self.temporal_embedding[:, None].to(x.dtype)).flatten(0, 1))  # Eq. 1
        tokens = x.shape[1]
        biases = None
        if self.spg is not None:
            x = torch.cat([x, self.spg(x[:, 1:])], dim=1)  # §3.1: V^0 = Concat(V^0, R^0)
            if self.prompt_gate is not None:
                biases = self.prompt_gate.biases(tokens, x.shape[1] - tokens)
        for index, block in enumerate(visual.transformer.resblocks):
            bias = None if biases is None else biases[index]
            x = self.run_block(self._block, index, block, x, bias, batch, tokens)
        return x[:, :tokens]

    def _block(
        self,
        index: int,
        block: nn.Module,
        x: torch.Tensor,
        bias: torch.Tensor | None,
        batch: int,
        tokens: int,
    ) -> torch.Tensor:
        """V^i from V^{i-1} (Eq. 2-4, or the Table 11 variant)."""
        if self.spg is not None and index > 0 and self.options.prompt_source == "per_block":
            x = torch.cat([x[:, :tokens], self.spg(x[:, 1:tokens])], dim=1)
        adapter = self.adapters[str(index + 1)] if str(index + 1) in self.adapters else None
        if adapter is None:
            return block_forward(block, x, bias)
        if self.options.combination == "cascade":
            patches = x[:, 1:tokens]
            patches = patches + adapter(patches.unflatten(0, (batch, -1))).flatten(0, 1)
            return block_forward(block, torch.cat([x[:, :1], patches, x[:, tokens:]], dim=1), bias)
        return block_forward(
            block,
            x,
            bias,
            branch=lambda normed: adapter(normed.unflatten(0, (batch, -1))).flatten(0, 1),
            branch_beside_attention=self.options.combination == "attention_parallel",
        )

    def frame_features(self, video: torch.Tensor) -> torch.Tensor:
        return class_embedding_out(self.clip.visual, self.encode_tokens(video)).unflatten(
            0, (video.shape[0], -1)
        )

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.frame_features(video))

    def forward(self, video: torch.Tensor, classnames: Sequence[str]) -> torch.Tensor:
        tokens = self.encode_tokens(video)
        frames = class_embedding_out(self.clip.visual, tokens).unflatten(0, (video.shape[0], -1))
        text = self.encode_text(classnames)
        if self.prompt_generator is not None:
            context = self.prompt_generator.video_context(
                tokens[:, 1:].unflatten(0, (video.shape[0], -1))
            )
            text = self.prompt_generator(text, context)
        return self.logits(self.head(frames), text)
