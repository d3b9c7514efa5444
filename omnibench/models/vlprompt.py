"""ViFi-CLIP's vision-language prompting (§5, "bridge and prompt"): learnable deep prompts in
both towers, everything else frozen; frame embeddings are averaged over time.

Vision: ``vision_tokens`` prompt tokens are appended after the positional embeddings (before
``ln_pre``) and replaced by fresh learnable ones before each of the first ``vision_depth``
blocks. Text: the first ``text_tokens`` positions after the start token hold learnable
context vectors, likewise replaced before each of the first ``text_depth`` blocks.
As in the released code, with ``text_tokens`` <= 4 the first-layer text context starts as the
word embeddings of the first ``text_tokens`` tokens of ``ctx_init`` ("a photo of a"), and the
rest of ``ctx_init`` stays in the prompt as fixed words ("a photo" learnable, "of a" fixed
for 2 tokens); with more tokens the context is random (std 0.02) behind "X" placeholders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

import torch
from open_clip.model import CLIP
from torch import nn

from omnibench.errors import OmniBenchError
from omnibench.models.base import VideoCLIPModel
from omnibench.models.text import format_prompts
from omnibench.models.vision import class_embedding_out, embed_patches
from omnibench.models.vlprompt_config import CTX_INIT_MAX_TOKENS, VLPromptOptions


def _depth(depth: int | None, layers: int, key: str) -> int:
    if depth is None:
        return layers
    if depth > layers:
        raise OmniBenchError(f"model.options.{key} {depth} exceeds the backbone's {layers} layers")
    return depth


class VLPrompting(VideoCLIPModel):
    """Independent deep vision and text prompts on a frozen CLIP; frame-mean video embedding."""

    decay_every_parameter = True  # ViFi-CLIP's optimiser: one group

    def __init__(self, clip: CLIP, tokenizer: Any, frames: int, options: VLPromptOptions) -> None:
        super().__init__(clip, tokenizer, frames, options.template)
        vision_layers = len(clip.visual.transformer.resblocks)
        text_layers = len(clip.transformer.resblocks)
        self.vision_depth = _depth(options.vision_depth, vision_layers, "vision_depth")
        self.text_depth = _depth(options.text_depth, text_layers, "text_depth")
        self.n_vision, self.n_text = options.vision_tokens, options.text_tokens
        width_v, width_t = clip.visual.transformer.width, clip.transformer.width
        self.vision_prompts = nn.Parameter(
            torch.randn(self.vision_depth, self.n_vision, width_v) * 0.02
        )
        self.text_prompts = nn.Parameter(torch.randn(self.text_depth, self.n_text, width_t) * 0.02)
        self.prefix = " ".join(["X"] * self.n_text)
        if options.ctx_init and self.n_text <= CTX_INIT_MAX_TOKENS:
            self._init_context(options.ctx_init)
        self.freeze_except(("vision_prompts", "text_prompts"))

    def _init_context(self, ctx_init: str) -> None:
        """The first ``n_text`` word embeddings of ``ctx_init``; the prompt keeps its remaining
        words."""
        ids = self.tokenizer([ctx_init])[0]
        words = ids[1 : int(ids.argmax())]  # between the start and end tokens
        if len(words) < self.n_text:
            raise OmniBenchError(
                f"model.options.ctx_init '{ctx_init}' has {len(words)} tokens, fewer than "
                f"text_tokens {self.n_text}; give more words or set ctx_init to ''"
            )
        with torch.no_grad():
            self.text_prompts[0].copy_(self.clip.token_embedding(words[: self.n_text]))
        self.prefix = ctx_init.replace("_", " ")

    def text_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        yield from self.text_tower_parameters()
        yield "text_prompts", self.text_prompts

    def new_parameter_names(self) -> set[str]:
        return {"vision_prompts", "text_prompts"}

    def tokenize(self, classnames: Sequence[str]) -> torch.Tensor:
        prompts = [f"{self.prefix} {text}" for text in format_prompts(self.template, classnames)]
        return self.tokenizer(prompts).to(self.text_prompts.device)

    def compute_text_features(self, classnames: Sequence[str]) -> torch.Tensor:
        clip, tokens = self.clip, self.tokenize(classnames)
        x = clip.token_embedding(tokens) + clip.positional_embedding
        for index, block in enumerate(clip.transformer.resblocks):
            if (
                index < self.text_depth
            ):  # positions 1..n hold this layer's context (input layer: + PE)
                context = self.text_prompts[index]
                if index == 0:
                    context = context + clip.positional_embedding[1 : 1 + self.n_text]
                context = context.to(x.dtype)
                x = torch.cat(
                    [x[:, :1], context.expand(x.shape[0], -1, -1), x[:, 1 + self.n_text :]], dim=1
                )
            x = self.run_block(block, x, None, None, clip.attn_mask)
        x = clip.ln_final(x)[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        return x @ clip.text_projection

    def frame_features(self, video: torch.Tensor) -> torch.Tensor:
        batch, _ = self.check_video(video)
        visual = self.clip.visual
        x = embed_patches(visual, video.flatten(0, 1))
        prompts = self.vision_prompts.to(x.dtype)
        x = visual.ln_pre(torch.cat([x, prompts[0].expand(x.shape[0], -1, -1)], dim=1))
        for index, block in enumerate(visual.transformer.resblocks):
            if 0 < index < self.vision_depth:
                x = torch.cat(
                    [x[:, : -self.n_vision], prompts[index].expand(x.shape[0], -1, -1)], dim=1
                )
            x = self.run_block(block, x)
        return class_embedding_out(visual, x).unflatten(0, (batch, -1))
