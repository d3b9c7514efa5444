"""The interface every omnibench video model implements, on top of an open_clip CLIP."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import omnibench.compat  # noqa: F401  (before open_clip, which imports torchvision)

import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from torch import nn
from torch.utils.checkpoint import checkpoint

from omnibench.errors import OmniBenchError
from omnibench.models.text import FeatureCache, format_prompts
from omnibench.models.weights import WeightsInfo

TEXT_TOWER = (
    "transformer.",
    "token_embedding.",
    "positional_embedding",
    "ln_final.",
    "text_projection",
)


class VideoCLIPModel(nn.Module):
    """A CLIP-based video classifier: video (B, T, 3, H, W) and class names -> logits (B, C).

    Subclasses implement :meth:`frame_features` (and override :meth:`encode_video` /
    :meth:`forward` where they add temporal modules or video-specific prompts); they call
    :meth:`freeze_except` at the end of ``__init__`` so that only their declared trainable
    parameters have ``requires_grad``.
    """

    registry_name = "video_clip"
    backbone_name = ""
    # Weight decay on every trainable parameter (ViFi-CLIP's one AdamW group), instead of
    # exempting 1-D parameters, biases and embeddings (X-CLIP's groups).
    decay_every_parameter = False
    weights: WeightsInfo | None = (
        None  # set by build_model: weights source and the blocks' activation
    )
    component_labels: dict[
        str, str
    ] = {}  # added module (attribute name) -> label in FLOP breakdowns

    def __init__(self, clip: CLIP, tokenizer: Any, frames: int, template: str) -> None:
        super().__init__()
        if frames < 1:
            raise OmniBenchError(f"frames must be >= 1, got {frames}")
        self.clip = clip
        self.tokenizer = tokenizer
        self.frames = frames
        self.template = template
        format_prompts(template, ["x"])  # validate early
        self.image_size = int(clip.visual.image_size[0])
        self.embed_dim = int(clip.visual.output_dim)
        self.text_cache = FeatureCache()
        self.grad_checkpointing = False

    # -- parameters -------------------------------------------------------------------------
    def text_tower_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """CLIP's text tower parameters (names relative to the model)."""
        for name, param in self.clip.named_parameters():
            if name.startswith(TEXT_TOWER):
                yield f"clip.{name}", param

    def freeze_except(self, trainable: Sequence[str]) -> None:
        """``requires_grad`` only for parameters whose name starts with one of ``trainable``."""
        prefixes = tuple(trainable)
        for name, param in self.named_parameters():
            param.requires_grad_(name.startswith(prefixes))

    def new_parameter_names(self) -> set[str]:
        """Parameters of modules added on top of CLIP (the trainer may give them a larger LR)."""
        return set()

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in the backward pass to save memory."""
        self.grad_checkpointing = enable
        self.clip.set_grad_checkpointing(enable)

    def run_block(self, fn: Callable[..., torch.Tensor], *args: Any) -> torch.Tensor:
        """``fn(*args)``, checkpointed when gradient checkpointing is on and the model trains."""
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    # -- text -------------------------------------------------------------------------------
    def tokenize(self, classnames: Sequence[str]) -> torch.Tensor:
        """Token ids (C, context_length) of the filled-in template, on the model's device."""
        return self.tokenizer(format_prompts(self.template, classnames)).to(
            self.clip.logit_scale.device
        )

    def compute_text_features(self, classnames: Sequence[str]) -> torch.Tensor:
        """(C, E) text embeddings, computed now."""
        return self.clip.encode_text(self.tokenize(classnames))

    def text_is_trainable(self) -> bool:
        """Whether any parameter on the text path receives gradients."""
        return any(p.requires_grad for _, p in self.text_parameters())

    def text_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """Every parameter that :meth:`compute_text_features` depends on."""
        return self.text_tower_parameters()

    def encode_text(self, classnames: Sequence[str]) -> torch.Tensor:
        """(C, E) class embeddings; cached per class list unless they must carry gradients."""
        if self.text_is_trainable() and torch.is_grad_enabled():
            return self.compute_text_features(classnames)
        versions = tuple(p._version for _, p in self.text_parameters())
        key = (tuple(classnames), str(self.clip.logit_scale.device), versions)
        return self.text_cache.get(key, lambda: self.compute_text_features(classnames))

    # -- video ------------------------------------------------------------------------------
    def check_video(self, video: torch.Tensor) -> tuple[int, int]:
        """(B, T) of a (B, T, 3, S, S) clip at the model's resolution, else a one-line error."""
        if video.dim() != 5 or video.shape[2] != 3:
            raise OmniBenchError(
                f"expected video of shape (B, T, 3, H, W), got {tuple(video.shape)}"
            )
        if tuple(video.shape[-2:]) != (self.image_size, self.image_size):
            raise OmniBenchError(
                f"frames are {video.shape[-2]}x{video.shape[-1]} but {self.registry_name} on "
                f"'{self.backbone_name}' expects {self.image_size}x{self.image_size}; "
                "set data.input_size or model.options.input_size to match"
            )
        return video.shape[0], video.shape[1]

    def check_frame_count(self, video: torch.Tensor, why: str) -> tuple[int, int]:
        """:meth:`check_video`, plus exactly the ``frames`` the model was built for (``why`` says
        which module needs it)."""
        batch, frames = self.check_video(video)
        if frames != self.frames:
            raise OmniBenchError(
                f"{self.registry_name} was built for {self.frames} frames ({why}) but got {frames}"
            )
        return batch, frames

    def frame_features(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, E) per-frame embeddings before any temporal aggregation."""
        batch, frames = self.check_video(video)
        return self.clip.encode_image(video.flatten(0, 1)).view(batch, frames, -1)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """(B, E) video embeddings (default: the mean of the frame embeddings)."""
        return self.frame_features(video).mean(dim=1)

    def forward(self, video: torch.Tensor, classnames: Sequence[str]) -> torch.Tensor:
        """(B, C) logits: ``logit_scale.exp()`` × cosine(video, class text)."""
        return self.logits(self.encode_video(video), self.encode_text(classnames))

    def logits(self, video: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Scaled cosine similarity; ``text`` is (C, E) or video-specific (B, C, E)."""
        video = F.normalize(video, dim=-1)
        text = F.normalize(text.to(video.dtype), dim=-1)
        scale = self.clip.logit_scale.exp()
        if text.dim() == 3:
            return scale * torch.einsum("be,bce->bc", video, text)
        return scale * video @ text.t()
