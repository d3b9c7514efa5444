"""X-CLIP (Ni et al., §3.2-3.3): cross-frame communication transformer, multi-frame integration
transformer and video-specific prompting, on an open_clip ViT.

Each CLIP block becomes a cross-frame attention block (Eq. 7-9): a message token per frame
(a linear map of the class token), cross-frame fusion attention over the T message tokens,
intra-frame diffusion attention over the frame's tokens plus its message token with the
block's pretrained attention weights, the message token dropped before the block's FFN.
The text tower and ``logit_scale`` are frozen (the official ``FIX_TEXT``) and the text
features cached. The MIT and prompt-generator FFNs use QuickGELU, and every new module is
initialised as the released code leaves it (see each class).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

import torch
from open_clip.model import CLIP
from open_clip.transformer import QuickGELU, ResidualAttentionBlock
from torch import nn

from omnibench.models.attention import (
    FeedForward,
    MultiHeadSelfAttention,
    block_attention,
    default_heads,
    init_as_torch_multihead,
    init_trunc_normal,
)
from omnibench.models.base import VideoCLIPModel
from omnibench.models.text import VideoSpecificPrompt
from omnibench.models.vision import class_embedding_out, embed_patches
from omnibench.models.xclip_config import XCLIPOptions

NEW_MODULES = ("messages.", "mit.", "prompts_generator.")


class MessageToken(nn.Module):
    """Eq. 7: m_t = fc(class token of frame t); M̂ = M + CFA(LN(M)) over the T frames.

    Initialised as released: PyTorch's defaults (``nn.Linear`` for ``fc``, ``nn.MultiheadAttention``
    for the attention).
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.ln = nn.LayerNorm(width)
        self.attn = MultiHeadSelfAttention(width, heads, what="message attention")
        init_as_torch_multihead(self.attn)

    def forward(self, cls: torch.Tensor) -> torch.Tensor:
        """(B, T, D) class tokens -> (B, T, D) message tokens."""
        message = self.fc(cls)
        return message + self.attn(self.ln(message))


class IntegrationBlock(nn.Module):
    """A pre-norm transformer block (self-attention + QuickGELU FFN) of the MIT.

    Initialised as released: truncated-normal (std 0.02) linear layers with zero biases, except
    the fused q/k/v weight, which keeps ``nn.MultiheadAttention``'s Xavier-uniform draw.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, what="MIT")
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, activation=QuickGELU)
        init_trunc_normal(self)
        nn.init.xavier_uniform_(self.attn.qkv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class MultiFrameIntegration(nn.Module):
    """Eq. 6: v = AvgPool(MIT(H + e_temp)); as released, MIT's output is added back to H."""

    def __init__(self, frames: int, dim: int, layers: int) -> None:
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.empty(frames, dim))
        nn.init.trunc_normal_(self.positional_embedding, std=0.02)
        self.blocks = nn.Sequential(
            *(IntegrationBlock(dim, default_heads(dim)) for _ in range(layers))
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, E) frame embeddings -> (B, E)."""
        return (self.blocks(frames + self.positional_embedding) + frames).mean(dim=1)


class XCLIP(VideoCLIPModel):
    """X-CLIP on an open_clip ViT; everything but the text tower and ``logit_scale`` is
    fine-tuned."""

    component_labels = {
        "messages": "cross-frame communication (message tokens)",
        "mit": "MIT (multi-frame integration)",
        "prompts_generator": "video-specific text prompts",
    }

    def __init__(self, clip: CLIP, tokenizer: Any, frames: int, options: XCLIPOptions) -> None:
        super().__init__(clip, tokenizer, frames, options.template)
        visual = clip.visual
        width = visual.transformer.width
        self.messages = nn.ModuleList(
            MessageToken(width, block.attn.num_heads) for block in visual.transformer.resblocks
        )
        self.mit = MultiFrameIntegration(frames, self.embed_dim, options.mit_layers)
        self.prompts_generator = VideoSpecificPrompt(
            self.embed_dim, width, options.prompt_layers, options.prompt_alpha
        )
        self.freeze_except(("clip.visual.", *NEW_MODULES))

    def new_parameter_names(self) -> set[str]:
        return {name for name, _ in self.named_parameters() if name.startswith(NEW_MODULES)}

    def encode_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) -> last-layer (B·T, 1 + K, D) tokens of the cross-frame transformer."""
        batch, frames = self.check_frame_count(video, "MIT position embedding")
        visual = self.clip.visual
        x = visual.ln_pre(embed_patches(visual, video.flatten(0, 1)))
        for block, message in zip(visual.transformer.resblocks, self.messages):
            x = self.run_block(self._block, block, message, x, batch)
        return x

    @staticmethod
    def _block(
        block: ResidualAttentionBlock, message: MessageToken, x: torch.Tensor, batch: int
    ) -> torch.Tensor:
        """Cross-frame attention block (Eq. 7-9) with the CLIP block's own IFA and FFN weights."""
        messages = message(x[:, 0].unflatten(0, (batch, -1))).flatten(0, 1)
        x = torch.cat([x, messages[:, None]], dim=1)
        x = (x + block.ls_1(block_attention(block.attn, block.ln_1(x))))[
            :, :-1
        ]  # Eq. 8, drop the message
        return x + block.ls_2(block.mlp(block.ln_2(x)))  # Eq. 9

    def frame_features(self, video: torch.Tensor) -> torch.Tensor:
        return class_embedding_out(self.clip.visual, self.encode_tokens(video)).unflatten(
            0, (video.shape[0], -1)
        )

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        return self.mit(self.frame_features(video))

    def forward(self, video: torch.Tensor, classnames: Sequence[str]) -> torch.Tensor:
        tokens = self.encode_tokens(video)
        frames = class_embedding_out(self.clip.visual, tokens).unflatten(0, (video.shape[0], -1))
        context = self.prompts_generator.video_context(
            tokens[:, 1:].unflatten(0, (video.shape[0], -1))
        )
        text = self.prompts_generator(self.encode_text(classnames), context)
        return self.logits(self.mit(frames), text)
