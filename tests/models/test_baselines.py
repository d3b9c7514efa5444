"""X-CLIP, ViFi-CLIP and VL prompting build the structures their papers describe."""

from __future__ import annotations

import math

import pytest
import torch

from omnibench.config.spec import ModelSpec
from omnibench.errors import OmniBenchError
from omnibench.models import build_model

FRAMES = 4
CLASSES = ["run", "jump"]


def tiny(name: str, **options: object) -> torch.nn.Module:
    spec = ModelSpec(name=name, backbone="omnibench-tiny-vit", pretrained=None, options=options)
    return build_model(spec, frames=FRAMES)


def video(size: int = 32) -> torch.Tensor:
    return torch.randn(2, FRAMES, 3, size, size, generator=torch.Generator().manual_seed(0))


def layer_inputs(model: torch.nn.Module, layer: str) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    hooks = [
        getattr(block, layer).register_forward_hook(
            lambda m, a, o: shapes.append(tuple(a[0].shape))
        )
        for block in model.clip.visual.transformer.resblocks
    ]
    with torch.no_grad():
        model.frame_features(video())
    for hook in hooks:
        hook.remove()
    return shapes


def test_xclip_message_token_joins_attention_and_leaves_before_the_ffn() -> None:
    model = tiny("xclip")
    assert (
        layer_inputs(model, "ln_1") == [(2 * FRAMES, 17 + 1, 64)] * 2
    )  # frame tokens + message token
    assert (
        layer_inputs(model, "ln_2") == [(2 * FRAMES, 17, 64)] * 2
    )  # message dropped before the FFN


def test_xclip_messages_cross_frames_and_frames_stay_separate_without_them() -> None:
    model = tiny("xclip").eval()
    clip, moved = video(), video().clone()
    moved[0, 0] += 1.0
    with torch.no_grad():
        change = (model.frame_features(moved) - model.frame_features(clip)).abs().sum(-1)
        assert (change[0, 1:] > 1e-6).all() and (
            change[1] < 1e-6
        ).all()  # other frames of the same video only
        for message in model.messages:
            torch.nn.init.zeros_(message.fc.weight), torch.nn.init.zeros_(message.fc.bias)
            (
                torch.nn.init.zeros_(message.attn.out.weight),
                torch.nn.init.zeros_(message.attn.out.bias),
            )
        change = (model.frame_features(moved) - model.frame_features(clip)).abs().sum(-1)
    assert (change[0, 1:] < 1e-6).all()


def test_xclip_new_modules_and_settings() -> None:
    model = tiny("xclip")
    new = model.new_parameter_names()
    assert new and all(name.startswith(("messages.", "mit.", "prompts_generator.")) for name in new)
    assert {
        n for n, p in model.named_parameters() if p.requires_grad and not n.startswith("clip.")
    } == new
    assert (
        model.template == "{}"
        and len(model.mit.blocks) == 1
        and len(model.prompts_generator.layers) == 2
    )
    torch.testing.assert_close(model.prompts_generator.alpha, torch.full((32,), 0.1))
    assert model.mit.positional_embedding.shape == (FRAMES, 32)
    with pytest.raises(OmniBenchError, match="built for 4 frames"):
        model(torch.zeros(1, 3, 3, 32, 32), CLASSES)


def test_xclip_mit_and_prompt_generator_use_quick_gelu_and_no_qkv_biases() -> None:
    """The released MIT and prompt-generator FFNs use QuickGELU; its cross-attention q/k/v have no
    bias."""
    from open_clip.transformer import QuickGELU  # after omnibench.models (its torchvision step)

    model = tiny("xclip")
    for block in model.mit.blocks:
        assert type(block.mlp[1]) is QuickGELU
    for layer in model.prompts_generator.layers:
        assert type(layer.mlp[1]) is QuickGELU
        assert layer.cross_attn.q.bias is None and layer.cross_attn.kv.bias is None
        assert layer.cross_attn.out.bias is not None
    assert not any(
        isinstance(m, torch.nn.GELU)
        for m in (*model.mit.modules(), *model.prompts_generator.modules())
    )
    assert not model.clip.logit_scale.requires_grad  # frozen, as released


def test_xclip_new_modules_start_as_released() -> None:
    """Message layers keep PyTorch's defaults, the prompt projection is N(0, 1), the MIT and prompt
    generator layers truncated-normal (std 0.02) except the MIT's fused q/k/v (Xavier)."""
    torch.manual_seed(0)
    model = tiny("xclip")
    width, dim = 64, 32  # the tiny config's vision width and embedding size
    message = model.messages[0]
    bound = 1 / math.sqrt(width)  # nn.Linear's default: U(±1/sqrt(fan_in)) for weight and bias
    assert message.fc.weight.abs().max() <= bound
    assert message.fc.weight.detach().std().item() == pytest.approx(bound / math.sqrt(3), rel=0.06)
    assert message.fc.bias.abs().max() > bound / 2  # a default bias, not zero
    xavier = math.sqrt(6 / (width + 3 * width))  # nn.MultiheadAttention's fused (3D, D) weight
    assert message.attn.qkv.weight.abs().max() <= xavier
    assert message.attn.qkv.weight.detach().std().item() == pytest.approx(
        xavier / math.sqrt(3), rel=0.06
    )
    assert (message.attn.qkv.bias == 0).all() and (message.attn.out.bias == 0).all()
    assert message.attn.out.weight.detach().std().item() == pytest.approx(
        bound / math.sqrt(3), rel=0.06
    )
    assert model.prompts_generator.visual_proj.weight.detach().std().item() == pytest.approx(
        1.0, rel=0.06
    )
    mit = model.mit.blocks[0]
    assert mit.attn.qkv.weight.detach().std().item() == pytest.approx(
        math.sqrt(6 / (4 * dim)) / math.sqrt(3), rel=0.06
    )
    for linear in (
        mit.attn.out,
        mit.mlp[0],
        mit.mlp[2],
        model.prompts_generator.layers[0].cross_attn.q,
        model.prompts_generator.layers[0].mlp[0],
    ):
        assert linear.weight.detach().std().item() == pytest.approx(0.02, rel=0.12)


def test_xclip_prompts_make_text_video_specific() -> None:
    model = tiny("xclip").eval()
    with torch.no_grad():
        tokens = model.encode_tokens(video())
        context = model.prompts_generator.video_context(tokens[:, 1:].unflatten(0, (2, -1)))
        text = model.prompts_generator(model.encode_text(CLASSES), context)
    assert context.shape == (2, 16, 32) and text.shape == (2, 2, 32)
    assert (text[0] - text[1]).abs().max() > 1e-6


@pytest.mark.parametrize(
    ("tune", "visual", "text"),
    [("both", True, True), ("image", True, False), ("text", False, True)],
)
def test_vificlip_variants_tune_the_named_encoders(tune: str, visual: bool, text: bool) -> None:
    model = tiny("vificlip", tune=tune)
    assert all(p.requires_grad == visual for p in model.clip.visual.parameters())
    assert all(p.requires_grad == text for p in model.clip.transformer.parameters())
    # As released: the token embedding stays fixed; the temperature learns only with both encoders.
    assert not model.clip.token_embedding.weight.requires_grad
    assert (
        model.clip.logit_scale.requires_grad == (tune == "both")
        and model.template == "a photo of a {}."
    )
    clip = video()
    with torch.no_grad():
        frames = model.clip.encode_image(clip.flatten(0, 1)).view(2, FRAMES, -1)
        torch.testing.assert_close(model.encode_video(clip), frames.mean(1))


def test_vl_prompting_deep_vision_prompts() -> None:
    model = tiny("vl_prompt", vision_tokens=3, vision_depth=2, text_tokens=5, text_depth=1)
    assert model.vision_prompts.shape == (2, 3, 64) and model.text_prompts.shape == (1, 5, 32)
    assert layer_inputs(model, "ln_1") == [(2 * FRAMES, 17 + 3, 64)] * 2
    seen: list[torch.Tensor] = []
    block = model.clip.visual.transformer.resblocks[1]
    hook = block.register_forward_hook(lambda m, a, o: seen.append(a[0][:, -3:].detach()))
    with torch.no_grad():
        model.frame_features(video())
    hook.remove()
    torch.testing.assert_close(
        seen[0][0], model.vision_prompts[1].detach()
    )  # replaced before block 2
    with pytest.raises(OmniBenchError, match="vision_depth 5 exceeds"):
        tiny("vl_prompt", vision_depth=5)


@pytest.mark.parametrize("tokens", [1, 2, 4])
def test_vl_prompting_text_context_starts_from_a_photo_of_a_up_to_four_tokens(tokens: int) -> None:
    """Released behaviour: <= 4 text tokens start as the first words of "a photo of a", whose other
    words stay in the prompt as fixed text; more tokens start random behind "X" placeholders."""
    model = tiny("vl_prompt", text_tokens=tokens)
    words = model.tokenizer(["a photo of a"])[0, 1:5]
    with torch.no_grad():
        torch.testing.assert_close(
            model.text_prompts[0], model.clip.token_embedding(words[:tokens])
        )
    assert model.tokenize(["run"])[0].tolist() == model.tokenizer(["a photo of a run."])[0].tolist()


def test_vl_prompting_text_context_random_beyond_four_tokens_or_without_words() -> None:
    for options in ({"text_tokens": 5}, {"text_tokens": 3, "ctx_init": ""}):
        model = tiny("vl_prompt", **options)
        placeholders = " ".join(["X"] * options["text_tokens"])
        assert (
            model.tokenize(["run"])[0].tolist()
            == model.tokenizer([f"{placeholders} run."])[0].tolist()
        )
        assert model.text_prompts[0].std().item() == pytest.approx(0.02, rel=0.3)
    with pytest.raises(
        OmniBenchError, match="ctx_init 'a photo' has 2 tokens, fewer than text_tokens 4"
    ):
        tiny("vl_prompt", text_tokens=4, ctx_init="a photo")


def test_vl_prompting_deep_text_prompts_change_the_text() -> None:
    model = tiny("vl_prompt", text_tokens=4)
    changed = tiny("vl_prompt", text_tokens=4)
    changed.load_state_dict(model.state_dict())
    with torch.no_grad():
        before = changed.encode_text(CLASSES)
        changed.text_prompts[1].add_(
            torch.randn(4, 32)
        )  # a deep prompt (layer 2) changes the text features
        assert (changed.encode_text(CLASSES) - before).abs().max() > 1e-4
