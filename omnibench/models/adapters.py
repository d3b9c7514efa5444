"""OmniCLIP's trainable modules: PTA (Eq. 3, 4, 7), the cascade adapter (Table 11), SPG (Eq. 6),
the optional prompt gate (omnibench's own extension, not in the paper) and the head (Eq. 5).

PTA and the cascade adapter start as identities (zero ``Up``). The SPG projector and the head
come in two forms (OmniCLIP's option chooses, default ``literal``): the literal forms, Eq. 6 and
5 as written, start at a random projection; the residual forms start as the pooled tokens and
the frame mean (see each docstring).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omnibench.errors import OmniBenchError
from omnibench.models.attention import FeedForward, MultiHeadSelfAttention, attend, check_heads

GATE_FLOOR = 1e-30  # exp(log(1e-30)) is 0 at float precision: a closed gate is exact


def bottleneck_width(width: int, ratio: float) -> int:
    """r·D of the Down projection (Table 8); must be a whole number."""
    hidden = width * ratio
    if hidden < 1 or abs(hidden - round(hidden)) > 1e-6:
        raise OmniBenchError(f"ratio {ratio} of width {width} is not a whole number of channels")
    return int(round(hidden))


class ParallelTemporalAdapter(nn.Module):
    """PTA = Up(Attn(Down(V))) with attention across the T frames at each token location (Eq. 7).

    Input: the frozen block's layer-normed tokens ln_1(V^{i-1}), (B, T, N, D): the block's
    attention and the PTA see the identical input and the normalisation is computed once (a
    separate affine LayerNorm would add nothing: Down absorbs any per-channel scale and shift).
    Every location (class token, patches, prompts) is one sequence of length T, so the
    attention is ONE batched call over (B·N, heads, T, d) (:func:`attend`: batched matmuls
    for T <= 32 on CUDA, SDPA otherwise). ``Up`` doubles as the attention's output projection (two
    linear maps in a row are one). ``Up`` is zero-initialised, so the adapter outputs zero until
    trained; ``alpha`` (Eq. 4) starts at 1 so that ``Up`` receives gradients from the first step.
    """

    def __init__(self, width: int, ratio: float, heads: int | None) -> None:
        super().__init__()
        hidden = bottleneck_width(width, ratio)
        self.heads = check_heads(
            hidden, heads or max(1, hidden // 64), f"pta_heads (r·D = {hidden})"
        )
        self.down = nn.Linear(width, hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.up = nn.Linear(hidden, width, bias=False)
        nn.init.zeros_(self.up.weight)
        self.alpha = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, N, D) -> (B, T, N, D)."""
        batch, frames, tokens, _ = x.shape
        h = self.qkv(self.down(x).transpose(1, 2))  # (B, N, T, 3·r·D)
        q, k, v = (
            h.flatten(0, 1).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4).unbind(0)
        )
        h = attend(q, k, v)  # (B·N, heads, T, d): one batched call over all locations
        h = h.unflatten(0, (batch, tokens)).permute(0, 3, 1, 2, 4).flatten(3)  # (B, T, N, r·D)
        return self.up(self.alpha * h)


class CascadeAdapter(nn.Module):
    """The ST-Adapter-like cascade variant (Table 11, Fig. 5a): Down -> depthwise 3-D conv over
    (T, H, W) -> Up, added to the patch tokens *before* the frozen block. Class token and
    prompts pass unchanged. Zero-initialised ``Up``: identity at init.
    """

    def __init__(self, width: int, ratio: float, grid: tuple[int, int]) -> None:
        super().__init__()
        hidden = bottleneck_width(width, ratio)
        self.grid = grid
        self.down = nn.Linear(width, hidden)
        self.conv = nn.Conv3d(hidden, hidden, kernel_size=3, padding=1, groups=hidden)
        self.up = nn.Linear(hidden, width)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.alpha = nn.Parameter(torch.ones(()))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, T, K, D) patch tokens -> the residual to add to them."""
        batch, frames, tokens, _ = patches.shape
        h = self.down(patches).permute(0, 3, 1, 2).unflatten(-1, self.grid)  # (B, r·D, T, H, W)
        h = self.conv(h).flatten(3).permute(0, 2, 3, 1)
        return self.alpha * self.up(h)


class SelfPromptGenerator(nn.Module):
    """SPG (Eq. 6): 2×2 pooling of a frame's patch grid -> K/4 tokens, then the Projector.

    ``form="literal"``: R = MLP(P) as Eq. 6 writes it, two D-wide layers at PyTorch's default
    initialisation. ``form="residual"``: R = P + MLP(P), P the pooled tokens, MLP two layers with a
    4D-wide hidden layer (CLIP's) and a zero-initialised output layer, so the prompts start as
    the pooled tokens, the low-resolution view of the frame, and the MLP learns to refine them.
    ``projector=False`` keeps P alone (Table 9's "Avg." / "Max." rows).
    """

    def __init__(
        self,
        width: int,
        grid: tuple[int, int],
        pooling: str,
        projector: bool,
        form: str,
    ) -> None:
        super().__init__()
        if min(grid) < 2:
            raise OmniBenchError(f"SPG needs a patch grid of at least 2x2, got {grid[0]}x{grid[1]}")
        self.grid = grid
        self.pooling = pooling
        self.residual = form == "residual"
        self.projector = FeedForward(width, ratio=4 if self.residual else 1) if projector else None
        if self.projector is not None and self.residual:
            last = self.projector[-1]
            assert isinstance(last, nn.Linear)  # FeedForward ends with its output Linear
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    @property
    def prompt_count(self) -> int:
        """K/4 (floor of each grid side halved)."""
        return (self.grid[0] // 2) * (self.grid[1] // 2)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, K, D) patch tokens -> (N, K/4, D) prompts."""
        grid = patches.transpose(1, 2).unflatten(-1, self.grid)  # (N, D, H, W)
        pool = F.avg_pool2d if self.pooling == "avg" else F.max_pool2d
        prompts = pool(grid, kernel_size=2).flatten(2).transpose(1, 2)
        if self.projector is None:
            return prompts
        return prompts + self.projector(prompts) if self.residual else self.projector(prompts)


class _LogGate(torch.autograd.Function):
    """log(g) as an attention-logit bias, differentiated with respect to g itself.

    Forward clamps g at :data:`GATE_FLOOR` (a closed gate). Backward returns dL/dbias / g,
    which is dL/dg: it stays finite at g = 0 because dL/dbias carries the factor g.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, gate: torch.Tensor) -> torch.Tensor:
        floored = gate.clamp_min(GATE_FLOOR)
        ctx.save_for_backward(floored)
        return floored.log()

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        # torch's FunctionCtx stub lacks it
        (floored,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return grad / floored


class PromptGate(nn.Module):
    """How much the frozen blocks' attention sees the SPG prompts: one gate per block and head.

    omnibench's own extension (option ``prompt_gate``, off by default): the paper concatenates
    the prompts to the tokens (§3.1), and concatenated prompt tokens enter the softmax of every
    frozen attention layer from the first step. With the gate, each head's logits for prompt
    keys get the bias log g (g >= 0): the attention is then (Z_A·o_A + g·Z_P·o_P) / (Z_A + g·Z_P),
    exactly frozen CLIP's at g = 0, with a finite gradient in g. The gates start closed (g = 0)
    and open at roughly the learning rate per step, so in short runs the prompts barely take
    part. The gradient of a closed gate is carried by attention weights of order 1e-30: fine in
    fp32 and bf16, but it underflows in fp16, where closed gates would stay closed.
    """

    def __init__(self, blocks: int, heads: int) -> None:
        super().__init__()
        self.gates = nn.Parameter(torch.zeros(blocks, heads))

    def biases(self, tokens: int, prompts: int) -> torch.Tensor:
        """Additive logit biases per key (blocks, heads, tokens + prompts): 0 for image tokens, log
        g for prompts."""
        log_gate = _LogGate.apply(self.gates)  # (blocks, heads)
        zeros = log_gate.new_zeros(*log_gate.shape, tokens)
        return torch.cat([zeros, log_gate[..., None].expand(-1, -1, prompts)], dim=-1)


class TemporalAttentionHead(nn.Module):
    """Eq. 5: one multi-head attention layer over the T frame embeddings, then the average.

    ``form="literal"``: Avg(MHA(F)) as Eq. 5 writes it, at PyTorch's default initialisation.
    ``form="residual"``: Avg(F + MHA(LN(F))) with a zero-initialised output projection, so at
    init the video embedding is the mean of the frame embeddings.
    """

    def __init__(self, dim: int, heads: int, form: str) -> None:
        super().__init__()
        self.residual = form == "residual"
        self.norm = nn.LayerNorm(dim) if self.residual else nn.Identity()
        self.attn = MultiHeadSelfAttention(dim, heads, what="head_heads")
        if self.residual:
            nn.init.zeros_(self.attn.out.weight)
            nn.init.zeros_(self.attn.out.bias)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, E) -> (B, E)."""
        attended = self.attn(self.norm(frames))
        return (frames + attended if self.residual else attended).mean(dim=1)
