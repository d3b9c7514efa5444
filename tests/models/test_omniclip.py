"""OmniCLIP: plain prompt concatenation (§3.1), identity at init without prompts or with the
optional gate, PTA mixes only along time, the literal SPG and head forms, every ablation switch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from omnibench.config.spec import ModelSpec, SpecError
from omnibench.errors import OmniBenchError
from omnibench.models import build_model
from omnibench.models.adapters import CascadeAdapter, ParallelTemporalAdapter

FRAMES = 4
CLASSES = ["run", "jump", "swim"]


def omniclip(backbone: str = "omnibench-tiny-vit", **options: object) -> torch.nn.Module:
    return build_model(
        ModelSpec(name="omniclip", backbone=backbone, pretrained=None, options=options),
        frames=FRAMES,
    )


def video(size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, FRAMES, 3, size, size, generator=torch.Generator().manual_seed(seed))


def frozen_frames(model: torch.nn.Module, clip: torch.Tensor) -> torch.Tensor:
    return model.clip.encode_image(clip.flatten(0, 1)).view(clip.shape[0], FRAMES, -1)


def block_inputs(
    model: torch.nn.Module, clip: torch.Tensor, layer: str = "ln_1"
) -> list[torch.Tensor]:
    """The input of ``layer`` in every frozen block during one forward."""
    seen: list[torch.Tensor] = []
    hooks = [
        getattr(block, layer).register_forward_hook(
            lambda m, args, out: seen.append(args[0].detach())
        )
        for block in model.clip.visual.transformer.resblocks
    ]
    with torch.no_grad():
        model.frame_features(clip)
    for hook in hooks:
        hook.remove()
    return seen


@pytest.mark.parametrize(
    "options",
    [
        {"use_spg": False},
        {"prompt_gate": True},
        {"prompt_gate": True, "prompt_source": "per_block"},
        {"prompt_gate": True, "use_pta": False},
        {"prompt_gate": True, "combination": "cascade"},
        {"use_spg": False, "combination": "attention_parallel"},
        {"use_spg": False, "combination": "cascade"},
        {"prompt_gate": True, "pooling": "max", "projector": False},
        {"use_spg": False, "ratio": 1.0},
    ],
    ids=str,
)
def test_untrained_frame_features_equal_frozen_clip_without_visible_prompts(options: dict) -> None:
    """Without SPG, or with the (optional, closed) gate, an untrained OmniCLIP is frozen CLIP (and
    its head, in the residual form, the frame mean)."""
    torch.manual_seed(0)
    model = omniclip(**options, head_form="residual").eval()
    clip = video()
    with torch.no_grad():
        torch.testing.assert_close(
            model.frame_features(clip), frozen_frames(model, clip), atol=1e-5, rtol=1e-5
        )
        # and the residual head starts as the frame mean
        torch.testing.assert_close(
            model.encode_video(clip), frozen_frames(model, clip).mean(1), atol=1e-5, rtol=1e-5
        )


def test_prompts_are_concatenated_and_seen_from_the_first_step_by_default() -> None:
    """§3.1: V^0 = Concat(V^0, R^0), no gate. The frozen blocks attend to the prompts at once, so an
    untrained OmniCLIP's class token already differs from frozen CLIP's; the gated variant's does
    not."""
    torch.manual_seed(0)
    model = omniclip().eval()
    assert model.prompt_gate is None and not model.options.prompt_gate
    clip = video()
    with torch.no_grad():
        assert (model.frame_features(clip) - frozen_frames(model, clip)).abs().max() > 1e-3
        gated = omniclip(prompt_gate=True).eval()
        gated.load_state_dict(model.state_dict(), strict=False)
        torch.testing.assert_close(
            gated.frame_features(clip), frozen_frames(model, clip), atol=1e-5, rtol=1e-5
        )


def test_each_identity_mechanism_matters() -> None:
    """Opening the gate, TE or an Up projection moves the features away from frozen CLIP."""
    clip = video()
    for perturb in (
        lambda m: m.prompt_gate.gates.fill_(1.0),
        lambda m: m.temporal_embedding.normal_(),
        lambda m: m.adapters["1"].up.weight.normal_(),
    ):
        torch.manual_seed(0)
        model = omniclip(prompt_gate=True).eval()
        with torch.no_grad():
            perturb(model)
            assert (model.frame_features(clip) - frozen_frames(model, clip)).abs().max() > 1e-3


def test_temporal_embedding_row_t_goes_to_frame_t() -> None:
    """Eq. 1: frame t's tokens get TE[t]. With T identical frames, frame t's feature is frozen
    CLIP's image feature computed with TE[t] added to its positional embedding (open_clip's own
    forward)."""
    torch.manual_seed(0)
    model = omniclip(use_spg=False).eval()
    frame = video()[:1, :1]
    visual = model.clip.visual
    with torch.no_grad():
        model.temporal_embedding.normal_()
        features = model.frame_features(frame.expand(1, FRAMES, -1, -1, -1))[0]
        position = visual.positional_embedding.clone()
        expected = []
        for t in range(FRAMES):
            visual.positional_embedding.copy_(position + model.temporal_embedding[t])
            expected.append(model.clip.encode_image(frame[0]))
        visual.positional_embedding.copy_(position)
    torch.testing.assert_close(features, torch.cat(expected), atol=1e-5, rtol=1e-5)
    assert (
        min((features[i] - features[j]).abs().max() for i in range(FRAMES) for j in range(i)) > 1e-2
    )


def test_closed_gate_has_a_finite_nonzero_gradient_and_adapters_learn_through_frozen_blocks() -> (
    None
):
    torch.manual_seed(0)
    model = omniclip(prompt_gate=True).train()
    model(video(), CLASSES).logsumexp(1).sum().backward()
    gate = model.prompt_gate.gates.grad
    assert torch.isfinite(gate).all() and gate.abs().sum() > 0
    assert model.adapters["1"].up.weight.grad.abs().sum() > 0  # reached through block 2 (frozen)
    assert model.temporal_embedding.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in model.clip.visual.parameters())


def test_ratio_sets_the_down_width() -> None:
    for ratio, width in ((0.125, 8), (0.25, 16), (0.5, 32), (1.0, 64)):
        adapter = omniclip(ratio=ratio).adapters["1"]
        assert adapter.down.out_features == width and adapter.up.in_features == width
    with pytest.raises(OmniBenchError, match="not a whole number"):
        omniclip(ratio=0.3)


def test_pta_blocks_place_adapters_only_there() -> None:
    model = omniclip(backbone="omnibench-small-vit", pta_blocks=[1, 2, 3])
    assert sorted(model.adapters) == ["1", "2", "3"]
    assert len(model.clip.visual.transformer.resblocks) == 4
    assert sorted(omniclip(backbone="omnibench-small-vit").adapters) == ["1", "2", "3", "4"]
    with pytest.raises(OmniBenchError, match=r"pta_blocks \[5\] outside 1..4"):
        omniclip(backbone="omnibench-small-vit", pta_blocks=[4, 5])


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_spg_pools_the_patch_grid(pooling: str) -> None:
    model = omniclip(pooling=pooling, projector=False)
    patches = torch.randn(3, 16, 64)
    grid = patches.transpose(1, 2).reshape(3, 64, 4, 4)
    expected = (
        (F.avg_pool2d if pooling == "avg" else F.max_pool2d)(grid, 2).flatten(2).transpose(1, 2)
    )
    torch.testing.assert_close(model.spg(patches), expected)
    assert model.spg.projector is None and omniclip().spg.projector is not None


def test_literal_spg_projector_is_a_two_layer_mlp_without_residual() -> None:
    """Eq. 6 as written (the default): R = MLP(Avg(V)), D-wide hidden layer; the residual form adds
    the pooled tokens back."""
    patches = torch.randn(3, 16, 64)
    pooled = (
        F.avg_pool2d(patches.transpose(1, 2).reshape(3, 64, 4, 4), 2).flatten(2).transpose(1, 2)
    )
    literal = omniclip().spg
    residual = omniclip(projector_form="residual").spg
    assert literal.projector[0].out_features == 64 and residual.projector[0].out_features == 256
    with torch.no_grad():
        torch.testing.assert_close(literal(patches), literal.projector(pooled))
        torch.testing.assert_close(residual(patches), pooled)  # zero-initialised refinement
        residual.projector[-1].weight.normal_()  # once trained: the refinement is added
        torch.testing.assert_close(residual(patches), pooled + residual.projector(pooled))
    with pytest.raises(SpecError, match="projector_form"):
        omniclip(projector_form="mlp")


def test_literal_head_is_the_average_of_one_attention_layer() -> None:
    """Eq. 5 as written (the default): F_V = Avg(MHA(F)), no norm, no residual; the residual form
    starts as the frame mean."""
    torch.manual_seed(0)
    frames = torch.randn(2, FRAMES, 32)
    literal = omniclip().head
    residual = omniclip(head_form="residual").head
    with torch.no_grad():
        torch.testing.assert_close(literal(frames), literal.attn(frames).mean(1))
        assert (literal(frames) - frames.mean(1)).abs().max() > 1e-3
        torch.testing.assert_close(residual(frames), frames.mean(1))
        residual.attn.out.weight.normal_()  # once trained: Avg(F + MHA(LN(F)))
        attended = residual.attn(residual.norm(frames))
        assert attended.abs().max() > 1e-3
        torch.testing.assert_close(residual(frames), (frames + attended).mean(1))
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in literal.modules())


def test_spg_adds_a_quarter_of_the_patches_to_every_block() -> None:
    clip = video()
    assert {x.shape[1] for x in block_inputs(omniclip(), clip)} == {1 + 16 + 4}
    assert {x.shape[1] for x in block_inputs(omniclip(use_spg=False), clip)} == {1 + 16}


def test_prompt_source_input_vs_per_block() -> None:
    for source, calls_expected in (("input", 1), ("per_block", 2)):
        model = omniclip(prompt_source=source)
        calls: list[int] = []
        # the hook runs within this iteration
        model.spg.register_forward_hook(lambda m, a, o: calls.append(1))  # noqa: B023
        with torch.no_grad():
            model.frame_features(video())
        assert len(calls) == calls_expected


def test_module_ablation_table7() -> None:
    for use_pta, use_spg in ((False, False), (True, False), (False, True), (True, True)):
        model = omniclip(use_pta=use_pta, use_spg=use_spg)
        assert (len(model.adapters) > 0) == use_pta
        assert (model.spg is not None) == use_spg and model.prompt_gate is None
        assert (
            omniclip(use_pta=use_pta, use_spg=use_spg, prompt_gate=True).prompt_gate is not None
        ) == use_spg
        assert model(video(), CLASSES).shape == (2, 3)


def _with_random_adapters(combination: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = omniclip(combination=combination, use_spg=False).eval()
    with torch.no_grad():
        for adapter in model.adapters.values():
            adapter.up.weight.normal_()
    return model


def test_combination_variants_wire_the_adapter_where_they_say() -> None:
    clip = video()
    torch.manual_seed(0)  # the same CLIP weights as _with_random_adapters
    plain = block_inputs(omniclip(use_spg=False, use_pta=False), clip, "ln_2")[0]
    block_parallel = _with_random_adapters("block_parallel")
    attention_parallel = _with_random_adapters("attention_parallel")
    cascade = _with_random_adapters("cascade")
    # block-parallel: the frozen block sees V^{i-1} untouched; the branch is added after it
    torch.testing.assert_close(block_inputs(block_parallel, clip, "ln_2")[0], plain)
    # attention-parallel: the branch joins before the block's MLP
    assert (block_inputs(attention_parallel, clip, "ln_2")[0] - plain).abs().max() > 1e-3
    # cascade: the adapter changes the block's input; no parallel temporal attention anywhere
    assert (
        block_inputs(cascade, clip, "ln_1")[0] - block_inputs(block_parallel, clip, "ln_1")[0]
    ).abs().max() > 1e-3
    assert all(isinstance(a, CascadeAdapter) for a in cascade.adapters.values())
    assert not any(isinstance(m, ParallelTemporalAdapter) for m in cascade.modules())
    conv = cascade.adapters["1"].conv
    assert conv.kernel_size == (3, 3, 3) and conv.groups == conv.in_channels == 16


def test_text_uses_the_paper_template_and_video_specific_prompts() -> None:
    model = omniclip()
    assert model.template == "A video of {} action"  # §3.1 as written: no full stop
    assert model.tokenize(["a"]).shape == (1, 77)
    assert omniclip(text_prompts=False).prompt_generator is None
    torch.testing.assert_close(model.prompt_generator.alpha, torch.full((32,), 0.1))
    assert len(model.prompt_generator.layers) == 2


def test_new_parameters_are_exactly_the_trainable_ones() -> None:
    model = omniclip()
    assert model.new_parameter_names() == {
        n for n, p in model.named_parameters() if p.requires_grad
    }


def test_a_cascade_adapter_adds_its_output_to_the_patches_of_its_block_only() -> None:
    """PTA in block 1 only (cascade): block 1's input is V^0 with adapter(patches) added to the
    patch tokens, class token untouched; block 2's input is not V^0 (block 1 saw the adapted
    tokens)."""
    torch.manual_seed(0)
    plain = omniclip(use_spg=False, use_pta=False).eval()
    torch.manual_seed(0)
    model = omniclip(use_spg=False, combination="cascade", pta_blocks=[1]).eval()
    with torch.no_grad():
        model.adapters["1"].up.weight.normal_()
    clip = video()
    v0 = block_inputs(plain, clip)[0]
    adapted = block_inputs(model, clip)
    patches = v0[:, 1:].unflatten(0, (2, FRAMES))
    with torch.no_grad():
        expected = patches + model.adapters["1"](patches)
    torch.testing.assert_close(adapted[0][:, :1], v0[:, :1])
    torch.testing.assert_close(adapted[0][:, 1:], expected.flatten(0, 1), atol=1e-5, rtol=1e-5)
    assert (expected - patches).abs().max() > 1e-2


def test_video_specific_prompts_read_every_patch_of_every_frame() -> None:
    """The prompt generator's context is the last layer's patch tokens (the class token left
    out): (videos, frames, 4 x 4 patches of a 32 px frame, width); without a generator the class
    texts are used as they are."""
    model = omniclip().eval()
    seen: list[torch.Tensor] = []
    context = model.prompt_generator.video_context
    model.prompt_generator.video_context = lambda tokens: seen.append(tokens) or context(tokens)
    clip = video()
    with torch.no_grad():
        prompted = model(clip, CLASSES)
        tokens = model.encode_tokens(clip)
        model.prompt_generator = None
        plain = model(clip, CLASSES)
    assert [tuple(t.shape) for t in seen] == [(2, FRAMES, 16, tokens.shape[-1])]
    torch.testing.assert_close(seen[0], tokens[:, 1:].unflatten(0, (2, FRAMES)))
    assert (prompted - plain).abs().max() > 1e-4


def test_a_video_of_other_frames_than_built_for_is_refused_naming_the_temporal_encoding() -> None:
    with pytest.raises(
        OmniBenchError, match=r"^omniclip was built for 4 frames \(temporal encoding\) but got 3$"
    ):
        omniclip().frame_features(video()[:, :3])
