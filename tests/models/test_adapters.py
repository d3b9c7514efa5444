"""OmniCLIP's adapters and attention kernels on their own: the parallel temporal adapter (PTA)
mixes along time only, in one batched call, linear in its values; the bottleneck width of Table 8;
the prompt gate's bias folded into a key channel; the matmul attention against SDPA."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from omnibench.errors import OmniBenchError
from omnibench.models.adapters import ParallelTemporalAdapter, bottleneck_width

FRAMES = 4


def test_pta_mixes_only_along_time() -> None:
    torch.manual_seed(0)
    pta = ParallelTemporalAdapter(width=16, ratio=0.5, heads=2)
    torch.nn.init.normal_(pta.up.weight)
    x = torch.randn(2, 5, 6, 16)
    moved = x.clone()
    moved[1, 2, 3] += torch.randn(16)  # batch 1, frame 2, location 3
    with torch.no_grad():
        change = (pta(moved) - pta(x)).abs().sum(dim=-1)  # (B, T, N)
    assert (change[1, :, 3] > 1e-6).all()  # every frame at that location
    change[1, :, 3] = 0
    assert change.max() < 1e-6  # nothing elsewhere


def test_pta_attention_is_one_batched_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import omnibench.models.adapters as adapters

    calls: list[tuple[int, ...]] = []
    real = adapters.attend

    def spy(q: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(q.shape))
        return real(q, *args)

    monkeypatch.setattr(adapters, "attend", spy)
    pta = ParallelTemporalAdapter(width=16, ratio=0.25, heads=1)
    pta(torch.randn(2, 5, 7, 16))
    assert calls == [(2 * 7, 1, 5, 4)]


@pytest.mark.parametrize("frames", [1, 8, 33])
def test_matmul_attention_equals_sdpa(frames: int) -> None:
    from omnibench.models.attention import matmul_attention

    torch.manual_seed(0)
    q, k, v = (torch.randn(6, 3, frames, 16, requires_grad=True) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v)
    expected_grads = torch.autograd.grad(expected.square().sum(), (q, k, v))
    out = matmul_attention(q, k, v)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    assert torch.allclose(out, expected, atol=1e-5)
    assert all(torch.allclose(g, e, atol=1e-4) for g, e in zip(grads, expected_grads))


def test_attend_takes_matmuls_only_for_short_sequences_on_cuda() -> None:
    from omnibench.models.attention import SHORT_SEQUENCE, uses_matmul

    few, many = torch.zeros(2, 1, SHORT_SEQUENCE, 4), torch.zeros(2, 1, SHORT_SEQUENCE + 1, 4)
    assert not uses_matmul(few, few)  # CPU: SDPA's fused kernel is faster there
    if torch.cuda.is_available():
        assert uses_matmul(few.cuda(), few.cuda()) and not uses_matmul(many.cuda(), many.cuda())


@pytest.mark.parametrize("gate", [0.0, 0.3, 2.0])
def test_key_bias_channel_equals_the_bias_mask(gate: float) -> None:
    """The prompt gate's bias folded into an extra q/k channel: same attention and gradients as the
    mask."""
    from omnibench.models.adapters import PromptGate
    from omnibench.models.attention import attend_with_key_bias

    torch.manual_seed(0)
    q, k, v = (torch.randn(5, 3, 11, 16, requires_grad=True) for _ in range(3))
    prompt_gate = PromptGate(blocks=1, heads=3)
    with torch.no_grad():
        prompt_gate.gates.fill_(gate)
    results = []
    for folded in (True, False):
        bias = prompt_gate.biases(tokens=7, prompts=4)[0]  # (heads, L)
        out = (
            attend_with_key_bias(q, k, v, bias)
            if folded
            else F.scaled_dot_product_attention(q, k, v, attn_mask=bias[:, None, :])
        )
        grads = torch.autograd.grad(out.square().sum(), (q, k, v, prompt_gate.gates))
        results.append((out, grads))
    (out, grads), (expected, expected_grads) = results
    assert out.shape == expected.shape and torch.allclose(out, expected, atol=1e-5)
    assert all(torch.allclose(g, e, rtol=1e-4, atol=1e-5) for g, e in zip(grads, expected_grads))
    if (
        gate == 0.0
    ):  # closed: exactly attention over the 7 image tokens, with a finite gate gradient
        assert torch.allclose(
            out, F.scaled_dot_product_attention(q, k[:, :, :7], v[:, :, :7]), atol=1e-6
        )
        assert torch.isfinite(grads[3]).all() and grads[3].abs().sum() > 0


def test_bottleneck_width_is_r_times_d_down_to_one_channel() -> None:
    """Table 8's r·D: 768 x 0.25 = 192; one channel is the narrowest (8 x 0.125); a fraction of a
    channel, or none, is refused."""
    assert bottleneck_width(768, 0.25) == 192 and bottleneck_width(8, 0.125) == 1
    for width, ratio in ((8, 0.0625), (10, 0.25)):
        with pytest.raises(OmniBenchError, match=f"ratio {ratio} of width {width} is not a whole"):
            bottleneck_width(width, ratio)


def test_pta_output_is_up_of_alpha_times_the_attended_values() -> None:
    """Attention is linear in its values (the weights come from queries and keys): doubling the
    value projection doubles the PTA's output Up(α · Attn(...)), as doubling α does."""
    torch.manual_seed(0)
    pta = ParallelTemporalAdapter(16, 0.5, None)
    x = torch.randn(2, FRAMES, 5, 16)
    with torch.no_grad():
        pta.up.weight.normal_()
        out = pta(x)
        pta.alpha.fill_(2.0)
        torch.testing.assert_close(pta(x), 2 * out)
        pta.alpha.fill_(1.0)
        values = slice(2 * pta.qkv.out_features // 3, None)  # q, k, v in this order
        pta.qkv.weight[values] *= 2
        pta.qkv.bias[values] *= 2
        torch.testing.assert_close(pta(x), 2 * out)
    assert out.abs().max() > 1e-2
